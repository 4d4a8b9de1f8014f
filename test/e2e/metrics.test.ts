/**
 * /metrics from a real Vigil (mediasoup worker, ffmpeg test-pattern cameras)
 * with two cameras and three viewers, checked by a real `promtool check
 * metrics` and read back sample by sample: camera state and ingest, fan-out
 * per camera and worker, TTFF from reportTtff, refusals, coverage and
 * unwatched cameras, and no viewer identity in any label.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@vigil/protocol';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { WsClient, errorCode } from '../helpers/ws-client.ts';
import { promtool, sample } from '../helpers/prometheus.ts';
import { referencedVigilMetrics } from '../helpers/deploy-files.ts';

let vigil: TestVigil;
const clients: WsClient[] = [];
const viewers: { client: WsClient; consumerId: string; camera: string; sessionId: string }[] = [];
const UNWATCHED_AFTER_SEC = 1;

async function metrics(): Promise<string> {
  const res = await fetch(`${vigil.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** A viewer over the bare protocol: join, one transport, one consumer of `camera`. */
async function viewer(camera: string, subject: string) {
  const client = await WsClient.open(vigil.url);
  clients.push(client);
  const join = await client.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: vigil.token(['**'], { subject }) });
  if (!join.ok) throw new Error('join refused');
  const t = await client.request({ type: 'createRecvTransport' });
  if (!t.ok) throw new Error('transport refused');
  const c = await client.request({
    type: 'consume',
    transportId: (t.data as { id: string }).id,
    cameraId: camera,
    rtpCapabilities: vigil.gateway.rtpCapabilities as unknown as Record<string, unknown>,
  });
  if (!c.ok) throw new Error('consume refused');
  const consumerId = (c.data as { consumerId: string }).consumerId;
  const v = { client, consumerId, camera, sessionId: (join.data as { sessionId: string }).sessionId, transportId: (t.data as { id: string }).id };
  viewers.push(v);
  return v;
}

beforeAll(async () => {
  vigil = await startTestVigil({
    cameras: [testCamera('gate-1', 'H264', { site: 'north' }), testCamera('yard/2', 'VP8')],
    metrics: { unwatchedAfterSec: UNWATCHED_AFTER_SEC, fpsSampleWindowMs: 1000 },
  });
  await waitFor(() => vigil.media.cameras().every((c) => c.state === 'live'), 15_000);
  await viewer('gate-1', 'operator-ann');
  await viewer('gate-1', 'operator-bob');
  await viewer('yard/2', 'operator-cid');
});

afterAll(async () => {
  for (const c of clients) c.close();
  await vigil?.close();
});

