/**
 * Config keys for observability and oversight (`metrics`, `audit`,
 * `shutdown`), kept apart from the main schema; every key has a default.
 */
import { Type } from '@sinclair/typebox';

export const MetricsConfigSchema = Type.Object(
  {
    /** Serve Prometheus metrics at GET /metrics on the HTTP port. */
    enabled: Type.Boolean({ default: true }),
    /**
     * When set, GET /metrics requires `Authorization: Bearer <bearerToken>`
     * (Prometheus scrape config `authorization.credentials`). /metrics names
     * every camera, its viewers and which cameras nobody watches, so without
     * it /metrics is served only on a loopback `http.host` or on the separate
     * `listen` address; on any other address it is refused (401).
     */
    bearerToken: Type.Optional(Type.String({ minLength: 32, maxLength: 4096 })),
    /**
     * Serve /metrics on its own listener (e.g. an internal interface)
     * instead of the viewer HTTP port. Port 0: any free port.
     */
    listen: Type.Optional(
      Type.Object(
        {
          host: Type.String({ minLength: 1, maxLength: 253, default: '127.0.0.1' }),
          port: Type.Integer({ minimum: 0, maximum: 65535 }),
        },
        { additionalProperties: false },
      ),
    ),
    /**
     * A live camera nobody has watched for longer than this counts as
     * unwatched (`vigil_cameras_unwatched`), s. Default 5 minutes.
     */
    unwatchedAfterSec: Type.Integer({ minimum: 1, maximum: 7 * 86_400, default: 300 }),
    /** Producer stats requests in flight at once per scrape (mediasoup worker IPC). */
    statsConcurrency: Type.Integer({ minimum: 1, maximum: 1024, default: 32 }),
    /**
     * Time budget for refreshing camera stats within one scrape, ms. Cameras
     * not reached keep their previous values and are served first next scrape.
     */
    statsBudgetMs: Type.Integer({ minimum: 50, maximum: 30_000, default: 2000 }),
    /** Cameras whose RTP is traced at once to measure ingest frame rate. */
    fpsSampleCameras: Type.Integer({ minimum: 0, maximum: 256, default: 8 }),
    /** Length of one frame-rate sampling window, ms. */
    fpsSampleWindowMs: Type.Integer({ minimum: 200, maximum: 10_000, default: 1000 }),
  },
  { additionalProperties: false, default: {} },
);

export const AuditConfigSchema = Type.Object(
  {
    /** Record every viewing in the audit trail. */
    enabled: Type.Boolean({ default: true }),
    /** SQLite file (relative to the working directory); `:memory:` keeps nothing. */
    path: Type.String({ minLength: 1, maxLength: 4096, default: '.vigil/audit.sqlite' }),
    /**
     * How often the process writes "still alive" to the store, s. After a
     * crash, viewings left open are closed as `unknown` at the last heartbeat,
     * so their end time is at most this late.
     */
    heartbeatSec: Type.Integer({ minimum: 1, maximum: 3600, default: 5 }),
    /** Viewings that ended longer ago than this are deleted (daily), days; 0 keeps everything. */
    retentionDays: Type.Integer({ minimum: 0, maximum: 36_500, default: 400 }),
    /**
     * Size bound of the store, MB (10^6 bytes): above it the oldest ended
     * viewings are deleted (checked every minute); 0: no bound. Default 2 GB.
     */
    maxSizeMb: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 2000 }),
    /**
     * Writes that may wait while the store cannot be written (database down,
     * file locked); they are written in order when it returns. Beyond this,
     * new writes are dropped and counted (`vigil_audit_write_errors_total`).
     */
    queueMax: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
    /**
     * The cluster's shared audit trail in PostgreSQL instead of `path`: every
     * node writes its viewings there, and the audit queries, the CSV export,
     * /admin/v1/oversight and the coverage gauges answer for the whole cluster.
     */
    postgres: Type.Optional(
      Type.Object(
        {
          /** libpq connection URI, e.g. `postgresql://vigil:secret@db:5432/vigil` (never logged). */
          url: Type.String({ minLength: 1, maxLength: 4096, pattern: '^postgres(ql)?://', description: 'a postgresql:// connection URI' }),
          /**
           * This node's name in the audit trail. Set a stable one (e.g. the
           * host name) so a restarted node closes its own leftovers at once;
           * default: `cluster.nodeId` when the node is in a cluster, else host
           * name, pid and a random suffix (a new node each run).
           */
          nodeId: Type.Optional(
            Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$', description: 'letters, digits, ".", "_", ":" and "-" only' }),
          ),
          /**
           * A node whose heartbeat (every `audit.heartbeatSec`) is older than
           * this is taken for dead: another node closes its open viewings as
           * `unknown`, s. Keep it a few heartbeats long.
           */
          nodeTimeoutSec: Type.Integer({ minimum: 2, maximum: 3600, default: 15 }),
          /** How often oversight reads every node's open viewings, ms. */
          pollMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 1000 }),
          /** Give up one connection attempt after this long (the write waits in the queue), ms. */
          connectTimeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 2000 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, default: {} },
);

export const ShutdownConfigSchema = Type.Object(
  {
    /**
     * After SIGTERM, /readyz answers 503 and new viewers are refused for this
     * long while joined viewers keep playing (lets a load balancer notice), ms.
     */
    drainDelayMs: Type.Integer({ minimum: 0, maximum: 300_000, default: 0 }),
    /** Wait for viewers' sockets to close before cutting them, ms. */
    socketGraceMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 2000 }),
    /** Hard bound: the process exits (code 1) if shutdown takes longer, ms. */
    timeoutMs: Type.Integer({ minimum: 1000, maximum: 600_000, default: 10_000 }),
  },
  { additionalProperties: false, default: {} },
);
