/**
 * The PostgreSQL audit store against a real PostgreSQL (test/helpers/postgres.ts):
 * migrations versioned and applied once when nodes start together, rows of
 * several nodes in one query, node heartbeats (a silent node's open viewings
 * closed as `unknown` at its last heartbeat, only by a node that has itself
 * been alive for a whole bound), the leader, a restarted node closing its
 * own leftovers, retention by age and size, and the write queue keeping
 * order and waiting out a database that is down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { PgAuditStore } from '../src/audit/pg-audit-store.ts';
import { WriteQueue } from '../src/audit/write-queue.ts';
import type { ViewingStart } from '../src/audit/audit-store.ts';
import { startPostgres, type TestPostgres } from '../../test/helpers/postgres.ts';
import { waitFor } from '../../test/helpers/vigil.ts';

let db: TestPostgres;
const stores: PgAuditStore[] = [];
const T0 = Date.parse('2025-03-01T10:00:00Z');

/** A fresh database per test, so tests do not see each other's nodes. */
async function database(): Promise<string> {
  const name = `t${Math.random().toString(36).slice(2, 10)}`;
  const c = new pg.Client(db.url);
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  return db.url.replace(/\/postgres$/, `/${name}`);
}

async function open(url: string, nodeId: string, nodeTimeoutMs = 1000) {
  const o = await PgAuditStore.open({ url, nodeId, nodeTimeoutMs, connectTimeoutMs: 500 });
  stores.push(o.store);
  return o;
}

function viewing(n: number, extra: Partial<ViewingStart> = {}): ViewingStart {
  return {
    consumerId: `c-${n}`,
    sessionId: `s-${n}`,
    subject: 'alice',
    camera: 'gate-1',
    startedAt: T0 + n * 60_000,
    clientAddress: '192.0.2.7',
    userAgent: 'Mozilla/5.0',
    tokenId: undefined,
    ...extra,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  db = await startPostgres();
}, 60_000);

afterAll(async () => {
  for (const s of stores) await s.close();
  await db?.destroy();
});

