/**
 * Composition root: one process running the gateway (mediasoup workers,
 * cameras) and signaling (HTTP + WebSocket), wired from one config.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Gateway, type ReconcileResult } from '@vigil/gateway';
import { loadConfig } from './config/load.ts';
import { TokenVerifier } from './auth/tokens.ts';
import type { VigilConfig } from './config/schema.ts';
import { buildHttpApp } from './http/app.ts';
import { adminApi } from './admin/admin-api.ts';
import { SignalingServer } from './ws/signaling-server.ts';

export interface Vigil {
  /** The fastify app (HTTP API, admin API, static files); `app.inject()` in tests. */
  app: Awaited<ReturnType<typeof buildHttpApp>>;
  gateway: Gateway;
  signaling: SignalingServer;
  /** Base URL of the HTTP server, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /**
   * The HS256 secret in use (configured, or generated for this process when
   * none is configured); undefined for RS256/ES256. Never logged.
   */
  hs256Secret: string | undefined;
  /**
   * Re-reads the config file and reconciles the camera set (added, removed,
   * updated cameras; unchanged ones keep their viewers). Other keys need a restart.
   * @throws ConfigError for an invalid file; Error when started without a file
   */
  reloadCameras(): Promise<ReconcileResult>;
  /** Closes signaling (notifying viewers), then the gateway. */
  close(): Promise<void>;
}

/**
 * Starts Vigil.
 * @throws Error when workers cannot start, the key file is unreadable, or the port is taken
 */
export interface StartOptions {
  /** The config file this config came from; enables `reloadCameras()` (admin API, SIGHUP). */
  configPath?: string | undefined;
}

export async function startVigil(config: VigilConfig, logger: Logger, opts: StartOptions = {}): Promise<Vigil> {
  const { auth } = config;
  let key: string;
  let hs256Secret: string | undefined;
  if (auth.algorithm === 'HS256') {
    hs256Secret = auth.secret ?? randomBytes(32).toString('base64url');
    if (!auth.secret) logger.warn('auth.secret not set: generated a random HS256 secret for this process (demo mode)');
    key = hs256Secret;
  } else {
    key = await readFile(auth.publicKeyFile!, 'utf8');
  }
  const verifier = new TokenVerifier({
    algorithm: auth.algorithm,
    key,
    issuer: auth.issuer,
    audience: auth.audience,
    clockToleranceSec: auth.clockToleranceSec,
  });

  const gateway = await Gateway.start({ config, logger });
  try {
    const app = await buildHttpApp({ logger, ready: () => gateway.workers.slots.some((s) => !s.worker.closed) });
    const signaling = new SignalingServer({
      gateway,
      verifier,
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
    if (config.admin.apiKey) {
      await app.register(adminApi, {
        prefix: '/admin/v1',
        apiKey: config.admin.apiKey,
        deps: { gateway, signaling, reloadCameras: configPath ? reloadCameras : undefined },
      });
    }
    await app.listen({ host: config.http.host, port: config.http.port });
    const { port } = app.server.address() as AddressInfo;
    const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
    return {
      app,
      gateway,
      signaling,
      url: `http://${host}:${port}`,
      hs256Secret,
      reloadCameras,
      async close() {
        signaling.close();
        await app.close();
        await gateway.close();
      },
    };
  } catch (err) {
    await gateway.close();
    throw err;
  }
}
