/**
 * Vigil's whole configuration file (JSON): the gateway part (workers, webrtc,
 * ingest, cameras; see @vigil/gateway) plus signaling's own keys (http, auth,
 * limits, log, demo). Every key has a default except camera details, so an
 * empty file `{}` is valid.
 */
import { hostname } from 'node:os';
import { Type, type Static } from '@sinclair/typebox';
import { ClusterPipeConfigSchema, GatewayConfigSchema } from '@vigil/gateway';
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
    /**
     * Load balancers / reverse proxies (IPs or CIDRs, e.g. `10.0.0.0/8`) whose
     * `X-Forwarded-For` is believed: the client address used for per-address
     * limits, audit and logs is then the one they pass. Empty (default): the
     * socket's peer address, the header is ignored. See server/src/http/client-address.ts.
     */
    trustedProxies: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { default: [], maxItems: 100 }),
    /** Serve HTTPS and WSS (TLS, RFC 8446) with this PEM certificate chain and private key. Absent: plain HTTP. */
    tls: Type.Optional(
      Type.Object(
        {
          certFile: Type.String({ minLength: 1, maxLength: 4096 }),
          keyFile: Type.String({ minLength: 1, maxLength: 4096 }),
        },
        { additionalProperties: false },
      ),
    ),
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
    /**
     * Longest token lifetime accepted, seconds: a token whose `exp` lies
     * further than this (+ clock tolerance) beyond now is refused. Default 4 h.
     */
    maxTokenLifetimeSec: Type.Integer({ minimum: 60, maximum: 30 * 86_400, default: 4 * 3600 }),
    /**
     * RS256/ES256: verification keys as a JWK Set (RFC 7517 §5), from a file or
     * an http(s) URL, selected by the token's `kid`. Instead of publicKeyFile.
     */
    jwks: Type.Optional(
      Type.Object(
        {
          file: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
          /** https://... (plain http only to a loopback host: anyone on the path could swap the keys). */
          url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, pattern: '^https?://' })),
          /**
           * Fewest seconds between two refetches triggered by an unknown `kid`
           * (rotation); at least 5, so made-up kids cannot hammer the identity provider.
           */
          minRefetchIntervalSec: Type.Integer({ minimum: 5, maximum: 3600, default: 30 }),
          /** Keys older than this are refetched before use, seconds. */
          maxAgeSec: Type.Integer({ minimum: 10, maximum: 86_400, default: 600 }),
          /** URL fetch timeout, ms. */
          timeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 5000 }),
        },
        { additionalProperties: false },
      ),
    ),
    /**
     * Named camera scopes a token's `groups` claim can grant (scope entries as
     * in the `cameras` claim). A group not listed here grants nothing.
     */
    groups: Type.Record(Type.String({ pattern: '^[A-Za-z0-9._:-]{1,64}$' }), Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 256 }), {
      default: {},
      maxProperties: 1024,
    }),
  },
  { additionalProperties: false, default: {} },
);

export const LimitsConfigSchema = Type.Object(
  {
    /** Receive transports one WebSocket connection may hold. */
    maxTransportsPerConnection: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
    /** Consumers one WebSocket connection may hold (a wall of feeds). */
    maxConsumersPerConnection: Type.Integer({ minimum: 1, maximum: 1024, default: 64 }),
    /** Open WebSocket connections from one client address (IPv6: per /64); more get HTTP 429 at upgrade. */
    maxConnectionsPerIp: Type.Integer({ minimum: 1, maximum: 100_000, default: 64 }),
    /** Requests one connection may have queued unanswered; more close the connection (1008). */
    maxPendingRequests: Type.Integer({ minimum: 1, maximum: 1024, default: 32 }),
    /** WebSocket ping interval, ms (RFC 6455 §5.5.2); a peer that has not answered the previous ping is dropped. */
    pingIntervalMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000 }),
    /** A connection that has not joined within this time is closed (1008), ms. */
    joinTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  },
  { additionalProperties: false, default: {} },
);

/** A token bucket: up to `burst` at once, refilled at `perSec` per second. */
const Bucket = (burst: number, perSec: number) =>
  Type.Object(
    {
      burst: Type.Integer({ minimum: 1, maximum: 100_000, default: burst }),
      perSec: Type.Number({ minimum: 0.001, maximum: 100_000, default: perSec }),
    },
    { additionalProperties: false, default: {} },
  );

