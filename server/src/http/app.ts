/**
 * The HTTP side (fastify): health check, the demo page, the SDK bundles and
 * the operator view (/operator/).
 * The WebSocket endpoint is attached to the same server by SignalingServer.
 */
import { fileURLToPath } from 'node:url';
import fastify from 'fastify';
import fastifyStatic from '@fastify/static';
import type { Logger } from 'pino';
import type { ProxyTrust } from './client-address.ts';

const DEMO_DIR = fileURLToPath(new URL('../../../client-sdk/demo/', import.meta.url));
const SDK_DIST_DIR = fileURLToPath(new URL('../../../client-sdk/dist/', import.meta.url));
/** The operator view (cameras by state, unwatched, who watches what); its data comes from the admin API with the admin credential. */
const OPERATOR_DIR = fileURLToPath(new URL('../../operator/', import.meta.url));

export interface HttpAppOptions {
  logger: Logger;
  /** Readiness probe: whether the process can take viewers, with each check by name. */
  ready: () => { ready: boolean; checks: Record<string, boolean> };
  /** PEM certificate chain and private key: serve HTTPS (and so WSS). */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** Trusted proxies (./client-address.ts): `request.ip` follows their X-Forwarded-For. */
  trustProxy?: ProxyTrust | undefined;
}

/** Builds (does not start) the fastify app. */
export async function buildHttpApp({ logger, ready, tls, trustProxy }: HttpAppOptions) {
  const common = { loggerInstance: logger.child({ component: 'http' }), bodyLimit: 64 * 1024, ...(trustProxy ? { trustProxy } : {}) };
  // The routes and plugins do not depend on the server type; type the app as
  // the plain-HTTP one either way so callers see one type.
  const plain = () => fastify(common);
  const app = tls
    ? (fastify({ ...common, https: { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' } }) as unknown as ReturnType<typeof plain>)
    : plain();

  app.get('/healthz', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({
    status: 'ok',
  }));
  app.get('/readyz', async (_req, reply) => {
    const r = ready();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not_ready', checks: r.checks });
  });

  await app.register(fastifyStatic, { root: DEMO_DIR, prefix: '/', index: ['index.html'] });
  await app.register(fastifyStatic, { root: SDK_DIST_DIR, prefix: '/sdk/', decorateReply: false });
  await app.register(fastifyStatic, { root: OPERATOR_DIR, prefix: '/operator/', decorateReply: false, index: ['index.html'] });
  return app;
}
