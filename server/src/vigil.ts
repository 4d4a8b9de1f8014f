/**
 * Composition root: one process running the media side (the media API on
 * this node's mediasoup workers and cameras) and the server side (HTTP,
 * WebSocket signaling, admin API, audit trail, oversight, metrics), wired
 * from one config. Every part is started in dependency order and owned by one
 * {@link Lifecycle}, so a failed start and a shutdown close the same parts in
 * the same (reverse) order, each exactly once.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import fastify, { type FastifyInstance } from 'fastify';
import { ClusterMedia, LocalMedia, type MediaApi, type ReconcileResult } from '@vigil/gateway';
import { SIGNALING_PATH } from '@vigil/protocol';
import { loadConfig } from './config/load.ts';
import { TokenVerifier } from './auth/tokens.ts';
import { StaticKeySource, type KeySource } from './auth/keys.ts';
import { JwksKeySource } from './auth/jwks.ts';
import { DenyList } from './auth/deny-list.ts';
import { AccessControl } from './auth/access-control.ts';
import type { VigilConfig } from './config/schema.ts';
import { buildHttpApp } from './http/app.ts';
import { adminApi } from './admin/admin-api.ts';
import { SignalingServer } from './signaling/signaling-server.ts';
import { registerOriginProbe } from './signaling/origin.ts';
import { SessionObserver } from './signaling/session-observer.ts';
import type { AuditStore } from './audit/audit-store.ts';
import { SqliteAuditStore } from './audit/sqlite-audit-store.ts';
import { PgAuditStore } from './audit/pg-audit-store.ts';
import { AuditRecorder } from './audit/audit-recorder.ts';
import { Oversight } from './oversight/oversight.ts';
import { LocalWatch } from './oversight/local-watch.ts';
import { ClusterWatch } from './oversight/cluster-watch.ts';
import { VigilMetrics } from './metrics/vigil-metrics.ts';
import { metricsAccess, registerMetricsRoute } from './metrics/metrics-route.ts';
import { Readiness } from './http/readiness.ts';
import { startOwned, type Lifecycle } from './lifecycle.ts';
import { connectClusterRedis, waitForRedis, type ClusterRedis } from './cluster/redis.ts';
import { RedisDenyList } from './cluster/redis-deny-list.ts';
import { clusterLimits } from './cluster/shared-limits.ts';
import { clientAddressResolver, compileTrustedProxies } from './http/client-address.ts';

export interface Vigil {
  /** The fastify app (HTTP API, admin API, static files); `app.inject()` in tests. */
  app: Awaited<ReturnType<typeof buildHttpApp>>;
  /** The media API (this node's cameras and viewers' media). */
  media: MediaApi;
  signaling: SignalingServer;
  /** Token checks, deny list, rate limits, stream quota, TURN credentials. */
  access: AccessControl;
  /** Base URL of the HTTP server, e.g. `http://127.0.0.1:8080` (`https://` with `http.tls`). */
  url: string;
  /**
   * The HS256 secret in use (configured, or generated for this process when
   * none is configured); undefined for RS256/ES256. Never logged.
   */
  hs256Secret: string | undefined;
  /** True when {@link hs256Secret} was generated for this process (no `auth.secret` configured): only then is a demo token printed. */
  hs256SecretGenerated: boolean;
  /**
   * Re-reads the config file and reconciles the camera set (added, removed,
   * updated cameras; unchanged ones keep their viewers). Other keys need a restart.
   * @throws ConfigError for an invalid file; Error when started without a file
   */
  reloadCameras(): Promise<ReconcileResult>;
  /** The audit trail (undefined when `audit.enabled` is false). */
  audit: AuditStore | undefined;
  /** Who watches what (always on). */
  oversight: Oversight;
  /** Prometheus metrics (undefined when `metrics.enabled` is false). */
  metrics: VigilMetrics | undefined;
  /** Base URL of the separate metrics listener (`metrics.listen`), when configured. */
  metricsUrl: string | undefined;
  readiness: Readiness;
  /**
   * Graceful shutdown: /readyz turns 503 and new viewers are refused; after
   * `shutdown.drainDelayMs` every session is closed (clients are told
   * `sessionClosed: server_shutdown` and reconnect elsewhere), which closes
   * its consumers and writes their audit ends; then, last started first:
   * metrics, HTTP, oversight, media (cameras, workers), the audit trail, the
   * deny list. Idempotent (later calls share the first one's promise).
   */
  close(): Promise<void>;
}

