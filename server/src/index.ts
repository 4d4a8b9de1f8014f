/** @vigil/server: the Vigil server (composition root, signaling, auth, admin, audit, oversight, metrics). */
export { startVigil, type Vigil } from './vigil.ts';
export { loadConfig, parseConfig, ConfigError } from './config/load.ts';
export { VigilConfigSchema, type VigilConfig } from './config/schema.ts';
export { TokenVerifier, signViewerToken, type ViewerGrant } from './auth/tokens.ts';
export { compileScope, ScopeError, type Scope } from './auth/scope.ts';
export { AccessControl } from './auth/access-control.ts';
export { DenyList, type DenyEntry } from './auth/deny-list.ts';
export { JwksKeySource } from './auth/jwks.ts';
export { turnCredentials } from './auth/turn-credentials.ts';
export { metricsAccess, registerMetricsRoute, type MetricsAccess } from './metrics/metrics-route.ts';
export { createLogger, REDACT_PATHS } from './log/logger.ts';
export { isOriginAllowed } from './signaling/origin.ts';
export { SessionObserver, type SessionObserverEvents, type SessionEndReason, type ConsumerEndReason } from './signaling/session-observer.ts';