describe('PostgreSQL audit store', () => {
  it('applies the migrations once when two nodes start at the same time; a newer schema is refused', async () => {
    const url = await database();
    const [x, y] = await Promise.all([open(url, 'x'), open(url, 'y')]);
    expect([x.migrated, y.migrated].sort()).toEqual([[], [1]]);
    const c = new pg.Client(url);
    await c.connect();
    try {
      expect((await c.query('SELECT version FROM vigil_schema_migrations')).rows).toEqual([{ version: 1 }]);
      await c.query("INSERT INTO vigil_schema_migrations (version, name) VALUES (99, 'from the future')");
    } finally {
      await c.end();
    }
    await expect(open(url, 'z')).rejects.toThrow(/schema is version 99, newer than this Vigil knows \(1\)/);
  });

  it('one query answers for every node; filters, pagination, open rows and reopen behave as with SQLite', async () => {
    const url = await database();
    const { store: a } = await open(url, 'node-a');
    const { store: b } = await open(url, 'node-b');
    await a.start(viewing(1, { camera: 'yard/1' }));
    await b.start(viewing(2, { camera: 'yard/1', subject: 'bob' }));
    await b.start(viewing(3, { camera: 'gate-1', subject: "bob' OR '1'='1" }));
    expect(await a.end('c-1', T0 + 90_000, 'left', 'disconnected')).toBe(true);
    expect(await a.end('c-1', T0 + 99_000, 'error', 'camera_gone')).toBe(false);
    const rows = await b.query({ camera: 'yard/1', limit: 10 });
    expect(rows.map((r) => [r.consumerId, r.node, r.endReason, r.endedAt])).toEqual([
      ['c-1', 'node-a', 'left', T0 + 90_000],
      ['c-2', 'node-b', null, null],
    ]);
    expect(rows[0]).toMatchObject({ id: 1, sessionId: 's-1', subject: 'alice', startedAt: T0 + 60_000, clientAddress: '192.0.2.7', tokenId: null });
    expect((await a.query({ open: true, limit: 10 })).map((r) => r.consumerId)).toEqual(['c-2', 'c-3']);
    expect((await a.query({ open: false, limit: 10 })).map((r) => r.consumerId)).toEqual(['c-1']);
    expect((await a.query({ subject: 'bob', limit: 10 })).map((r) => r.consumerId)).toEqual(['c-2']);
    expect((await a.query({ from: T0 + 100_000, limit: 10 })).map((r) => r.consumerId)).toEqual(['c-2', 'c-3']);
    expect((await a.query({ to: T0 + 120_000, limit: 10 })).map((r) => r.consumerId)).toEqual(['c-1']);
    const ids: string[] = [];
    for await (const v of a.iterate({ limit: 1 })) ids.push(v.consumerId);
    expect(ids).toEqual(['c-1', 'c-2', 'c-3']);
    expect(await a.reopen('c-1')).toBe(true);
    expect((await a.query({ open: true, limit: 10 })).map((r) => r.consumerId)).toEqual(['c-1', 'c-2', 'c-3']);
    const watch = await b.watchByCamera(['yard/1', 'gate-1', 'dock']);
    expect(watch.get('yard/1')).toEqual({ consumers: 2, viewers: 2, lastWatchedAt: undefined });
    expect(watch.get('dock')).toEqual({ consumers: 0, viewers: 0, lastWatchedAt: undefined });
    await a.end('c-1', T0 + 95_000, 'left', undefined);
    expect((await b.watchByCamera(['yard/1'])).get('yard/1')).toEqual({ consumers: 1, viewers: 1, lastWatchedAt: T0 + 95_000 });
    // A duplicate consumer id is a final error, not "unavailable".
    const dup = await a.start(viewing(1)).catch((e: unknown) => e);
    expect(a.isUnavailable(dup)).toBe(false);
  });

  it('a node silent for longer than the bound has its open viewings closed as unknown at its last heartbeat; the oldest live node leads', async () => {
    const url = await database();
    const { store: a } = await open(url, 'node-a', 1000);
    const { store: b } = await open(url, 'node-b', 1000);
    await b.start(viewing(1, { startedAt: Date.now() - 5000 }));
    await b.start(viewing(2, { startedAt: Date.now() - 5000 }));
    await b.end('c-2', Date.now(), 'left', undefined);
    expect((await a.heartbeat()).leader).toBe(true);
    expect((await b.heartbeat()).leader).toBe(false);
    const lastOfB = Date.now();
    // node-b falls silent; node-a keeps heartbeating.
    let recovered = 0;
    const deadline = Date.now() + 5000;
    while (recovered === 0 && Date.now() < deadline) {
      await sleep(200);
      recovered += (await a.heartbeat()).recovered;
    }
    expect(recovered).toBe(1);
    const [row1, row2] = await a.query({ limit: 10 });
    expect(row1).toMatchObject({ consumerId: 'c-1', endReason: 'unknown', endDetail: 'node_lost' });
    expect(row1!.endedAt!).toBeLessThanOrEqual(lastOfB + 50);
    expect(row2).toMatchObject({ consumerId: 'c-2', endReason: 'left' });
    // A node taken for dead writes again: it is a node again, and not the leader (younger).
    expect((await b.heartbeat()).leader).toBe(false);
    // Its reopen of a viewing closed as unknown changes nothing.
    expect(await b.reopen('c-1')).toBe(false);
  });

  it('after the database was down, no node reaps another before it has been alive a whole bound', async () => {
    const url = await database();
    const { store: a } = await open(url, 'node-a', 1000);
    const { store: b } = await open(url, 'node-b', 1000);
    await b.start(viewing(1, { startedAt: Date.now() }));
    await sleep(1100);
    await a.heartbeat();
    await b.heartbeat();
    // Both silent for longer than the bound (as during an outage); node-a comes back first.
    await sleep(1500);
    expect((await a.heartbeat()).recovered).toBe(0);
    await sleep(300);
    expect((await a.heartbeat()).recovered).toBe(0);
    await b.heartbeat();
    await sleep(900);
    expect((await a.heartbeat()).recovered).toBe(0);
    expect((await a.query({ open: true, limit: 10 })).map((r) => r.consumerId)).toEqual(['c-1']);
  });

  it('a node restarted under the same id closes its own leftovers at once; another id leaves them for the bound', async () => {
    const url = await database();
    const { store: a } = await open(url, 'node-a');
    await a.start(viewing(1));
    await a.heartbeat();
    const again = await open(url, 'node-a');
    expect(again.recovered).toBe(1);
    expect((await again.store.query({ limit: 10 }))[0]).toMatchObject({ endReason: 'unknown', endDetail: 'process_ended' });
  });

  it('prunes by age and by size, keeping open viewings', async () => {
    const url = await database();
    const { store } = await open(url, 'node-a');
    const agent = 'Mozilla/5.0 '.repeat(40);
    for (let i = 1; i <= 400; i++) await store.start(viewing(i, { userAgent: agent }));
    for (let i = 1; i <= 390; i++) await store.end(`c-${i}`, T0 + i * 60_000 + 1, 'left', undefined);
    expect(await store.prune(T0 + 11 * 60_000)).toBe(10);
    const { used } = await store.usedBytes();
    expect(used).toBeGreaterThan(100_000);
    expect(await store.pruneToSize(used)).toBe(0);
    const deleted = await store.pruneToSize(Math.floor(used / 4));
    expect(deleted).toBeGreaterThan(0);
    expect((await store.usedBytes()).used).toBeLessThanOrEqual((used / 4) * 0.9);
    const rows = await store.query({ limit: 1000 });
    expect(rows[0]!.id).toBe(10 + deleted + 1);
    expect(rows.filter((r) => r.endedAt === null)).toHaveLength(10);
    expect(await store.sizeBytes()).toBeGreaterThan(0);
  });

  it('the write queue keeps order and waits out a database that is down; writes are in once it is back', async () => {
    const url = await database();
    const { store } = await open(url, 'node-a');
    const errors: string[] = [];
    const availability: boolean[] = [];
    const q = new WriteQueue({
      max: 3,
      retryMs: 100,
      isUnavailable: (e) => store.isUnavailable(e),
      onError: (op) => errors.push(op),
      onAvailability: (down) => availability.push(down),
    });
    await db.stop();
    try {
      expect(q.push('start', () => store.start(viewing(1)))).toBe(true);
      expect(q.push('end', () => store.end('c-1', T0 + 70_000, 'left', undefined))).toBe(true);
      expect(q.push('start', () => store.start(viewing(2)))).toBe(true);
      expect(q.push('start', () => store.start(viewing(3)))).toBe(false);
      await waitFor(() => q.unavailable, 5000, 20);
      expect(q.waiting).toBe(3);
      expect(q.dropped).toBe(1);
    } finally {
      await db.start();
    }
    expect(await q.flush(10_000)).toBe(0);
    q.stop();
    expect(errors).toEqual([]);
    expect(availability).toEqual([true, false]);
    const rows = await store.query({ limit: 10 });
    expect(rows.map((r) => [r.consumerId, r.endReason])).toEqual([
      ['c-1', 'left'],
      ['c-2', null],
    ]);
  }, 30_000);
});
