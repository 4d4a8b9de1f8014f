/**
 * The admin HTTP API under `/admin/v1`, a fastify plugin with its own
 * credential (config `admin.apiKey`, sent as `Authorization: Bearer <key>`),
 * never a viewer token. Each resource registers its routes from its own module.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { registerCameraRoutes } from './cameras.ts';
import { registerSessionRoutes } from './sessions.ts';
import { registerAuditRoutes } from './audit-routes.ts';
import { registerOversightRoutes } from './oversight-routes.ts';
import { registerRevocationRoutes } from './revocations.ts';
import type { AdminDeps } from './admin-types.ts';

export interface AdminApiOptions {
  apiKey: string;
  deps: AdminDeps;
}

/** SHA-256 digests compare in constant time whatever the presented key's length. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Registers the admin API. Unauthenticated requests get 401 with
 * `{ code: 'unauthorized' }`; the key is never logged.
 */
export const adminApi: FastifyPluginAsync<AdminApiOptions> = async (app: FastifyInstance, opts) => {
  const expected = digest(opts.apiKey);
  app.addHook('onRequest', async (req, reply) => {
    const header = req.headers.authorization ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!presented || !timingSafeEqual(digest(presented), expected)) {
      req.log.warn({ remoteAddress: req.ip, url: req.url }, 'admin request refused');
      return reply.code(401).send({ code: 'unauthorized', message: 'admin credential required' });
    }
  });
  await registerSessionRoutes(app, opts.deps);
  await registerCameraRoutes(app, opts.deps);
  await app.register(async (scope) => registerAuditRoutes(scope, opts.deps.audit));
  await registerOversightRoutes(app, opts.deps.oversight);
  await registerRevocationRoutes(app, opts.deps);
};
