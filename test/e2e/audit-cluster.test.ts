/**
 * One audit trail and one coverage view for a cluster: two real Vigil
 * processes (node-a, node-b) on loopback sharing one real PostgreSQL
 * (test/helpers/postgres.ts), each ingesting the same three test-pattern
 * cameras (the camera list is the same config on every node).
 *
 * - viewings of one camera on both nodes are in one audit query and in the
 *   CSV export, from either node;
 * - a camera watched only on node-b counts as watched in node-a's
 *   /admin/v1/oversight, and the coverage gauges are exported once (by the
 *   leader, the oldest node);
 * - the operator page (Chromium) shows the real cameras and viewers;
 * - database down: viewing goes on, writes queue, /readyz and metrics say
 *   so, the rows are written when it returns;
 * - kill -9 of node-b: node-a closes node-b's open viewings as `unknown`
 *   within the heartbeat bound.
 */
import { mkdirSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { PROTOCOL_VERSION } from '@vigil/protocol';
import { signViewerToken } from '@vigil/server';
import { launchChromium } from '../helpers/browser.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { TEST_ADMIN_KEY, TEST_SECRET, waitFor } from '../helpers/vigil.ts';
import { pidAlive, spawnVigil, tempDir, writeConfig, type VigilProcess } from '../helpers/vigil-process.ts';
import { WsClient } from '../helpers/ws-client.ts';

const HEARTBEAT_SEC = 1;
const NODE_TIMEOUT_SEC = 3;
const CAMERAS = ['yard-1', 'gate-2', 'dock-3'];
const camera = (id: string) => ({
  id,
  codec: 'VP8',
  source: { kind: 'test-pattern', width: 160, height: 90, fps: 5, gopFrames: 5, bitrate: 60_000 },
});

let db: TestPostgres;
let a: VigilProcess;
let b: VigilProcess;
const clients: WsClient[] = [];
const started: VigilProcess[] = [];

async function startNode(dir: string, nodeId: string): Promise<VigilProcess> {
  const config = writeConfig(
    dir,
    {
      cameras: CAMERAS.map(camera),
      audit: { heartbeatSec: HEARTBEAT_SEC, postgres: { url: db.url, nodeId, nodeTimeoutSec: NODE_TIMEOUT_SEC, pollMs: 200, connectTimeoutMs: 500 } },
      metrics: { unwatchedAfterSec: 1 },
    },
    `${nodeId}.json`,
  );
  // Two processes, six ffmpeg cameras and PostgreSQL on two shared cores: allow a slow start.
  const p = await spawnVigil(config, 60_000);
  started.push(p);
  return p;
}

/** join -> transport -> consume `cameraId` over the bare protocol as `subject`. */
async function watch(p: VigilProcess, subject: string, cameraId: string): Promise<{ client: WsClient; consumerId: string }> {
  const client = await WsClient.open(p.url);
  clients.push(client);
  const token = signViewerToken(TEST_SECRET, { subject, cameras: ['**'], ttlSec: 600 }, { issuer: 'vigil', audience: 'vigil-viewer' });
  expect((await client.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token })).ok).toBe(true);
  const caps = await client.request({ type: 'getRouterRtpCapabilities' });
  const t = await client.request({ type: 'createRecvTransport' });
  if (!caps.ok || !t.ok) throw new Error('refused');
  const c = await client.request({
    type: 'consume',
    transportId: (t.data as { id: string }).id,
    cameraId,
    rtpCapabilities: (caps.data as { rtpCapabilities: Record<string, unknown> }).rtpCapabilities,
  });
  if (!c.ok) throw new Error(`consume refused: ${JSON.stringify(c)}`);
  return { client, consumerId: (c.data as { consumerId: string }).consumerId };
}

interface ViewingJson {
  subject: string;
  camera: string;
  node: string;
  end: string | null;
  endReason: string | null;
  endDetail: string | null;
  consumerId: string;
}

async function viewings(p: VigilProcess, query: string): Promise<ViewingJson[]> {
  const res = await p.admin(`/audit/viewings?${query}`);
  expect(res.status).toBe(200);
  return (await res.json()).viewings;
}

async function metrics(p: VigilProcess): Promise<string> {
  return (await fetch(`${p.url}/metrics`)).text();
}

function gauge(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

async function oversight(p: VigilProcess) {
  return (await p.admin('/oversight')).json() as Promise<{
    live: number;
    watched: number;
    coverage: number;
    leader: boolean;
    cameras: { camera: string; state: string; consumers: number; viewers: number }[];
  }>;
}

beforeAll(async () => {
  db = await startPostgres();
  const dir = tempDir('vigil-cluster-');
  a = await startNode(dir, 'node-a');
  b = await startNode(dir, 'node-b');
  for (const p of [a, b]) {
    await waitFor(async () => (await oversight(p)).live === CAMERAS.length, 20_000, 200);
  }
}, 150_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const p of started) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
    for (const pid of p.workerPids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  await db?.destroy();
});

