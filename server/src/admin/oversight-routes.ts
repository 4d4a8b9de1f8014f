/**
 * Admin route for oversight: GET /oversight →
 * `{ at, live, watched, coverage, unwatchedAfterSec, unwatched, cameras: [{ camera, state, viewers, consumers, unwatchedSec }] }`,
 * cameras sorted longest-unwatched first, so the center sees at a glance
 * which cameras nobody is watching (with or without metrics).
 */
import type { FastifyInstance } from 'fastify';
import type { Oversight } from '../oversight/oversight.ts';

/** Registers GET /oversight. */
export async function registerOversightRoutes(app: FastifyInstance, oversight: Oversight): Promise<void> {
  app.get('/oversight', async () => {
    const s = oversight.snapshot();
    const cameras = [...s.cameras].sort((a, b) => b.unwatchedSec - a.unwatchedSec || a.camera.localeCompare(b.camera));
    return { ...s, at: new Date(s.at).toISOString(), cameras };
  });
}
