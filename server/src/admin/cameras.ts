/**
 * Admin routes for cameras (camera ids may contain `/`: `/cameras/site-a/gate-1`): list, read (state, history, per-stream stats),
 * add, update, remove at runtime, and reload the camera set from the config
 * file. Bodies are validated like a `cameras[]` entry of the config file, with
 * the same messages.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CameraConflictError, type CameraView } from '@vigil/gateway';
import { checkCameraConfig } from '../config/load.ts';
import type { Oversight } from '../oversight/oversight.ts';
import type { AdminDeps } from './admin-types.ts';

/** A degraded camera's reason (closed set), message and since (ISO time); null when it plays well. */
function degradedOf(camera: CameraView) {
  const d = camera.degraded;
  return d ? { reason: d.reason, message: d.message, quality: d.quality, since: new Date(d.since).toISOString() } : null;
}

/** `viewers`: sessions watching the camera; `consumers`: their viewings (oversight's counts). */
function summary(camera: CameraView, oversight: Oversight) {
  const { viewers, consumers } = oversight.watching(camera.id);
  return {
    id: camera.id,
    site: camera.config.site ?? null,
    codec: camera.config.codec,
    state: camera.state,
    stateSince: new Date(camera.stateSince).toISOString(),
    reason: camera.reason ?? null,
    degraded: degradedOf(camera),
    qualities: camera.qualities,
    viewers,
    consumers,
  };
}

function badBody(reply: FastifyReply, issues: string[]) {
  return reply.code(400).send({ code: 'bad_request', message: 'invalid camera', issues });
}

export async function registerCameraRoutes(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  const { media, oversight } = deps;

  /** GET /cameras: every camera's summary. */
  app.get('/cameras', async () => ({ cameras: media.cameras().map((c) => summary(c, oversight)) }));

  /** GET /cameras/:id: summary, config, lifecycle history and stream stats. */
  app.get<{ Params: { '*': string } }>('/cameras/*', async (req, reply) => {
    const camera = media.camera(req.params['*']);
    if (!camera) return reply.code(404).send({ code: 'not_found', message: 'no such camera' });
    return {
      ...summary(camera, oversight),
      recoveries: camera.recoveries,
      history: camera.history.map((t) => ({ state: t.state, at: new Date(t.at).toISOString(), reason: t.reason ?? null })),
      // Per stream: bitrate (bps) and packets from the producer stats, fps over 1 s of RTP, keyframe age and
      // interval (ms), and ingest counters: packets from strangers, camera restarts, reordered frames, kernel socket drops.
      streams: (await media.streamStats(camera.id, 1000)) ?? [],
    };
  });

  /** POST /cameras: add a camera (body: a camera config entry). 409 if the id exists. */
  app.post('/cameras', async (req, reply) => {
    const checked = checkCameraConfig(req.body);
    if ('issues' in checked) return badBody(reply, checked.issues);
    try {
      const camera = await media.addCamera(checked.camera);
      return reply.code(201).send(summary(camera, oversight));
    } catch (err) {
      if (err instanceof CameraConflictError) return reply.code(409).send({ code: 'conflict', message: err.message });
      return reply.code(422).send({ code: 'camera_failed', message: (err as Error).message });
    }
  });

  /** PUT /cameras/:id: replace a camera's config; its viewers re-subscribe by themselves. */
  app.put<{ Params: { '*': string } }>('/cameras/*', async (req, reply) => {
    const checked = checkCameraConfig(req.body);
    if ('issues' in checked) return badBody(reply, checked.issues);
    const body = checked.camera;
    if (body.id !== req.params['*']) return reply.code(400).send({ code: 'bad_request', message: 'id in body and path differ' });
    if (!media.camera(body.id)) return reply.code(404).send({ code: 'not_found', message: 'no such camera' });
    try {
      return summary(await media.updateCamera(body), oversight);
    } catch (err) {
      return reply.code(422).send({ code: 'camera_failed', message: (err as Error).message });
    }
  });

  /** DELETE /cameras/:id: remove a camera; its viewers get `consumerClosed` (camera_gone). */
  app.delete<{ Params: { '*': string } }>('/cameras/*', async (req, reply) => {
    const removed = await media.removeCamera(req.params['*']);
    return removed ? reply.code(204).send() : reply.code(404).send({ code: 'not_found', message: 'no such camera' });
  });

  /** POST /config/reload: re-read the config file and reconcile cameras; unchanged cameras keep their viewers. */
  app.post('/config/reload', async (_req, reply) => {
    if (!deps.reloadCameras) return reply.code(409).send({ code: 'no_config_file', message: 'started without a config file' });
    try {
      return await deps.reloadCameras();
    } catch (err) {
      return reply.code(400).send({ code: 'bad_config', message: (err as Error).message });
    }
  });
}
