/**
 * Admin routes for cameras (camera ids may contain `/`: `/cameras/site-a/gate-1`): list, read (state, history, per-stream stats),
 * add, update, remove at runtime, and reload the camera set from the config
 * file. Bodies are validated like a `cameras[]` entry of the config file, with
 * the same messages.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CameraConflictError, udpSocketDrops, type Camera } from '@vigil/gateway';
import { checkCameraConfig } from '../config/load.ts';
import type { AdminDeps } from './admin-api.ts';


/** A degraded camera's reason (closed set), message and since (ISO time); null when it plays well. */
function degradedOf(camera: Camera) {
  const d = camera.degraded;
  return d ? { reason: d.reason, message: d.message, quality: d.quality, since: new Date(d.since).toISOString() } : null;
}

function summary(camera: Camera, viewers: number) {
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
  };
}

/**
 * Stats of each stream: bitrate (bps) and packets from mediasoup's producer
 * stats, fps measured over 1 s of RTP, keyframe age and interval (ms), and
 * ingest counters: packets from strangers, camera restarts, reordered frames,
 * kernel socket drops (receive buffer overflows).
 */
async function streamStats(camera: Camera, deps: AdminDeps) {
  const drops = await udpSocketDrops(camera.streams().flatMap((s) => s.ingestPorts));
  return Promise.all(
    camera.streams().map(async (stream) => {
      const [stats, fps] = await Promise.all([stream.producer.getStats().catch(() => []), stream.measureFps(1000)]);
      const s = stats[0];
      const { lastAt, intervalMs } = stream.keyframes;
      return {
        quality: stream.quality,
        source: stream.source.kind,
        workerIndex: deps.gateway.workers.slotOfRouter(stream.router.id)?.index ?? null,
        bitrate: s?.bitrate ?? 0,
        packetCount: s?.packetCount ?? 0,
        packetsLost: s?.packetsLost ?? 0,
        jitter: s?.jitter ?? 0,
        fps,
        msSinceKeyframe: lastAt === undefined ? null : Date.now() - lastAt,
        keyframeIntervalMs: intervalMs ?? null,
        relayStarts: stream.relayStarts,
        ...stream.ingestCounters(drops),
      };
    }),
  );
}

function badBody(reply: FastifyReply, issues: string[]) {
  return reply.code(400).send({ code: 'bad_request', message: 'invalid camera', issues });
}

export async function registerCameraRoutes(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  const { gateway, signaling } = deps;

  /** GET /cameras: every camera's summary. */
  app.get('/cameras', async () => ({ cameras: gateway.cameras().map((c) => summary(c, signaling.viewersOf(c.id))) }));

  /** GET /cameras/:id: summary, config, lifecycle history and stream stats. */
  app.get<{ Params: { '*': string } }>('/cameras/*', async (req, reply) => {
    const camera = gateway.camera(req.params['*']);
    if (!camera) return reply.code(404).send({ code: 'not_found', message: 'no such camera' });
    return {
      ...summary(camera, signaling.viewersOf(camera.id)),
      recoveries: camera.recoveries,
      history: camera.history.map((t) => ({ state: t.state, at: new Date(t.at).toISOString(), reason: t.reason ?? null })),
      streams: await streamStats(camera, deps),
    };
  });

  /** POST /cameras: add a camera (body: a camera config entry). 409 if the id exists. */
  app.post('/cameras', async (req, reply) => {
    const checked = checkCameraConfig(req.body);
    if ('issues' in checked) return badBody(reply, checked.issues);
    try {
      const camera = await gateway.addCamera(checked.camera);
      return reply.code(201).send(summary(camera, 0));
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
    if (!gateway.camera(body.id)) return reply.code(404).send({ code: 'not_found', message: 'no such camera' });
    try {
      return summary(await gateway.updateCamera(body), signaling.viewersOf(body.id));
    } catch (err) {
      return reply.code(422).send({ code: 'camera_failed', message: (err as Error).message });
    }
  });

  /** DELETE /cameras/:id: remove a camera; its viewers get `consumerClosed` (camera_gone). */
  app.delete<{ Params: { '*': string } }>('/cameras/*', async (req, reply) => {
    const removed = await gateway.removeCamera(req.params['*']);
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
