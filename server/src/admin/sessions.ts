/** Admin routes for live viewer sessions. */
import type { FastifyInstance } from 'fastify';
import type { AdminDeps } from './admin-api.ts';

/** GET /sessions: live sessions `{ sessions: [{ id, subject, consumers }] }`. */
export async function registerSessionRoutes(app: FastifyInstance, { signaling }: AdminDeps): Promise<void> {
  app.get('/sessions', async () => ({
    sessions: [...signaling.sessions].map((s) => ({
      id: s.id,
      subject: s.grant?.subject ?? null,
      consumers: s.consumerCount,
    })),
  }));
}
