/**
 * The audit trail and shutdown of a real Vigil process (node
 * server/src/main.ts, spawned with this Node): viewings survive kill -9
 * (the open one is closed as `unknown` on restart), the admin API queries
 * and exports them, SIGTERM drains and exits in bounds with every viewing
 * ended as `shutdown`, and nothing the processes print holds a planted secret.
 *
 * Cameras are rtp-push with no sender: a consumer can be created for a
 * camera still `connecting`, and no ffmpeg is left behind by kill -9.
 */
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@vigil/protocol';
import { signViewerToken } from '@vigil/server';
import { TEST_SECRET } from '../helpers/vigil.ts';
import { pidAlive, spawnVigil, tempDir, writeConfig, type VigilProcess } from '../helpers/vigil-process.ts';
import { WsClient } from '../helpers/ws-client.ts';
import { waitFor } from '../helpers/vigil.ts';

const RTSP_PASSWORD = 'Rtsp-Pl4nted-Secret';
const METRICS_TOKEN = 'planted-metrics-bearer-0123456789-abcdef';
const WRONG_ADMIN_KEY = 'planted-wrong-admin-key-0123456789-abcd';
const USER_AGENT = 'VigilAuditTest/1.0 (X11; planted)';

const camera = { id: 'door-1', codec: 'H264', source: { kind: 'rtp-push', port: 0, ssrc: 1234, payloadType: 96 } };
const started: VigilProcess[] = [];
const clients: WsClient[] = [];
const tokens: string[] = [];

function token(subject: string): string {
  const t = signViewerToken(TEST_SECRET, { subject, cameras: ['door-*'], ttlSec: 300 }, { issuer: 'vigil', audience: 'vigil-viewer' });
  tokens.push(t);
  return t;
}

async function start(configPath: string): Promise<VigilProcess> {
  const p = await spawnVigil(configPath);
  started.push(p);
  return p;
}

/** join -> transport -> consume door-1 over the bare protocol; returns the client and consumer id. */
async function watch(p: VigilProcess, subject: string): Promise<{ client: WsClient; consumerId: string }> {
  const client = await WsClient.open(p.url, undefined, { headers: { 'user-agent': USER_AGENT } });
  clients.push(client);
  expect((await client.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: token(subject) })).ok).toBe(true);
  const caps = await client.request({ type: 'getRouterRtpCapabilities' });
  const t = await client.request({ type: 'createRecvTransport' });
  if (!caps.ok || !t.ok) throw new Error('refused');
  const c = await client.request({
    type: 'consume',
    transportId: (t.data as { id: string }).id,
    cameraId: 'door-1',
    rtpCapabilities: (caps.data as { rtpCapabilities: Record<string, unknown> }).rtpCapabilities,
  });
  if (!c.ok) throw new Error(`consume refused: ${JSON.stringify(c)}`);
  return { client, consumerId: (c.data as { consumerId: string }).consumerId };
}

afterAll(async () => {
  for (const c of clients) c.close();
  for (const p of started) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
    for (const pid of p.workerPids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  }
});