/** How long a start waits for the cluster's Redis before going on without it, ms. */
const REDIS_START_WAIT_MS = 3000;

/**
 * Starts Vigil.
 * @throws Error when workers cannot start, a key/JWKS/certificate file is
 *   unreadable or unfit, the deny list file is corrupt, or the port is taken
 */
export interface StartOptions {
  /** The config file this config came from; enables `reloadCameras()` (admin API, SIGHUP). */
  configPath?: string | undefined;
}

export async function startVigil(config: VigilConfig, logger: Logger, opts: StartOptions = {}): Promise<Vigil> {
  return startOwned(logger, async (life) => {
    // Cluster mode: the one Redis connection every cluster part shares (closed last).
    const redis = config.cluster ? life.own('cluster redis', connectClusterRedis(config.cluster.redisUrl, logger), (r) => r.close()) : undefined;
    const { access, hs256Secret } = await startAccess(config, logger, life, redis);
    const trustProxy = compileTrustedProxies(config.http.trustedProxies);
    const tls = config.http.tls
      ? { cert: await readFile(config.http.tls.certFile), key: await readFile(config.http.tls.keyFile) }
      : undefined;
    // Session facts (joins, viewings, refusals): the audit trail, oversight and metrics listen.
    const observer = new SessionObserver();
    const { audit, recorder } = await startAudit(config, observer, logger, life);
    const media = life.own('media', await startMedia(config, logger, redis), (m) => m.close());
    // Who watches what: this node's viewers, or every node's open audit rows when the audit trail is shared.
    const local = new LocalWatch(observer);
    const watch =
      audit?.shared && recorder && config.audit.postgres
        ? new ClusterWatch({
            store: audit,
            local,
            cameras: () => media.cameras().map((c) => c.id),
            leader: () => recorder.leader,
            pollMs: config.audit.postgres.pollMs,
            logger,
          })
        : local;
    const oversight = life.own('oversight', new Oversight(media, watch, config.metrics.unwatchedAfterSec), (o) => o.close());
    const readiness = new Readiness(media, recorder && (() => recorder.healthy));
    const app = life.own('http', await buildHttpApp({ logger, tls, trustProxy, ready: () => readiness.report() }), (a) => a.close());
    const { configPath } = opts;
    const reloadCameras = async (): Promise<ReconcileResult> => {
      if (!configPath) throw new Error('started without a config file');
      const fresh = await loadConfig(configPath);
      return media.reconcile(fresh.cameras);
    };
    let signaling: SignalingServer | undefined;
    let metrics: VigilMetrics | undefined;
    let metricsApp: FastifyInstance | undefined;
    if (config.metrics.enabled) {
      const connections = (): { open: number; joined: number } => {
        let joined = 0;
        for (const s of signaling?.sessions ?? []) if (s.grant && !s.closed) joined++;
        return { open: signaling?.sessions.size ?? 0, joined };
      };
      metrics = life.own(
        'metrics',
        new VigilMetrics({
          media,
          observer,
          oversight,
          connections,
          logger,
          unwatchedAfterSec: config.metrics.unwatchedAfterSec,
          statsConcurrency: config.metrics.statsConcurrency,
          statsBudgetMs: config.metrics.statsBudgetMs,
          fpsSampleCameras: config.metrics.fpsSampleCameras,
          fpsSampleWindowMs: config.metrics.fpsSampleWindowMs,
          ...(recorder
            ? {
                auditWriteErrors: () => recorder.writeErrors,
                auditStoreBytes: () => recorder.sizeBytes(),
                auditQueued: () => recorder.queued,
                auditHealthy: () => recorder.healthy,
              }
            : {}),
        }),
        (m) => m.close(),
      );
      const { listen, bearerToken } = config.metrics;
      const access = metricsAccess(listen?.host ?? config.http.host, listen !== undefined, bearerToken);
      if (listen) {
        metricsApp = life.own(
          'metrics http',
          fastify({ loggerInstance: logger.child({ component: 'metrics-http' }) }) as unknown as FastifyInstance,
          (a) => a.close(),
        );
        registerMetricsRoute(metricsApp, metrics, access, bearerToken);
      } else {
        registerMetricsRoute(app as unknown as FastifyInstance, metrics, access, bearerToken);
      }
      const log = logger.child({ component: 'metrics' });
      if (access === 'refused') {
        log.warn(
          { host: config.http.host },
          'GET /metrics is refused: http.host is not loopback and metrics.bearerToken is not set (set it, or serve metrics on metrics.listen)',
        );
      } else {
        log.info({ access: access === 'token' ? 'bearer token required' : listen ? 'open on its own listener' : 'open on loopback' }, 'GET /metrics served');
      }
    }
    const { drainDelayMs, socketGraceMs } = config.shutdown;
    const server = life.own(
      'signaling',
      new SignalingServer({
        media,
        access,
        limits: config.limits,
        allowedOrigins: config.http.allowedOrigins,
        logger,
        observer,
        clientAddress: clientAddressResolver(trustProxy),
      }),
      (s) => s.close(socketGraceMs),
    );
    signaling = server;
    server.attach(app.server);
    registerOriginProbe(app, SIGNALING_PATH, config.http.allowedOrigins);
    if (config.admin.apiKey) {
      await app.register(adminApi, {
        prefix: '/admin/v1',
        apiKey: config.admin.apiKey,
        deps: { media, sessions: server.sessions, access, audit, oversight, reloadCameras: configPath ? reloadCameras : undefined },
      });
    }
    await app.listen({ host: config.http.host, port: config.http.port });
    const { port } = app.server.address() as AddressInfo;
    const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
    let metricsUrl: string | undefined;
    if (metricsApp && config.metrics.listen) {
      await metricsApp.listen({ host: config.metrics.listen.host, port: config.metrics.listen.port });
      const m = metricsApp.server.address() as AddressInfo;
      const mh = config.metrics.listen.host.includes(':') ? `[${config.metrics.listen.host}]` : config.metrics.listen.host;
      metricsUrl = `http://${mh}:${m.port}`;
    }
    let closing: Promise<void> | undefined;
    return {
      app,
      media,
      signaling: server,
      access,
      url: `${tls ? 'https' : 'http'}://${host}:${port}`,
      hs256Secret,
      hs256SecretGenerated: config.auth.algorithm === 'HS256' && config.auth.secret === undefined,
      reloadCameras,
      audit,
      oversight,
      metrics,
      metricsUrl,
      readiness,
      close() {
        closing ??= (async () => {
          readiness.drain();
          server.stopAccepting();
          if (drainDelayMs > 0) await new Promise((r) => setTimeout(r, drainDelayMs));
          await life.close();
        })();
        return closing;
      },
    };
  });
}

