/**
 * Composition root: one process running the gateway (mediasoup workers,
 * cameras) and signaling (HTTP + WebSocket), wired from one config.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Gateway } from '@vigil/gateway';
import { TokenVerifier } from './auth/tokens.ts';
import { StaticKeySource, type KeySource } from './auth/keys.ts';
import { JwksKeySource } from './auth/jwks.ts';
import { DenyList } from './auth/deny-list.ts';
import { AccessControl } from './auth/access-control.ts';
import type { VigilConfig } from './config/schema.ts';
import { buildHttpApp } from './http/app.ts';
import { adminApi } from './admin/admin-api.ts';
import { SignalingServer } from './ws/signaling-server.ts';

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
  /** Closes signaling (notifying viewers), then the gateway. */
  close(): Promise<void>;
}

/**
 * Starts Vigil.
 * @throws Error when workers cannot start, a key/JWKS/certificate file is
 *   unreadable or unfit, the deny list file is corrupt, or the port is taken
 */
export async function startVigil(config: VigilConfig, logger: Logger): Promise<Vigil> {
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
    groups: auth.groups,
  });
  const denyList = await DenyList.open(config.revocations.file, logger);
  const access = new AccessControl({ verifier, denyList, rateLimits: config.rateLimits, turn: config.turn });
  const tls = config.http.tls
    ? { cert: await readFile(config.http.tls.certFile), key: await readFile(config.http.tls.keyFile) }
    : undefined;

  const gateway = await Gateway.start({ config, logger });
  try {
    const app = await buildHttpApp({ logger, tls, ready: () => gateway.workers.slots.some((s) => !s.worker.closed) });
    const signaling = new SignalingServer({
      gateway,
      access,
      limits: config.limits,
      allowedOrigins: config.http.allowedOrigins,
      logger,
    });
    signaling.attach(app.server);
    if (config.admin.apiKey) {
      await app.register(adminApi, { prefix: '/admin/v1', apiKey: config.admin.apiKey, deps: { gateway, signaling, access } });
    }
    await app.listen({ host: config.http.host, port: config.http.port });
    const { port } = app.server.address() as AddressInfo;
    const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
    return {
      app,
      gateway,
      signaling,
      access,
      url: `${tls ? 'https' : 'http'}://${host}:${port}`,
      hs256Secret,
      async close() {
        signaling.close();
        await app.close();
        await denyList.flush();
        await gateway.close();
      },
    };
  } catch (err) {
    await gateway.close();
    throw err;
  }
}
