/**
 * Admin camera API and config reload against a real Vigil (worker, ffmpeg
 * relays): add/list/read/update/remove cameras at runtime, per-stream stats,
 * and a reload that leaves unaffected viewers alone.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@vigil/protocol';
import { startTestVigil, testCamera, testConfig, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { WsClient } from '../helpers/ws-client.ts';

let vigil: TestVigil;
let configPath: string;

function writeConfig(cameras: unknown[]): void {
  writeFileSync(configPath, JSON.stringify(testConfig({ cameras })));
}

const admin = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown) => vigil.admin(method, path, body);

beforeAll(async () => {
  configPath = join(mkdtempSync(join(tmpdir(), 'vigil-admin-')), 'vigil.json');
  const cameras = [testCamera('keep', 'VP8'), testCamera('drop', 'H264')];
  writeConfig(cameras);
  vigil = await startTestVigil({ cameras }, configPath);
  await waitFor(() => vigil.media.cameras().every((c) => c.state === 'live'), 15_000);
});

afterAll(async () => {
  await vigil?.close();
});

describe('admin camera API', () => {
  it('lists cameras with state and viewers; reads one with history and stream stats', async () => {
    const list = await admin('GET', '/cameras');
    expect(list.status).toBe(200);
    expect(list.body.cameras.map((c: { id: string }) => c.id).sort()).toEqual(['drop', 'keep']);
    expect(list.body.cameras[0]).toMatchObject({ state: 'live', viewers: 0, qualities: ['high'] });
    const one = await admin('GET', '/cameras/keep');
    expect(one.status).toBe(200);
    expect(one.body.history.map((t: { state: string }) => t.state)).toEqual(['connecting', 'live']);
    const [stream] = one.body.streams;
    expect(stream.quality).toBe('high');
    expect(stream.bitrate).toBeGreaterThan(50_000);
    // 30 fps source; the encoder lags when the 2 cores are busy, so only a sane range is asserted.
    expect(stream.fps).toBeGreaterThanOrEqual(5);
    expect(stream.fps).toBeLessThanOrEqual(35);
    expect(stream.packetCount).toBeGreaterThan(0);
    expect(stream.keyframeIntervalMs === null || stream.keyframeIntervalMs > 500).toBe(true);
    expect((await admin('GET', '/cameras/nope')).status).toBe(404);
    // Camera ids may contain '/': the admin URL takes them as they are.
    expect((await admin('POST', '/cameras', testCamera('site-a/gate-1', 'VP8'))).status).toBe(201);
    expect((await admin('GET', '/cameras/site-a/gate-1')).body.id).toBe('site-a/gate-1');
    expect((await admin('DELETE', '/cameras/site-a/gate-1')).status).toBe(204);
  });

  it('adds, refuses a duplicate and a bad body naming the key, updates and removes at runtime', async () => {
    const added = await admin('POST', '/cameras', testCamera('extra', 'H264'));
    expect(added.status).toBe(201);
    expect((await admin('POST', '/cameras', testCamera('extra', 'H264'))).status).toBe(409);
    const bad = await admin('POST', '/cameras', { id: 'x', source: { kind: 'rtp-push', port: 5004 } });
    expect(bad.status).toBe(400);
    expect(bad.body.issues.join(' ')).toMatch(/ssrc/);
    await waitFor(() => vigil.media.camera('extra')?.state === 'live', 10_000);
    // A viewer of the camera being updated is told to re-subscribe, and can.
    const c = await WsClient.open(vigil.url);
    await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: vigil.token(['**']) });
    const t = await c.request({ type: 'createRecvTransport' });
    const transportId = (t.ok && (t.data as { id: string }).id) as string;
    const caps = vigil.gateway.rtpCapabilities as unknown as Record<string, unknown>;
    const before = await c.request({ type: 'consume', transportId, cameraId: 'extra', rtpCapabilities: caps });
    expect(before.ok).toBe(true);
    const updated = await admin('PUT', '/cameras/extra', testCamera('extra', 'VP8'));
    expect(updated.status).toBe(200);
    expect(vigil.gateway.camera('extra')!.config.codec).toBe('VP8');
    await waitFor(() => c.notifications.length > 0, 3000);
    expect(c.notifications[0]).toMatchObject({ notification: 'consumerClosed', reason: 'resubscribe' });
    expect((await c.request({ type: 'consume', transportId, cameraId: 'extra', rtpCapabilities: caps })).ok).toBe(true);
    c.close();
    expect((await admin('DELETE', '/cameras/extra')).status).toBe(204);
    expect((await admin('DELETE', '/cameras/extra')).status).toBe(404);
    expect(vigil.gateway.camera('extra')).toBeUndefined();
  });

  it('reloads the config file: removed and added cameras change, an unaffected viewer keeps its consumer', async () => {
    const token = vigil.token(['**'], { subject: 'op' });
    const c = await WsClient.open(vigil.url);
    await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token });
    const t = await c.request({ type: 'createRecvTransport' });
    const transportId = (t.ok && (t.data as { id: string }).id) as string;
    const caps = vigil.gateway.rtpCapabilities as unknown as Record<string, unknown>;
    const keep = await c.request({ type: 'consume', transportId, cameraId: 'keep', rtpCapabilities: caps });
    const drop = await c.request({ type: 'consume', transportId, cameraId: 'drop', rtpCapabilities: caps });
    expect(keep.ok && drop.ok).toBe(true);
    const keepConsumer = (keep.ok && (keep.data as { consumerId: string }).consumerId) as string;
    const dropConsumer = (drop.ok && (drop.data as { consumerId: string }).consumerId) as string;
    expect((await admin('GET', '/cameras/keep')).body.viewers).toBe(1);

    writeConfig([testCamera('keep', 'VP8'), testCamera('new', 'H264')]);
    const reload = await admin('POST', '/config/reload');
    expect(reload.status).toBe(200);
    expect(reload.body).toMatchObject({ added: ['new'], removed: ['drop'], updated: [], unchanged: ['keep'], failed: [] });
    await waitFor(() => c.notifications.length > 0, 3000);
    expect(c.notifications).toEqual([{ notification: 'consumerClosed', consumerId: dropConsumer, reason: 'camera_gone' }]);
    // The unaffected viewer's consumer is still open: it can be paused and resumed.
    expect((await c.request({ type: 'pauseConsumer', consumerId: keepConsumer })).ok).toBe(true);
    expect((await c.request({ type: 'resumeConsumer', consumerId: keepConsumer })).ok).toBe(true);

    writeFileSync(configPath, '{ "cameras": [ { "id": "x", "codec": "H265" } ] }');
    const broken = await admin('POST', '/config/reload');
    expect(broken.status).toBe(400);
    expect(broken.body.message).toMatch(/cameras\[0\]/);
    expect(vigil.media.camera('keep')!.state).toBe('live');
    c.close();
  });
});

describe('README admin table', () => {
  it('lists every /admin/v1 route the server serves, and nothing it does not', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const documented = new Set(
      [...readme.matchAll(/^\| `(GET|POST|PUT|DELETE) (\/admin\/v1\/[^`]*)` \|/gm)].map(([, m, p]) => `${m} ${p!.replace(/:[a-z]+/g, ':x').replace(/\/\*$/, '/:x')}`),
    );
    const served = new Set<string>();
    for (const method of ['GET', 'POST', 'PUT', 'DELETE'] as const) {
      // printRoutes draws the radix tree, 4 columns per level: "├── /admin/v1/cameras (GET)" then "│   └── * (GET)"
      const stack: string[] = [];
      for (const line of vigil.app.printRoutes({ method }).split('\n')) {
        const m = /^([│├└─\s]*)(\S.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
        if (!m) continue;
        const depth = m[1]!.length / 4;
        stack.length = depth;
        stack.push(m[2]!);
        const path = stack.join('');
        if (m[3] && path.startsWith('/admin/v1/')) served.add(`${method} ${path.replace(/:[a-zA-Z]+/g, ':x').replace(/\/\*$/, '/:x')}`);
      }
    }
    expect(served.size).toBeGreaterThan(5);
    expect([...documented].sort()).toEqual([...served].sort());
  });
});
