/**
 * GET /metrics: Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), behind a
 * bearer credential compared in constant time unless it is reachable only
 * from the machine itself or on a listener of its own.
 *
 * /metrics names every camera, its state, its viewers and which cameras
 * nobody watches: on a viewer-facing address it must not be open.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { isLoopbackHost } from '../http/loopback.ts';
import type { VigilMetrics } from './vigil-metrics.ts';

/**
 * Who may read /metrics where it is served:
 * - `token`: requests must carry `Authorization: Bearer <metrics.bearerToken>`;
 * - `open`: anyone who reaches the listener (loopback `http.host`, or the
 *   separate `metrics.listen` listener the operator chose);
 * - `refused`: every request gets 401 (a non-loopback viewer port without a token).
 */
export type MetricsAccess = 'token' | 'open' | 'refused';

/**
 * Decides {@link MetricsAccess} from config.
 * @param httpHost the address /metrics is served on (`http.host`, or `metrics.listen.host`)
 * @param separate true when served on `metrics.listen` rather than the viewer HTTP port
 * @param bearerToken `metrics.bearerToken`, if set
 */
export function metricsAccess(httpHost: string, separate: boolean, bearerToken: string | undefined): MetricsAccess {
  if (bearerToken !== undefined) return 'token';
  if (separate || isLoopbackHost(httpHost)) return 'open';
  return 'refused';
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Registers GET /metrics on `app`.
 * @param access from {@link metricsAccess}
 * @param bearerToken the credential when `access` is `token`
 */
export function registerMetricsRoute(app: FastifyInstance, metrics: VigilMetrics, access: MetricsAccess, bearerToken: string | undefined): void {
  const expected = access === 'token' && bearerToken !== undefined ? digest(bearerToken) : undefined;
  app.get('/metrics', async (req, reply) => {
    if (access === 'refused') return reply.code(401).send({ code: 'unauthorized', message: 'metrics credential required' });
    if (expected) {
      const header = req.headers.authorization ?? '';
      const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
      if (!presented || !timingSafeEqual(digest(presented), expected)) {
        return reply.code(401).send({ code: 'unauthorized', message: 'metrics credential required' });
      }
    }
    const text = await metrics.text();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
