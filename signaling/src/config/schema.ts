/**
 * Vigil's whole configuration file (JSON): the gateway part (workers, webrtc,
 * ingest, cameras; see @vigil/gateway) plus signaling's own keys (http, auth,
 * limits, log, demo). Every key has a default except camera details, so an
 * empty file `{}` is valid.
 */
import { Type, type Static } from '@sinclair/typebox';
import { GatewayConfigSchema } from '@vigil/gateway';
import { AuditConfigSchema, MetricsConfigSchema, ShutdownConfigSchema } from './observability.ts';

export const HttpConfigSchema = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', minLength: 1, maxLength: 253 }),
    /** TCP port for HTTP + WebSocket; 0 = any free port. */
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    /**
     * Origins (scheme://host[:port]) allowed to open the signaling WebSocket, in
     * addition to the server's own origin. Browsers always send Origin; a
     * missing Origin (non-browser client) is allowed.
     */
    allowedOrigins: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { default: [], maxItems: 100 }),
  },
  { additionalProperties: false, default: {} },
);

export const AuthConfigSchema = Type.Object(
  {
    /** The one JWT algorithm accepted (RFC 7518 §3.1); anything else, `none` included, is refused. */
    algorithm: Type.Union([Type.Literal('HS256'), Type.Literal('RS256'), Type.Literal('ES256')], { default: 'HS256' }),
    /** HS256 shared secret (>= 32 chars). Absent: a random one per process (demo only). */
    secret: Type.Optional(Type.String({ minLength: 32, maxLength: 4096 })),
    /** RS256/ES256: path to the PEM public key that verifies viewer tokens. */
    publicKeyFile: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    /** Required `iss` claim. */
    issuer: Type.String({ default: 'vigil', minLength: 1, maxLength: 256 }),
    /** Required `aud` claim. */
    audience: Type.String({ default: 'vigil-viewer', minLength: 1, maxLength: 256 }),
    /** Allowed clock skew for exp/nbf, seconds. */
    clockToleranceSec: Type.Integer({ minimum: 0, maximum: 300, default: 5 }),
  },
  { additionalProperties: false, default: {} },
);

export const LimitsConfigSchema = Type.Object(
  {
    /** Receive transports one WebSocket connection may hold. */
    maxTransportsPerConnection: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
    /** Consumers one WebSocket connection may hold (a wall of feeds). */
    maxConsumersPerConnection: Type.Integer({ minimum: 1, maximum: 1024, default: 64 }),
  },
  { additionalProperties: false, default: {} },
);

export const DemoConfigSchema = Type.Object(
  {
    /** Print a demo page URL and a viewer token at start (HS256 only). */
    enabled: Type.Boolean({ default: true }),
    /** Lifetime of the printed demo token, s. */
    tokenTtlSec: Type.Integer({ minimum: 60, maximum: 86_400, default: 1800 }),
  },
  { additionalProperties: false, default: {} },
);

export const AdminConfigSchema = Type.Object(
  {
    /**
     * Bearer credential for the admin HTTP API (`Authorization: Bearer <apiKey>`),
     * separate from viewer tokens. Absent: the admin API is disabled (404).
     */
    apiKey: Type.Optional(Type.String({ minLength: 32, maxLength: 4096 })),
  },
  { additionalProperties: false, default: {} },
);

export const LogConfigSchema = Type.Object(
  {
    level: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const VigilConfigSchema = Type.Composite(
  [
    GatewayConfigSchema,
    Type.Object({
      http: HttpConfigSchema,
      auth: AuthConfigSchema,
      limits: LimitsConfigSchema,
      demo: DemoConfigSchema,
      admin: AdminConfigSchema,
      log: LogConfigSchema,
      metrics: MetricsConfigSchema,
      audit: AuditConfigSchema,
      shutdown: ShutdownConfigSchema,
    }),
  ],
  { additionalProperties: false },
);

export type VigilConfig = Static<typeof VigilConfigSchema>;
export type AuthConfig = Static<typeof AuthConfigSchema>;
export type LogLevel = VigilConfig['log']['level'];
