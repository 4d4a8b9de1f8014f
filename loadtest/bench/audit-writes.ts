/**
 * Audit write cost: commit latency of one viewing's start and end, and the
 * viewings (rows) per second one node sustains through its write path, for
 * the cluster store (PostgreSQL, started here with fsync on, on loopback)
 * and the single-node store (SQLite file), on this machine.
 *
 * - Latency: `--viewings` viewings written one after another, each start and
 *   end timed from the call to its commit (p50/p95, ms).
 * - Throughput: the same number of viewings pushed at once into the node's
 *   ordered write queue (`WriteQueue`, as the recorder does: one write at a
 *   time, in order), timed until the queue is empty; a viewing is one insert
 *   and one update.
 *
 * Usage: npm run bench:audit [-- --viewings 2000]
 * Bounded: at most 20 000 viewings per phase; PostgreSQL is removed at exit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AuditStore, ViewingStart } from '../../server/src/audit/audit-store.ts';
import { PgAuditStore } from '../../server/src/audit/pg-audit-store.ts';
import { SqliteAuditStore } from '../../server/src/audit/sqlite-audit-store.ts';
import { WriteQueue } from '../../server/src/audit/write-queue.ts';
import { startPostgres } from '../../test/helpers/postgres.ts';
import { fixed, machineLine, markdownTable } from '../src/machine.ts';

const { values } = parseArgs({ options: { viewings: { type: 'string', default: '2000' } } });
const N = Math.min(20_000, Math.max(100, Number(values.viewings)));

function viewing(prefix: string, i: number): ViewingStart {
  return {
    consumerId: `${prefix}-${i}`,
    sessionId: `s-${i % 500}`,
    subject: `operator-${i % 50}`,
    camera: `site-${i % 20}/cam-${i % 370}`,
    startedAt: Date.now(),
    clientAddress: '192.0.2.7',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
    tokenId: `tok-${i}`,
  };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface Result {
  store: string;
  startP50: number;
  startP95: number;
  endP50: number;
  endP95: number;
  viewingsPerSec: number;
}

async function measure(name: string, store: AuditStore): Promise<Result> {
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < N; i++) {
    const v = viewing('lat', i);
    let t = performance.now();
    await store.start(v);
    starts.push(performance.now() - t);
    t = performance.now();
    await store.end(v.consumerId, Date.now(), 'left', 'left');
    ends.push(performance.now() - t);
  }
  starts.sort((a, b) => a - b);
  ends.sort((a, b) => a - b);
  const q = new WriteQueue({ max: 2 * N + 1, retryMs: 100, isUnavailable: () => false, onError: (op, err) => console.error(op, err) });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const v = viewing('tput', i);
    q.push('start', () => store.start(v));
    q.push('end', () => store.end(v.consumerId, Date.now(), 'left', 'left'));
  }
  const left = await q.flush(600_000);
  const seconds = (performance.now() - t0) / 1000;
  q.stop();
  if (left > 0) throw new Error(`${name}: ${left} writes not done`);
  return {
    store: name,
    startP50: quantile(starts, 0.5),
    startP95: quantile(starts, 0.95),
    endP50: quantile(ends, 0.5),
    endP95: quantile(ends, 0.95),
    viewingsPerSec: N / seconds,
  };
}

console.log(machineLine());
const db = await startPostgres({ fsync: true });
const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-audit-'));
const results: Result[] = [];
try {
  const pg = (await PgAuditStore.open({ url: db.url, nodeId: 'bench', nodeTimeoutMs: 15_000 })).store;
  results.push(await measure('PostgreSQL 15, loopback, fsync on (cluster)', pg));
  await pg.close();
  const sqlite = SqliteAuditStore.open(join(dir, 'audit.sqlite')).store;
  results.push(await measure('SQLite file, WAL, synchronous=NORMAL (single node)', sqlite));
  await sqlite.close();
} finally {
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${N} viewings per phase; latency: one at a time; throughput: all queued at once through the node's ordered write queue (1 insert + 1 update per viewing).\n`);
console.log(
  markdownTable(
    ['store', 'start commit p50 / p95 (ms)', 'end commit p50 / p95 (ms)', 'viewings/s one node sustains', 'rows written/s'],
    results.map((r) => [
      r.store,
      `${fixed(r.startP50, 2)} / ${fixed(r.startP95, 2)}`,
      `${fixed(r.endP50, 2)} / ${fixed(r.endP95, 2)}`,
      fixed(r.viewingsPerSec, 0),
      fixed(2 * r.viewingsPerSec, 0),
    ]),
  ),
);
