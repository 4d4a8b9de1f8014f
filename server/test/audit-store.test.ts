/**
 * The audit store on a real SQLite file (node:sqlite): rows written at start
 * and end, queries by subject / camera / overlapping time range with keyset
 * pagination, recovery of viewings a dead process left open, retention, and
 * the CSV export's quoting.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditStore, ViewingStart } from '../src/audit/audit-store.ts';
import { SqliteAuditStore } from '../src/audit/sqlite-audit-store.ts';
import { auditEndReason } from '../src/audit/audit-recorder.ts';
import { CSV_HEADER, csvField, viewingCsvLine } from '../src/audit/csv.ts';

const T0 = Date.parse('2025-03-01T10:00:00Z');

function file(): string {
  return join(mkdtempSync(join(tmpdir(), 'vigil-audit-test-')), 'sub', 'audit.sqlite');
}

async function collect(rows: AsyncIterable<{ consumerId: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of rows) out.push(r.consumerId);
  return out;
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

describe('audit store', async () => {
  it('records start and end durably; a second end is ignored', async () => {
    const path = file();
    const { store, recovered } = SqliteAuditStore.open(path, T0);
    expect(recovered).toBe(0);
    await store.start(viewing(1));
    expect(await store.end('c-1', T0 + 90_000, 'left', 'disconnected')).toBe(true);
    expect(await store.end('c-1', T0 + 99_000, 'error', 'camera_gone')).toBe(false);
    await store.close();
    const again = SqliteAuditStore.open(path, T0 + 100_000).store;
    expect(await again.query({ limit: 10 })).toEqual([
      {
        id: 1,
        consumerId: 'c-1',
        sessionId: 's-1',
        subject: 'alice',
        camera: 'gate-1',
        startedAt: T0 + 60_000,
        endedAt: T0 + 90_000,
        endReason: 'left',
        endDetail: 'disconnected',
        clientAddress: '192.0.2.7',
        userAgent: 'Mozilla/5.0',
        tokenId: null,
        node: null,
      },
    ]);
    await again.close();
  });

  it('closes viewings left open by a dead process as unknown, at its last heartbeat', async () => {
    const path = file();
    const { store } = SqliteAuditStore.open(path, T0);
    await store.start(viewing(1)); // starts T0+1 min
    await store.start(viewing(2)); // starts T0+2 min
    await store.end('c-2', T0 + 150_000, 'left', 'left');
    await store.heartbeat(T0 + 200_000);
    await store.start(viewing(5)); // starts after the last heartbeat
    // No close(): the process "dies" here. Reopening recovers.
    const { store: next, recovered } = SqliteAuditStore.open(path, T0 + 3_600_000);
    expect(recovered).toBe(2);
    const rows = await next.query({ limit: 10 });
    expect(rows.map((r) => [r.consumerId, r.endReason, r.endedAt])).toEqual([
      ['c-1', 'unknown', T0 + 200_000],
      ['c-2', 'left', T0 + 150_000],
      ['c-5', 'unknown', T0 + 5 * 60_000], // never before its own start
    ]);
    expect(await next.openCount()).toBe(0);
    await next.close();
    await store.close();
  });

  it('queries by subject, camera and overlapping time range, page by page', async () => {
    const { store } = SqliteAuditStore.open(file(), T0);
    await store.start(viewing(1, { subject: 'alice', camera: 'gate-1' }));
    await store.end('c-1', T0 + 120_000, 'left', undefined); // [1 min, 2 min)
    await store.start(viewing(3, { subject: 'bob', camera: 'gate-1' })); // [3 min, open)
    await store.start(viewing(4, { subject: 'alice', camera: 'yard/2' }));
    await store.end('c-4', T0 + 300_000, 'expired', 'token_expired'); // [4 min, 5 min)
    const ids = async (q: Parameters<AuditStore['query']>[0]) => (await store.query(q)).map((r) => r.consumerId);
    expect(await ids({ subject: 'alice', limit: 10 })).toEqual(['c-1', 'c-4']);
    expect(await ids({ camera: 'gate-1', limit: 10 })).toEqual(['c-1', 'c-3']);
    expect(await ids({ subject: 'alice', camera: 'yard/2', limit: 10 })).toEqual(['c-4']);
    // Overlap with [2.5 min, 3.5 min): c-1 ended before, c-3 is still open, c-4 starts after.
    expect(await ids({ from: T0 + 150_000, to: T0 + 210_000, limit: 10 })).toEqual(['c-3']);
    expect(await ids({ from: T0 + 60_000, to: T0 + 61_000, limit: 10 })).toEqual(['c-1']);
    expect(await ids({ to: T0 + 60_000, limit: 10 })).toEqual([]);
    const first = await store.query({ limit: 2 });
    expect(first.map((r) => r.consumerId)).toEqual(['c-1', 'c-3']);
    expect(await ids({ afterId: first[1]!.id, limit: 2 })).toEqual(['c-4']);
    expect(await collect(store.iterate({ limit: 1 }))).toEqual(['c-1', 'c-3', 'c-4']);
    // Values are bound, never spliced into SQL.
    expect(await ids({ subject: "alice' OR '1'='1", limit: 10 })).toEqual([]);
    await store.close();
  });

  it('prunes only viewings that ended before the cut-off', async () => {
    const { store } = SqliteAuditStore.open(file(), T0);
    await store.start(viewing(1));
    await store.end('c-1', T0 + 61_000, 'left', undefined);
    await store.start(viewing(2));
    expect(await store.prune(T0 + 10 * 60_000)).toBe(1);
    expect((await store.query({ limit: 10 })).map((r) => r.consumerId)).toEqual(['c-2']);
    await store.close();
  });

  it('maps server end reasons to the audit vocabulary', async () => {
    expect(auditEndReason('left')).toBe('left');
    expect(auditEndReason('disconnected')).toBe('left');
    expect(auditEndReason('token_expired')).toBe('expired');
    expect(auditEndReason('revoked')).toBe('revoked');
    expect(auditEndReason('kicked')).toBe('kicked');
    expect(auditEndReason('camera_gone')).toBe('error');
    expect(auditEndReason('server_shutdown')).toBe('shutdown');
  });
});

describe('audit CSV', async () => {
  it('quotes per RFC 4180 and defuses spreadsheet formulas', async () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvField('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField(null)).toBe('');
    expect(csvField(12.5)).toBe('12.5');
  });

  it('writes one record per viewing with ISO times and the duration in s', async () => {
    expect(CSV_HEADER).toBe('id,subject,camera,start,end,end_reason,end_detail,duration_s,client_address,user_agent,session_id,consumer_id,token_id\r\n');
    const line = viewingCsvLine({
      id: 7,
      consumerId: 'c',
      sessionId: 's',
      subject: 'alice',
      camera: 'gate-1',
      startedAt: T0,
      endedAt: T0 + 1500,
      endReason: 'left',
      endDetail: 'left',
      clientAddress: '::1',
      userAgent: 'UA, "quoted"',
      tokenId: null,
      node: null,
    });
    expect(line).toBe('7,alice,gate-1,2025-03-01T10:00:00.000Z,2025-03-01T10:00:01.500Z,left,left,1.5,::1,"UA, ""quoted""",s,c,\r\n');
  });

  it('reopens an ended viewing (a re-subscribe continues it); an open one is left alone', async () => {
    const { store } = SqliteAuditStore.open(file(), T0);
    await store.start(viewing(1));
    expect(await store.reopen('c-1')).toBe(false);
    await store.end('c-1', T0 + 120_000, 'error', 'resubscribe');
    expect(await store.reopen('c-1')).toBe(true);
    const [row] = await store.query({ limit: 10 });
    expect(row).toMatchObject({ consumerId: 'c-1', endedAt: null, endReason: null, endDetail: null, startedAt: T0 + 60_000 });
    expect(await store.reopen('c-404')).toBe(false);
    await store.close();
  });

  it('size-based retention deletes the oldest ended viewings until the store fits, keeping open ones', async () => {
    const { store } = SqliteAuditStore.open(file(), T0);
    const agent = 'Mozilla/5.0 '.repeat(40);
    for (let i = 1; i <= 3000; i++) await store.start(viewing(i, { userAgent: agent }));
    for (let i = 1; i <= 2990; i++) await store.end(`c-${i}`, T0 + i * 60_000 + 1, 'left', undefined);
    const before = store.usedBytes();
    expect(before).toBeGreaterThan(1_000_000);
    expect(await store.pruneToSize(before)).toBe(0);
    const bound = Math.floor(before / 4);
    const deleted = await store.pruneToSize(bound);
    expect(deleted).toBeGreaterThan(0);
    expect(store.usedBytes()).toBeLessThanOrEqual(bound * 0.9);
    const rows = await store.query({ limit: 5000 });
    // Oldest first: what is left is a suffix of the ids, and every open viewing is kept.
    expect(rows[0]!.id).toBe(deleted + 1);
    expect(rows.filter((r) => r.endedAt === null).map((r) => r.consumerId)).toEqual(Array.from({ length: 10 }, (_, i) => `c-${2991 + i}`));
    // The file stops growing: new rows reuse the freed pages.
    const size = await store.sizeBytes();
    for (let i = 3001; i <= 3200; i++) await store.start(viewing(i, { userAgent: agent }));
    expect(await store.sizeBytes()).toBe(size);
    await store.close();
  });
});