/**
 * The media implementation: this node's alone ({@link LocalMedia}), or with
 * `cluster` set the cluster's ({@link ClusterMedia}: cameras ingested on other
 * nodes piped here, coordinated through the shared Redis connection).
 * Signaling cannot tell them apart.
 */
async function startMedia(config: VigilConfig, logger: Logger, redis: ClusterRedis | undefined): Promise<MediaApi> {
  const { cluster } = config;
  if (!cluster || !redis) return LocalMedia.start({ config, logger });
  const { nodeId, announcedAddress, heartbeatMs, nodeTimeoutMs, pipe } = cluster;
  return ClusterMedia.start({ config, logger, redis, cluster: { nodeId, announcedAddress, heartbeatMs, nodeTimeoutMs, pipe } });
}

/**
 * Token verification (keys from config: an HS256 secret, a PEM file or a
 * JWKS), the deny list and the access decisions built on them. With `redis`
 * (cluster mode) the deny list, rate limits and stream quota are shared by
 * every node through it (server/src/cluster/); a Redis still unreachable after
 * a short wait does not stop the start (the node enforces its own copy and
 * limits until Redis answers).
 * @returns the access control and the HS256 secret in use (generated when none is configured)
 */
async function startAccess(
  config: VigilConfig,
  logger: Logger,
  life: Lifecycle,
  redis: ClusterRedis | undefined,
): Promise<{ access: AccessControl; hs256Secret: string | undefined }> {
  const { auth } = config;
  let keys: KeySource;
  let hs256Secret: string | undefined;
  if (auth.algorithm === 'HS256') {
    hs256Secret = auth.secret ?? randomBytes(32).toString('base64url');
    if (!auth.secret) logger.warn('auth.secret not set: generated a random HS256 secret for this process (demo mode)');
    keys = new StaticKeySource('HS256', hs256Secret);
  } else if (auth.jwks) {
    const jwks = new JwksKeySource({
      algorithm: auth.algorithm,
      file: auth.jwks.file,
      url: auth.jwks.url,
      minRefetchIntervalMs: auth.jwks.minRefetchIntervalSec * 1000,
      maxAgeMs: auth.jwks.maxAgeSec * 1000,
      timeoutMs: auth.jwks.timeoutMs,
      logger,
    });
    await jwks.start();
    keys = jwks;
  } else {
    keys = new StaticKeySource(auth.algorithm, await readFile(auth.publicKeyFile!, 'utf8'));
  }
  const verifier = new TokenVerifier({
    algorithm: auth.algorithm,
    keys,
    issuer: auth.issuer,
    audience: auth.audience,
    clockToleranceSec: auth.clockToleranceSec,
    maxTokenLifetimeSec: auth.maxTokenLifetimeSec,
    groups: auth.groups,
  });
  const denyList = life.own('deny list', await DenyList.open(config.revocations.file, logger), (d) => d.flush());
  let shared;
  if (redis && config.cluster) {
    await waitForRedis(redis, REDIS_START_WAIT_MS).catch(() => {});
    life.own('cluster deny list', await RedisDenyList.start(redis, denyList, logger), (d) => d.close());
    shared = life.own('cluster limits', clusterLimits(redis, config.cluster, logger), (l) => l.close());
  }
  return { access: new AccessControl({ verifier, denyList, rateLimits: config.rateLimits, turn: config.turn, shared }), hs256Secret };
}