describe('audit trail across kill -9 and restart', () => {
  const dir = tempDir();
  const auditPath = join(dir, 'data', 'audit.sqlite');
  const config = writeConfig(dir, {
    cameras: [camera],
    log: { level: 'debug' },
    audit: { path: auditPath, heartbeatSec: 1 },
    metrics: { bearerToken: METRICS_TOKEN },
  });

  it('keeps every viewing; the one open at the kill is ended as unknown at restart', async () => {
    const first = await start(config);
    expect(first.workerPids.length).toBe(1);
    const t0 = Date.now();
    const alice = await watch(first, 'alice');
    expect((await alice.client.request({ type: 'closeConsumer', consumerId: alice.consumerId })).ok).toBe(true);
    const bob = await watch(first, 'bob');

    // Planted secrets reach the process: an RTSP URL with a password in a logged URL,
    // a wrong admin key, the metrics bearer credential, viewer JWTs (above).
    expect((await fetch(`${first.url}/healthz?src=rtsp://admin:${RTSP_PASSWORD}@10.0.0.9:554/ch1`)).status).toBe(200);
    expect((await fetch(`${first.url}/admin/v1/audit/viewings`, { headers: { authorization: `Bearer ${WRONG_ADMIN_KEY}` } })).status).toBe(401);
    expect((await fetch(`${first.url}/metrics`)).status).toBe(401);
    const m = await fetch(`${first.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(m.status).toBe(200);
    expect(await m.text()).toContain('vigil_camera_consumers{camera="door-1"} 1');

    const live = await (await first.admin('/audit/viewings?camera=door-1')).json();
    expect(live.viewings.map((v: { subject: string; endReason: string | null }) => [v.subject, v.endReason])).toEqual([
      ['alice', 'left'],
      ['bob', null],
    ]);

    // Let a heartbeat land after bob's start, then kill -9.
    await new Promise((r) => setTimeout(r, 1500));
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    // The mediasoup worker notices its parent's pipe closing and exits too.
    await waitFor(() => first.workerPids.every((pid) => !pidAlive(pid)), 10_000, 100);

    const second = await start(config);
    expect(second.logs().find((l) => String(l['msg']).includes('closed as unknown'))).toMatchObject({ recovered: 1 });
    const res = await second.admin('/audit/viewings');
    expect(res.status).toBe(200);
    const { viewings, next } = await res.json();
    expect(next).toBeNull();
    expect(viewings).toHaveLength(2);
    const [a, b] = viewings;
    expect(a).toMatchObject({ subject: 'alice', camera: 'door-1', endReason: 'left', endDetail: 'left', userAgent: USER_AGENT });
    expect(a.clientAddress).toMatch(/127\.0\.0\.1/);
    expect(b).toMatchObject({ subject: 'bob', camera: 'door-1', endReason: 'unknown', endDetail: 'process_ended', consumerId: bob.consumerId });
    // Ended at the dead process's last heartbeat: after bob started, not after the kill.
    expect(Date.parse(b.end)).toBeGreaterThanOrEqual(Date.parse(b.start));
    expect(Date.parse(b.end)).toBeLessThanOrEqual(killedAt);
    expect(Date.parse(a.start)).toBeGreaterThanOrEqual(t0 - 1000);

    // Queries: by subject, by time range (ISO), a bad range.
    const bySubject = await (await second.admin('/audit/viewings?subject=bob')).json();
    expect(bySubject.viewings.map((v: { subject: string }) => v.subject)).toEqual(['bob']);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const later = await (await second.admin(`/audit/viewings?from=${encodeURIComponent(future)}`)).json();
    expect(later.viewings).toEqual([]);
    const paged = await (await second.admin('/audit/viewings?limit=1')).json();
    expect(paged.viewings.map((v: { subject: string }) => v.subject)).toEqual(['alice']);
    const page2 = await (await second.admin(`/audit/viewings?limit=1&after=${paged.next}`)).json();
    expect(page2.viewings.map((v: { subject: string }) => v.subject)).toEqual(['bob']);
    const bad = await second.admin('/audit/viewings?from=yesterday');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'bad_request' });
    expect((await second.admin('/audit/viewings?limit=999999')).status).toBe(400);

    // CSV export.
    const csv = await second.admin('/audit/viewings.csv?camera=door-1');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = (await csv.text()).trimEnd().split('\r\n');
    expect(rows).toHaveLength(3);
    expect(rows[0]).toBe('id,subject,camera,start,end,end_reason,end_detail,duration_s,client_address,user_agent,session_id,consumer_id,token_id');
    expect(rows[1]).toMatch(/^1,alice,door-1,\d{4}-.*,left,left,[\d.]+,.*,VigilAuditTest\/1\.0 \(X11; planted\),/);
    expect(rows[2]).toMatch(/^2,bob,door-1,.*,unknown,process_ended,/);
    console.log(`[audit query] GET /admin/v1/audit/viewings.csv?camera=door-1\n${rows.join('\n')}`);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    // Nothing either process printed holds a planted secret.
    const printed = started.map((p) => p.stdout() + p.stderr()).join('\n');
    expect(printed).toContain('rtsp://[redacted]@10.0.0.9:554/ch1');
    for (const secret of [RTSP_PASSWORD, METRICS_TOKEN, WRONG_ADMIN_KEY, TEST_SECRET, ...tokens, ...tokens.map((t) => t.split('.')[2]!)]) {
      expect(printed).not.toContain(secret);
    }
    const { TEST_ADMIN_KEY } = await import('../helpers/vigil.ts');
    expect(printed).not.toContain(TEST_ADMIN_KEY);
  }, 60_000);
});

describe('graceful shutdown on SIGTERM', () => {
  it('drains (readyz 503, new viewers refused), tells viewers, ends their viewings, exits 0 in bounds', async () => {
    const dir = tempDir();
    const auditPath = join(dir, 'audit.sqlite');
    const timeoutMs = 8000;
    const config = writeConfig(dir, { cameras: [camera], audit: { path: auditPath }, shutdown: { drainDelayMs: 1500, timeoutMs } });
    const p = await start(config);
    const carol = await watch(p, 'carol');
    const idle = await WsClient.open(p.url); // connected, never joined
    clients.push(idle);
    expect((await fetch(`${p.url}/readyz`)).status).toBe(200);

    const t0 = Date.now();
    const carolClosed = carol.client.closed();
    const idleClosed = idle.closed();
    p.child.kill('SIGTERM');
    await waitFor(async () => (await fetch(`${p.url}/readyz`)).status === 503, 3000, 50);
    const ready = await (await fetch(`${p.url}/readyz`)).json();
    expect(ready).toMatchObject({ status: 'not_ready', checks: { accepting: false, workers: true } });
    expect((await fetch(`${p.url}/healthz`)).status).toBe(200);
    await expect(WsClient.open(p.url)).rejects.toThrow(/503/);
    // The connection that never joined is ended at once; carol keeps watching during the drain.
    expect(await idleClosed).toBe(1001);
    expect(idle.notifications).toContainEqual({ notification: 'sessionClosed', reason: 'server_shutdown' });
    expect(carol.client.notifications).toEqual([]);

    expect(await carolClosed).toBe(1001);
    expect(carol.client.notifications).toContainEqual({ notification: 'sessionClosed', reason: 'server_shutdown' });
    expect(await p.exited).toBe(0);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(timeoutMs);
    expect(p.logs().find((l) => l['msg'] === 'shutdown complete')).toBeDefined();

    const db = new DatabaseSync(auditPath, { readOnly: true });
    const rows = db.prepare('SELECT subject, end_reason, end_detail, ended_at FROM viewings').all();
    db.close();
    expect(rows).toEqual([expect.objectContaining({ subject: 'carol', end_reason: 'shutdown', end_detail: 'server_shutdown' })]);
  }, 30_000);
});