describe('cluster audit trail and oversight on one PostgreSQL', () => {
  let alice: { client: WsClient; consumerId: string };
  let bob: { client: WsClient; consumerId: string };
  let carol: { client: WsClient; consumerId: string };

  it('applied the schema once: both nodes share one migrated database', async () => {
    const c = new pg.Client(db.url);
    await c.connect();
    try {
      const m = await c.query('SELECT version FROM vigil_schema_migrations ORDER BY version');
      expect(m.rows.map((r) => r.version)).toEqual([1]);
      const n = await c.query('SELECT node_id FROM nodes ORDER BY node_id');
      expect(n.rows.map((r) => r.node_id)).toEqual(['node-a', 'node-b']);
    } finally {
      await c.end();
    }
    expect(a.logs().find((l) => l['msg'] === 'audit trail open (shared PostgreSQL)')).toMatchObject({ migrated: [1], node: 'node-a' });
    expect(b.logs().find((l) => l['msg'] === 'audit trail open (shared PostgreSQL)')).toMatchObject({ migrated: [], node: 'node-b' });
  });

  it('viewings of one camera on both nodes are in one audit query and one CSV export, from either node', async () => {
    alice = await watch(a, 'alice', 'yard-1');
    bob = await watch(b, 'bob', 'yard-1');
    carol = await watch(b, 'carol', 'gate-2');
    for (const p of [a, b]) {
      const rows = await viewings(p, 'camera=yard-1');
      expect(rows.map((v) => [v.subject, v.node, v.endReason])).toEqual([
        ['alice', 'node-a', null],
        ['bob', 'node-b', null],
      ]);
    }
    const open = await viewings(a, 'open=true');
    expect(open.map((v) => `${v.subject}@${v.camera}`).sort()).toEqual(['alice@yard-1', 'bob@yard-1', 'carol@gate-2']);
    const csv = await (await b.admin('/audit/viewings.csv?camera=yard-1')).text();
    const lines = csv.trimEnd().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(`,alice,yard-1,`);
    expect(lines[1]).toContain(alice.consumerId);
    expect(lines[2]).toContain(`,bob,yard-1,`);
    expect(lines[2]).toContain(bob.consumerId);
  });

  it('a camera watched only on node-b counts as watched on node-a; the coverage gauges are exported once, by the leader', async () => {
    await waitFor(async () => (await oversight(a)).watched === 2, 5000, 100);
    const o = await oversight(a);
    expect(o).toMatchObject({ live: 3, watched: 2, leader: true });
    expect(o.coverage).toBeCloseTo(2 / 3, 5);
    const byId = new Map(o.cameras.map((c) => [c.camera, c]));
    expect(byId.get('gate-2')).toMatchObject({ consumers: 1, viewers: 1 });
    expect(byId.get('yard-1')).toMatchObject({ consumers: 2, viewers: 2 });
    expect(byId.get('dock-3')).toMatchObject({ consumers: 0 });
    // Unwatched longest first: dock-3 (nobody) leads.
    expect(o.cameras[0]!.camera).toBe('dock-3');
    expect((await oversight(b)).leader).toBe(false);

    const [ma, mb] = await Promise.all([metrics(a), metrics(b)]);
    expect(gauge(ma, 'vigil_oversight_leader')).toBe(1);
    expect(gauge(mb, 'vigil_oversight_leader')).toBe(0);
    expect(gauge(ma, 'vigil_coverage_ratio')).toBeCloseTo(2 / 3, 5);
    expect(gauge(ma, 'vigil_cameras_watched')).toBe(2);
    expect(gauge(ma, 'vigil_cameras_unwatched')).toBe(1);
    expect(ma).toMatch(/^vigil_camera_consumers\{camera="gate-2"\} 1$/m);
    // node-b exports none of the cluster-scoped series: a sum over instances counts each once.
    for (const name of ['vigil_coverage_ratio', 'vigil_cameras_watched', 'vigil_cameras_unwatched', 'vigil_camera_consumers', 'vigil_camera_unwatched_seconds']) {
      expect(mb).not.toMatch(new RegExp(`^${name}[ {]`, 'm'));
    }
    expect(gauge(mb, 'vigil_audit_store_up')).toBe(1);
  });

  it('the operator page shows the cluster: cameras by state, unwatched first, who watches what, CSV links', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`${a.url}/operator/`);
      await page.fill('#key', TEST_ADMIN_KEY);
      await page.click('button[type=submit]');
      await page.waitForSelector('body[data-loaded=true]', { timeout: 10_000 });
      expect(await page.isHidden('#login')).toBe(true);
      const watching = await page.$$eval('#watching tr', (trs) => trs.map((tr) => `${(tr as HTMLElement).dataset['subject']}@${(tr as HTMLElement).dataset['camera']}`));
      expect(watching.sort()).toEqual(['alice@yard-1', 'bob@yard-1', 'carol@gate-2']);
      expect(await page.textContent('#watching')).toContain('node-b');
      expect(await page.$$eval('#unwatched tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset['camera']))).toEqual(['dock-3']);
      expect(await page.$$eval('#cameras tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset['camera']))).toEqual(['dock-3', 'gate-2', 'yard-1']);
      expect(await page.textContent('#by-state')).toMatch(/live\s*3/);
      expect(await page.textContent('#k-coverage')).toBe('67 %');
      const href = await page.getAttribute('#unwatched a[data-export]', 'href');
      expect(href).toBe('/admin/v1/audit/viewings.csv?camera=dock-3');
      // The export link downloads with the credential (a plain link could not send it).
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#cameras tr[data-camera="yard-1"] a[data-export]')]);
      const csvPath = await download.path();
      const { readFileSync } = await import('node:fs');
      const csv = readFileSync(csvPath, 'utf8');
      expect(csv).toContain(',alice,yard-1,');
      expect(csv).toContain(',bob,yard-1,');
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/operator-view.png', fullPage: true });
      expect(statSync('test-results/operator-view.png').size).toBeGreaterThan(20_000);
      // A wrong credential gets the login form back, and no data.
      const other = await browser.newPage();
      await other.goto(`${b.url}/operator/`);
      await other.fill('#key', 'not-the-admin-key-0123456789');
      await other.click('button[type=submit]');
      await other.waitForSelector('#login-error:has-text("refused")');
      expect(await other.isHidden('#view')).toBe(true);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('database down: viewing goes on, writes queue, /readyz and metrics say so; the rows are written when it returns', async () => {
    await db.stop();
    // node-b's viewer leaves and a new one starts while the database is down.
    expect((await carol.client.request({ type: 'closeConsumer', consumerId: carol.consumerId })).ok).toBe(true);
    const dave = await watch(b, 'dave', 'dock-3');
    await waitFor(async () => (await fetch(`${b.url}/readyz`)).status === 503, 5000, 100);
    expect(await (await fetch(`${b.url}/readyz`)).json()).toMatchObject({ status: 'not_ready', checks: { audit: false, workers: true } });
    const mb = await metrics(b);
    expect(gauge(mb, 'vigil_audit_store_up')).toBe(0);
    expect(gauge(mb, 'vigil_audit_queued_writes')).toBe(2);
    // Alice still plays on node-a: her consumer is there and the session answers.
    expect((await alice.client.request({ type: 'getRouterRtpCapabilities' })).ok).toBe(true);
    // Let the outage outlast the node timeout: nobody may be taken for dead because of it.
    await new Promise((r) => setTimeout(r, (NODE_TIMEOUT_SEC + 1) * 1000));

    await db.start();
    await waitFor(async () => (await fetch(`${b.url}/readyz`)).status === 200, 15_000, 200);
    expect(gauge(await metrics(b), 'vigil_audit_queued_writes')).toBe(0);
    const rows = await viewings(a, '');
    const bySubject = new Map(rows.map((v) => [v.subject, v]));
    expect(bySubject.get('carol')).toMatchObject({ node: 'node-b', endReason: 'left', endDetail: 'left' });
    expect(bySubject.get('dave')).toMatchObject({ node: 'node-b', camera: 'dock-3', endReason: null, consumerId: dave.consumerId });
    // Two heartbeat bounds after the return, still nobody was reaped.
    await new Promise((r) => setTimeout(r, (NODE_TIMEOUT_SEC + 1) * 1000));
    expect((await viewings(a, 'open=true')).map((v) => v.subject).sort()).toEqual(['alice', 'bob', 'dave']);
  }, 60_000);

  it('kill -9 of node-b: node-a closes its open viewings as unknown within the heartbeat bound', async () => {
    await new Promise((r) => setTimeout(r, HEARTBEAT_SEC * 1000 + 200));
    const killedAt = Date.now();
    b.child.kill('SIGKILL');
    expect(await b.exited).toBe('SIGKILL');
    await waitFor(async () => (await viewings(a, 'open=true')).length === 1, (NODE_TIMEOUT_SEC + 3 * HEARTBEAT_SEC) * 1000, 100);
    const closedWithin = Date.now() - killedAt;
    // Bound: the node timeout plus one heartbeat of the noticing node (and a scheduling margin).
    expect(closedWithin).toBeLessThanOrEqual((NODE_TIMEOUT_SEC + 2 * HEARTBEAT_SEC) * 1000);
    const rows = await viewings(a, '');
    const bySubject = new Map(rows.map((v) => [v.subject, v]));
    for (const s of ['bob', 'dave']) {
      const v = bySubject.get(s)!;
      expect(v).toMatchObject({ node: 'node-b', endReason: 'unknown', endDetail: 'node_lost' });
      // Ended at node-b's last heartbeat: not after the kill.
      expect(Date.parse(v.end!)).toBeLessThanOrEqual(killedAt + 50);
    }
    expect(bySubject.get('alice')).toMatchObject({ endReason: null });
    await waitFor(async () => (await oversight(a)).watched === 1, 5000, 100);
    const o = await oversight(a);
    expect(new Map(o.cameras.map((c) => [c.camera, c.consumers]))).toEqual(new Map([['yard-1', 1], ['gate-2', 0], ['dock-3', 0]]));
  }, 30_000);
});
