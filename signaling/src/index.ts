/** @vigil/signaling: HTTP + WebSocket signaling, viewer auth, composition root. */
export { startVigil, type Vigil } from './vigil.ts';
export { loadConfig, parseConfig, ConfigError } from './config/load.ts';
export { VigilConfigSchema, type VigilConfig } from './config/schema.ts';
export { TokenVerifier, signViewerToken, type ViewerGrant } from './auth/tokens.ts';
export { compileScope, ScopeError, type Scope } from './auth/scope.ts';
export { AccessControl } from './auth/access-control.ts';
export { DenyList, type DenyEntry } from './auth/deny-list.ts';
export { JwksKeySource } from './auth/jwks.ts';
export { turnCredentials } from './turn/credentials.ts';
export { metricsAccess, registerMetricsRoute, type MetricsAccess } from './metrics/metrics-route.ts';
export { createLogger, REDACT_PATHS } from './log/logger.ts';
export { isOriginAllowed } from './ws/origin.ts';
export { SessionObserver, type SessionObserverEvents, type SessionEndReason, type ConsumerEndReason } from './session/observer.ts';