/**
 * The audit trail (when `audit.enabled`): its store (the shared PostgreSQL
 * database with `audit.postgres`, else this process's SQLite file) and the
 * recorder writing viewings from session facts. Closing the recorder writes
 * what is queued and closes the store, after the sessions wrote their ends
 * (it is owned before media and signaling, so it closes after them).
 * @throws Error when the store cannot be opened (file unusable, database unreachable, migration failed)
 */
async function startAudit(
  config: VigilConfig,
  observer: SessionObserver,
  logger: Logger,
  life: Lifecycle,
): Promise<{ audit: AuditStore | undefined; recorder: AuditRecorder | undefined }> {
  if (!config.audit.enabled) return { audit: undefined, recorder: undefined };
  const log = logger.child({ component: 'audit' });
  const pgc = config.audit.postgres;
  let store: AuditStore;
  if (pgc) {
    const opened = await PgAuditStore.open({
      url: pgc.url,
      // One name per node across the cluster's registry and its audit trail.
      nodeId: pgc.nodeId ?? config.cluster?.nodeId,
      nodeTimeoutMs: pgc.nodeTimeoutSec * 1000,
      connectTimeoutMs: pgc.connectTimeoutMs,
      onIdleError: (err) => log.warn({ err: err.message }, 'audit database connection lost (idle)'),
    });
    store = opened.store;
    log.info({ location: store.location, node: opened.store.nodeId, migrated: opened.migrated }, 'audit trail open (shared PostgreSQL)');
    if (opened.recovered > 0) log.warn({ recovered: opened.recovered }, 'viewings left open by this node\'s previous run closed as unknown');
  } else {
    const opened = SqliteAuditStore.open(config.audit.path);
    store = opened.store;
    log.info({ path: config.audit.path }, 'audit trail open');
    if (opened.recovered > 0) log.warn({ recovered: opened.recovered }, 'viewings left open by the previous process closed as unknown');
  }
  const recorder = life.own(
    'audit trail',
    new AuditRecorder({
      store,
      observer,
      logger,
      heartbeatMs: config.audit.heartbeatSec * 1000,
      retentionMs: config.audit.retentionDays * 86_400_000,
      maxBytes: config.audit.maxSizeMb * 1_000_000,
      queueMax: config.audit.queueMax,
    }),
    (r) => r.close(),
  );
  return { audit: store, recorder };
}
