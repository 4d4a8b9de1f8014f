/**
 * GET /metrics: Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), optionally
 * behind a bearer credential compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { buildHttpApp } from '../http/app.ts';
import type { VigilMetrics } from './vigil-metrics.ts';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Registers GET /metrics on `app`.
 * @param bearerToken when set, requests without `Authorization: Bearer <it>` get 401
 */
export function registerMetricsRoute(app: Awaited<ReturnType<typeof buildHttpApp>>, metrics: VigilMetrics, bearerToken: string | undefined): void {
  const expected = bearerToken === undefined ? undefined : digest(bearerToken);
  app.get('/metrics', async (req, reply) => {
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
