/** Admin routes for live viewer sessions. */
import type { FastifyInstance } from 'fastify';
import type { AdminDeps } from './admin-types.ts';

/** GET /sessions: live sessions `{ sessions: [{ id, subject, consumers }] }`. */
export async function registerSessionRoutes(app: FastifyInstance, { sessions }: AdminDeps): Promise<void> {
  app.get('/sessions', async () => ({
    sessions: [...sessions].map((s) => ({
      id: s.id,
      subject: s.grant?.subject ?? null,
      consumers: s.consumerCount,
    })),
  }));
}