describe('/metrics', () => {
  it('passes promtool check metrics (exposition format and naming lint)', async () => {
    const text = await metrics();
    const { code, out } = await promtool(['check', 'metrics'], text);
    expect(out).toBe('');
    expect(code).toBe(0);
  });

  it('reports camera state, ingest bitrate, packets, keyframe age and frame rate', async () => {
    // The frame-rate sampler needs one window per camera round and stats need packets.
    let text = '';
    await waitFor(async () => {
      text = await metrics();
      return ['gate-1', 'yard/2'].every((camera) => sample(text, 'vigil_camera_ingest_frames_per_second', { camera }) !== undefined);
    }, 15_000, 500);
    expect(sample(text, 'vigil_cameras', { state: 'live' })).toBe(2);
    expect(sample(text, 'vigil_cameras', { state: 'offline' })).toBe(0);
    for (const camera of ['gate-1', 'yard/2']) {
      expect(sample(text, 'vigil_camera_up', { camera })).toBe(1);
      // 600 kbit/s test patterns: demand a tenth of it as bytes/s.
      expect(sample(text, 'vigil_camera_ingest_bytes_per_second', { camera })).toBeGreaterThan(600_000 / 8 / 10);
      expect(sample(text, 'vigil_camera_ingest_packets_total', { camera })).toBeGreaterThan(10);
      expect(sample(text, 'vigil_camera_ingest_packets_lost_total', { camera })).toBe(0);
      // 1 s GOP: the last keyframe is at most ~1 s old (3 s for a busy box).
      expect(sample(text, 'vigil_camera_last_keyframe_age_seconds', { camera })).toBeLessThan(3);
      // 30 fps source; on 2 busy cores the encoder may fall behind, so ask for a third.
      expect(sample(text, 'vigil_camera_ingest_frames_per_second', { camera })).toBeGreaterThan(10);
      expect(sample(text, 'vigil_camera_reconnects_total', { camera })).toBe(0);
    }
  });

  it('reports fan-out per camera and per worker, and worker CPU', async () => {
    const text = await metrics();
    expect(sample(text, 'vigil_camera_viewers', { camera: 'gate-1' })).toBe(2);
    expect(sample(text, 'vigil_camera_consumers', { camera: 'gate-1' })).toBe(2);
    expect(sample(text, 'vigil_camera_viewers', { camera: 'yard/2' })).toBe(1);
    expect(sample(text, 'vigil_worker_up', { worker: '0' })).toBe(1);
    expect(sample(text, 'vigil_worker_routers', { worker: '0' })).toBe(1);
    expect(sample(text, 'vigil_worker_webrtc_transports', { worker: '0' })).toBe(3);
    expect(sample(text, 'vigil_worker_consumers', { worker: '0' })).toBe(3);
    expect(sample(text, 'vigil_worker_pipe_transports', { worker: '0' })).toBe(0);
    expect(sample(text, 'vigil_worker_cpu_seconds_total', { worker: '0', mode: 'user' })).toBeGreaterThan(0);
    expect(sample(text, 'vigil_viewer_sessions')).toBe(3);
    expect(sample(text, 'vigil_viewer_joins_total')).toBe(3);
    expect(sample(text, 'vigil_viewer_join_latency_seconds_count')).toBe(3);
  });

  it('records the SDK-reported TTFF once per consumer, and refusals by reason', async () => {
    const before = await metrics();
    const n0 = sample(before, 'vigil_viewer_ttff_seconds_count') ?? 0;
    const sum0 = sample(before, 'vigil_viewer_ttff_seconds_sum') ?? 0;
    const [a, b] = viewers;
    expect((await a!.client.request({ type: 'reportTtff', consumerId: a!.consumerId, ttffMs: 420 })).ok).toBe(true);
    expect((await b!.client.request({ type: 'reportTtff', consumerId: b!.consumerId, ttffMs: 1700 })).ok).toBe(true);
    // A second report for the same consumer is accepted but not counted.
    expect((await a!.client.request({ type: 'reportTtff', consumerId: a!.consumerId, ttffMs: 9000 })).ok).toBe(true);
    // Someone else's consumer is not found; a negative time is a bad request.
    expect(errorCode(await a!.client.request({ type: 'reportTtff', consumerId: b!.consumerId, ttffMs: 1 }))).toBe('not_found');
    expect(errorCode(await a!.client.request({ type: 'reportTtff', consumerId: a!.consumerId, ttffMs: -5 }))).toBe('bad_request');
    const noTransport = await a!.client.request({ type: 'consume', transportId: 'x', cameraId: 'ghost/1', rtpCapabilities: {} });
    expect(errorCode(noTransport)).toBe('not_found');
    const text = await metrics();
    expect(sample(text, 'vigil_viewer_ttff_seconds_count')).toBe(n0 + 2);
    expect(sample(text, 'vigil_viewer_ttff_seconds_sum')).toBeCloseTo(sum0 + 2.12, 6);
    expect(sample(text, 'vigil_viewer_ttff_seconds_bucket', { le: '0.5' })).toBe((sample(before, 'vigil_viewer_ttff_seconds_bucket', { le: '0.5' }) ?? 0) + 1);
    expect(sample(text, 'vigil_viewer_refusals_total', { reason: 'not_found' })).toBe(2);
  });

  it('never labels a series with a viewer, session, token or consumer', async () => {
    const text = await metrics();
    const labelValues = [...text.matchAll(/="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
    for (const v of viewers) {
      for (const secret of [v.sessionId, v.consumerId, 'operator-ann', 'operator-bob', 'operator-cid']) {
        expect(labelValues).not.toContain(secret);
        expect(text).not.toContain(secret);
      }
    }
    const names = new Set([...text.matchAll(/^[a-z_]+\{([^}]*)\}/gm)].flatMap((m) => [...m[1]!.matchAll(/([a-z_]+)=/g)].map((x) => x[1])));
    expect([...names].sort()).toEqual(expect.arrayContaining(['camera', 'state', 'worker']));
    for (const n of names) expect(['camera', 'state', 'worker', 'mode', 'reason', 'type', 'le', 'quantile', 'version', 'major', 'minor', 'patch', 'kind', 'space']).toContain(n);
  });

  it('shows coverage and the cameras nobody watches', async () => {
    let text = await metrics();
    expect(sample(text, 'vigil_coverage_ratio')).toBe(1);
    expect(sample(text, 'vigil_cameras_watched')).toBe(2);
    expect(sample(text, 'vigil_cameras_unwatched')).toBe(0);
    expect(sample(text, 'vigil_camera_unwatched_seconds', { camera: 'yard/2' })).toBe(0);
    // The only viewer of yard/2 stops watching.
    const cid = viewers[2]!;
    expect((await cid.client.request({ type: 'closeConsumer', consumerId: cid.consumerId })).ok).toBe(true);
    text = await metrics();
    expect(sample(text, 'vigil_coverage_ratio')).toBe(0.5);
    expect(sample(text, 'vigil_camera_viewers', { camera: 'yard/2' })).toBe(0);
    await waitFor(async () => sample((text = await metrics()), 'vigil_cameras_unwatched') === 1, 5000, 200);
    expect(sample(text, 'vigil_camera_unwatched_seconds', { camera: 'yard/2' })).toBeGreaterThan(UNWATCHED_AFTER_SEC);
    expect(sample(text, 'vigil_unwatched_threshold_seconds')).toBe(UNWATCHED_AFTER_SEC);
    const o = await vigil.admin('GET', '/oversight');
    expect(o.status).toBe(200);
    expect(o.body).toMatchObject({ live: 2, watched: 1, coverage: 0.5, unwatched: 1 });
    expect(o.body.cameras[0]).toMatchObject({ camera: 'yard/2', viewers: 0 });
    expect(o.body.cameras[1]).toMatchObject({ camera: 'gate-1', viewers: 2, unwatchedSec: 0 });
  });

  it('exports every metric the shipped dashboard and alert rules use', async () => {
    const text = await metrics();
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const used = referencedVigilMetrics();
    expect(used.length).toBeGreaterThan(15);
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });

  it('prints a sample of /metrics (for the record)', async () => {
    const text = await metrics();
    const lines = text.split('\n').filter((l) => /^vigil_/.test(l) && !/_bucket\{/.test(l));
    console.log(`[metrics sample]\n${lines.join('\n')}`);
    expect(lines.length).toBeGreaterThan(20);
  });
});
