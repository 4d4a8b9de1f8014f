/**
 * Composition root: one process running the gateway (mediasoup workers,
 * cameras) and signaling (HTTP + WebSocket), wired from one config.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import fastify, { type FastifyInstance } from 'fastify';
import { Gateway, type ReconcileResult } from '@vigil/gateway';
import { loadConfig } from './config/load.ts';
import { TokenVerifier } from './auth/tokens.ts';
import { StaticKeySource, type KeySource } from './auth/keys.ts';
import { JwksKeySource } from './auth/jwks.ts';
import { DenyList } from './auth/deny-list.ts';
import { AccessControl } from './auth/access-control.ts';
import type { VigilConfig } from './config/schema.ts';
import { buildHttpApp } from './http/app.ts';
import { adminApi } from './admin/admin-api.ts';
import { SignalingServer } from './ws/signaling-server.ts';
import { AuditStore } from './audit/audit-store.ts';
import { AuditRecorder } from './audit/audit-recorder.ts';
import { VigilMetrics } from './metrics/vigil-metrics.ts';
import { metricsAccess, registerMetricsRoute } from './metrics/metrics-route.ts';
import { Readiness } from './health/readiness.ts';

export interface Vigil {
  /** The fastify app (HTTP API, admin API, static files); `app.inject()` in tests. */
  app: Awaited<ReturnType<typeof buildHttpApp>>;
  gateway: Gateway;
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
  /** Prometheus metrics and oversight (undefined when `metrics.enabled` is false). */
  metrics: VigilMetrics | undefined;
  /** Base URL of the separate metrics listener (`metrics.listen`), when configured. */
  metricsUrl: string | undefined;
  readiness: Readiness;
  /**
   * Graceful shutdown: /readyz turns 503 and new viewers are refused; after
   * `shutdown.drainDelayMs` every session is closed (clients are told
   * `sessionClosed: server_shutdown` and reconnect elsewhere), which closes
   * its consumers and writes their audit ends; then HTTP, the gateway and the
   * audit store close. Idempotent (later calls share the first one's promise).
   */
  close(): Promise<void>;
}

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
  const denyList = await DenyList.open(config.revocations.file, logger);
  const access = new AccessControl({ verifier, denyList, rateLimits: config.rateLimits, turn: config.turn });
  const tls = config.http.tls
    ? { cert: await readFile(config.http.tls.certFile), key: await readFile(config.http.tls.keyFile) }
    : undefined;

  let audit: AuditStore | undefined;
  if (config.audit.enabled) {
    const opened = AuditStore.open(config.audit.path);
    audit = opened.store;
    const log = logger.child({ component: 'audit' });
    log.info({ path: config.audit.path }, 'audit trail open');
    if (opened.recovered > 0) log.warn({ recovered: opened.recovered }, 'viewings left open by the previous process closed as unknown');
  }
  let gateway: Gateway;
  try {
    gateway = await Gateway.start({ config, logger });
  } catch (err) {
    audit?.close();
    throw err;
  }
  let recorder: AuditRecorder | undefined;
  let metrics: VigilMetrics | undefined;
  let metricsApp: FastifyInstance | undefined;
  try {
    let readiness: Readiness | undefined;
    const app = await buildHttpApp({ logger, tls, ready: () => readiness!.report() });
    const signaling = new SignalingServer({
      gateway,
      access,
      limits: config.limits,
      allowedOrigins: config.http.allowedOrigins,
      logger,
    });
    signaling.attach(app.server);
    const { configPath } = opts;
    const reloadCameras = async (): Promise<ReconcileResult> => {
      if (!configPath) throw new Error('started without a config file');
      const fresh = await loadConfig(configPath);
      return gateway.reconcile(fresh.cameras);
    };
    if (audit) {
      recorder = new AuditRecorder({
        store: audit,
        observer: signaling.observer,
        logger,
        heartbeatMs: config.audit.heartbeatSec * 1000,
        retentionMs: config.audit.retentionDays * 86_400_000,
        maxBytes: config.audit.maxSizeMb * 1_000_000,
      });
    }
    const auditRecorder = recorder;
    readiness = new Readiness(gateway, auditRecorder && (() => auditRecorder.healthy));
    if (config.metrics.enabled) {
      metrics = new VigilMetrics({
        gateway,
        signaling,
        logger,
        unwatchedAfterSec: config.metrics.unwatchedAfterSec,
        statsConcurrency: config.metrics.statsConcurrency,
        statsBudgetMs: config.metrics.statsBudgetMs,
        fpsSampleCameras: config.metrics.fpsSampleCameras,
        fpsSampleWindowMs: config.metrics.fpsSampleWindowMs,
        ...(auditRecorder ? { auditWriteErrors: () => auditRecorder.writeErrors, auditStoreBytes: () => auditRecorder.sizeBytes } : {}),
      });
      const { listen, bearerToken } = config.metrics;
      const access = metricsAccess(listen?.host ?? config.http.host, listen !== undefined, bearerToken);
      if (listen) {
        metricsApp = fastify({ loggerInstance: logger.child({ component: 'metrics-http' }) }) as unknown as FastifyInstance;
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
    if (config.admin.apiKey) {
      await app.register(adminApi, {
        prefix: '/admin/v1',
        apiKey: config.admin.apiKey,
        deps: { gateway, signaling, access, audit, oversight: metrics?.oversight, reloadCameras: configPath ? reloadCameras : undefined },
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
    const ready = readiness;
    const { drainDelayMs, socketGraceMs } = config.shutdown;
    let closing: Promise<void> | undefined;
    return {
      app,
      gateway,
      signaling,
      access,
      url: `${tls ? 'https' : 'http'}://${host}:${port}`,
      hs256Secret,
      hs256SecretGenerated: auth.algorithm === 'HS256' && auth.secret === undefined,
      reloadCameras,
      audit,
      metrics,
      metricsUrl,
      readiness: ready,
      close() {
        closing ??= (async () => {
          ready.drain();
          signaling.stopAccepting();
          if (drainDelayMs > 0) await new Promise((r) => setTimeout(r, drainDelayMs));
          await signaling.close(socketGraceMs);
          metrics?.close();
          await metricsApp?.close();
          await app.close();
          await denyList.flush();
          await gateway.close();
          recorder?.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    metrics?.close();
    await metricsApp?.close();
    await gateway.close();
    if (recorder) recorder.close();
    else audit?.close();
    throw err;
  }
}