/**
 * Rate limits (token buckets) on `join` (and `refresh`) and `consume`, per
 * client address (IPv6: per /64) and per token subject. Refusals: `rate_limited`.
 */
export const RateLimitsConfigSchema = Type.Object(
  {
    joinPerIp: Bucket(60, 2),
    joinPerSubject: Bucket(20, 0.5),
    consumePerIp: Bucket(200, 20),
    consumePerSubject: Bucket(100, 10),
    /**
     * New viewings (audit trail rows) per subject: a consume that starts
     * watching a camera, not one that continues a viewing (quality switch,
     * re-subscribe within 10 s). Bounds the audit growth one viewer can cause
     * (default: a wall of 128 at once, then 12 a minute).
     */
    viewingsPerSubject: Bucket(128, 0.2),
  },
  { additionalProperties: false, default: {} },
);

export const RevocationsConfigSchema = Type.Object(
  {
    /** Where the deny list of revoked token ids and subjects is kept (JSON, written atomically). */
    file: Type.String({ minLength: 1, maxLength: 4096, default: '.vigil/revocations.json' }),
  },
  { additionalProperties: false, default: {} },
);

/**
 * TURN servers handed to joined viewers, with time-limited credentials after
 * the TURN REST API convention coturn implements (`use-auth-secret`):
 * username `<expiry unix s>:<subject>`, credential base64(HMAC-SHA1(secret, username)).
 */
export const TurnConfigSchema = Type.Object(
  {
    /** TURN URIs (RFC 7065), e.g. `turn:turn.example:3478?transport=udp`, `turns:turn.example:5349`. */
    urls: Type.Array(Type.String({ minLength: 6, maxLength: 512, pattern: '^turns?:' }), { minItems: 1, maxItems: 16 }),
    /** coturn's `static-auth-secret`. */
    secret: Type.String({ minLength: 16, maxLength: 4096 }),
    /** Credential lifetime, s. */
    ttlSec: Type.Integer({ minimum: 60, maximum: 86_400, default: 3600 }),
  },
  { additionalProperties: false },
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

/**
 * Cluster mode (absent: one node, no external service). Every node reads the
 * same config file (cameras included) and coordinates through one Redis.
 */
export const ClusterConfigSchema = Type.Object(
  {
    /** `redis://[user:password@]host:port[/db]` or `rediss://`; the password is never logged. */
    redisUrl: Type.String({ minLength: 8, maxLength: 2048, pattern: '^rediss?://', description: 'a redis:// or rediss:// URL' }),
    /** This node's id in the registry, unique in the cluster. Default: the host name. */
    nodeId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'letters, digits, ".", "_" and "-" only', default: hostname().slice(0, 64) || 'vigil' }),
    /** Address other nodes reach this node at (pipe transports, internal calls): an IP, not a name. */
    announcedAddress: Type.String({ minLength: 2, maxLength: 45 }),
    /** How often this node writes its heartbeat and load to the registry, ms. */
    heartbeatMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 1000 }),
    /** A node whose heartbeat is older than this is dead, ms (> heartbeatMs). */
    nodeTimeoutMs: Type.Integer({ minimum: 300, maximum: 300_000, default: 3000 }),
    /** Pipe transports between nodes (cameras pulled from their origin): listen IP, UDP port range. */
    pipe: ClusterPipeConfigSchema,
  },
  { additionalProperties: false },
);

export const VigilConfigSchema = Type.Composite(
  [
    GatewayConfigSchema,
    Type.Object({
      http: HttpConfigSchema,
      auth: AuthConfigSchema,
      limits: LimitsConfigSchema,
      rateLimits: RateLimitsConfigSchema,
      revocations: RevocationsConfigSchema,
      turn: Type.Optional(TurnConfigSchema),
      demo: DemoConfigSchema,
      admin: AdminConfigSchema,
      log: LogConfigSchema,
      metrics: MetricsConfigSchema,
      audit: AuditConfigSchema,
      shutdown: ShutdownConfigSchema,
      cluster: Type.Optional(ClusterConfigSchema),
    }),
  ],
  { additionalProperties: false },
);

export type VigilConfig = Static<typeof VigilConfigSchema>;
export type AuthConfig = Static<typeof AuthConfigSchema>;
export type RateLimitsConfig = Static<typeof RateLimitsConfigSchema>;
export type TurnConfig = Static<typeof TurnConfigSchema>;
export type ClusterConfig = Static<typeof ClusterConfigSchema>;
export type LogLevel = VigilConfig['log']['level'];
