/**
 * The deny list at its edges, on a real file system: the 100,000-entry bound
 * at its exact value, lapsed entries making room and leaving the file,
 * unreadable and ill-shaped files, a failed write, matching a live session
 * (every token id it presented), file descriptors and the operator log.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DenyList, DenyListError, MAX_DENY_ENTRIES, entryMatches, type DenyEntry } from '../src/auth/deny-list.ts';

const silent = pino({ level: 'silent' });
const dir = () => mkdtempSync(join(tmpdir(), 'vigil-deny-'));

/** A pino logger whose records land in `records` (parsed JSON). */
function capture(): { logger: pino.Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), records };
}

/** Writes a deny list file holding `n` live jti entries (`j-0` ... `j-<n-1>`) plus `extra`. */
function fileWith(n: number, extra: DenyEntry[] = []): string {
  const file = join(dir(), 'revocations.json');
  const entries: DenyEntry[] = Array.from({ length: n }, (_, i) => ({ kind: 'jti', value: `j-${i}`, createdAt: 1 }));
  writeFileSync(file, JSON.stringify({ version: 1, entries: [...entries, ...extra] }));
  return file;
}

describe('deny list bounds and files', () => {
  it(`holds ${MAX_DENY_ENTRIES} entries: one more is refused, an existing one may still be updated`, async () => {
    const list = await DenyList.open(fileWith(MAX_DENY_ENTRIES), silent);
    await expect(list.add({ kind: 'jti', value: 'one-more' })).rejects.toThrow(new DenyListError('deny list is full'));
    expect(list.match({ subject: 's', tokenIds: ['one-more'] })).toBeUndefined();
    const updated = await list.add({ kind: 'jti', value: 'j-7', reason: 'updated' });
    expect(updated.reason).toBe('updated');
    expect(list.list()).toHaveLength(MAX_DENY_ENTRIES);
  });

  it(`one below the bound (${MAX_DENY_ENTRIES - 1}) still takes a new entry`, async () => {
    const list = await DenyList.open(fileWith(MAX_DENY_ENTRIES - 1), silent);
    await list.add({ kind: 'subject', value: 'last' });
    expect(list.match({ subject: 'last', tokenIds: [] })?.kind).toBe('subject');
    await expect(list.add({ kind: 'subject', value: 'past-the-bound' })).rejects.toThrow(/full/);
  });

  it('a full list makes room by dropping lapsed entries, never live ones', async () => {
    const now = Date.now();
    const lapsed: DenyEntry = { kind: 'jti', value: 'old', createdAt: 1, expiresAt: now - 1 };
    const list = await DenyList.open(fileWith(MAX_DENY_ENTRIES - 1, [lapsed]), silent);
    await list.add({ kind: 'jti', value: 'new' }, now);
    expect(list.match({ subject: 's', tokenIds: ['new'] })).toBeDefined();
    expect(list.match({ subject: 's', tokenIds: ['j-0'] })).toBeDefined();
    expect(list.list()).toHaveLength(MAX_DENY_ENTRIES);
  });

  it('lapsed entries leave the file on the next write', async () => {
    const now = Date.now();
    const file = fileWith(1, [{ kind: 'subject', value: 'expired', createdAt: 1, expiresAt: now - 1 }]);
    const list = await DenyList.open(file, silent);
    await list.add({ kind: 'jti', value: 'fresh' });
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { entries: DenyEntry[] };
    expect(doc.entries.map((e) => e.value).sort()).toEqual(['fresh', 'j-0']);
  });

  it('keeps only well-formed entries from the file (kind, string value, numeric createdAt)', async () => {
    const file = join(dir(), 'revocations.json');
    const entries = [
      null,
      { kind: 'user', value: 'v1', createdAt: 1 },
      { kind: 'jti', value: 7, createdAt: 1 },
      { kind: 'jti', value: 'no-created-at' },
      { kind: 'subject', value: 'v2', createdAt: '1' },
      { kind: 'jti', value: 'ok-jti', createdAt: 1 },
      { kind: 'subject', value: 'ok-subject', createdAt: 2 },
    ];
    writeFileSync(file, JSON.stringify({ version: 1, entries }));
    const list = await DenyList.open(file, silent);
    expect(list.list().map((e) => `${e.kind}:${e.value}`)).toEqual(['jti:ok-jti', 'subject:ok-subject']);
  });

  it('refuses a file that is JSON but not a list (null, no entries array) with a DenyListError naming it', async () => {
    const file = join(dir(), 'revocations.json');
    for (const text of ['null', '{"version":1}', '{"version":1,"entries":{}}']) {
      writeFileSync(file, text);
      await expect(DenyList.open(file, silent)).rejects.toThrow(new DenyListError(`deny list ${file} has an unknown format`));
    }
    writeFileSync(file, '{"version":1,');
    const err = await DenyList.open(file, silent).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DenyListError);
    expect((err as Error).name).toBe('DenyListError');
    expect((err as Error).message).toBe(`deny list ${file} is not valid JSON`);
  });

  it('refuses to start when the file exists but cannot be read (not only when it is missing)', async () => {
    const file = join(dir(), 'revocations.json');
    mkdirSync(file);
    await expect(DenyList.open(file, silent)).rejects.toThrow(new DenyListError(`cannot read deny list ${file}: EISDIR`));
  });

  it('a failed write rejects add, leaves no temporary file, logs it, and the entry stays enforced', async () => {
    const d = dir();
    const file = join(d, 'revocations.json');
    const { logger, records } = capture();
    const list = await DenyList.open(file, logger);
    // A non-empty directory where the file goes: rename(2) over it fails.
    mkdirSync(join(file, 'blocker'), { recursive: true });
    await expect(list.add({ kind: 'jti', value: 'stolen' })).rejects.toThrow();
    expect(readdirSync(d)).toEqual(['revocations.json']);
    expect(list.match({ subject: 's', tokenIds: ['stolen'] })).toBeDefined();
    const failed = records.find((r) => r['msg'] === 'deny list write failed');
    expect(failed).toMatchObject({ component: 'deny-list', file, level: 50 });
    expect(typeof failed?.['err']).toBe('string');
  });

  it('a write that cannot even create its temporary file (name too long) rejects and is logged with its cause', async () => {
    const d = dir();
    // The list's own name fits NAME_MAX (255), its temporary sibling `<name>.<pid>.<hex>.tmp` does not.
    const file = join(d, `${'r'.repeat(240)}.json`);
    const { logger, records } = capture();
    const list = await DenyList.open(file, logger);
    await expect(list.add({ kind: 'jti', value: 'stolen' })).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    expect(list.match({ subject: 's', tokenIds: ['stolen'] })).toBeDefined();
    expect(readdirSync(d)).toEqual([]);
    const failed = records.find((r) => r['msg'] === 'deny list write failed');
    expect(failed).toMatchObject({ component: 'deny-list', file, level: 50 });
    expect(failed?.['err']).toContain('ENAMETOOLONG');
  });

  it('flush waits for writes not awaited by their caller', async () => {
    const file = join(dir(), 'revocations.json');
    const list = await DenyList.open(file, silent);
    void list.add({ kind: 'jti', value: 'queued-1' });
    void list.add({ kind: 'jti', value: 'queued-2' });
    await list.flush();
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { entries: DenyEntry[] };
    expect(doc.entries.map((e) => e.value)).toEqual(['queued-1', 'queued-2']);
  });

  it('writes leak no file descriptors (a long-running server revokes many times)', async () => {
    const list = await DenyList.open(join(dir(), 'revocations.json'), silent);
    await list.add({ kind: 'jti', value: 'warm-up' });
    const before = readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 20; i++) await list.add({ kind: 'jti', value: `t-${i}` });
    expect(readdirSync('/proc/self/fd').length).toBe(before);
  });

  it('logs load, revocation and lift for operators: kind and counts, never the revoked value', async () => {
    const file = join(dir(), 'revocations.json');
    writeFileSync(file, JSON.stringify({ version: 1, entries: [{ kind: 'jti', value: 'a', createdAt: 1 }] }));
    const { logger, records } = capture();
    const list = await DenyList.open(file, logger);
    await list.add({ kind: 'subject', value: 'secret-subject', expiresAt: 4_000_000_000_000 });
    await list.remove('subject', 'secret-subject');
    const mine = records.map(({ component, msg, kind, expiresAt, file: f, entries }) => ({ component, msg, kind, expiresAt, file: f, entries }));
    expect(mine).toEqual([
      { component: 'deny-list', msg: 'deny list loaded', file, entries: 1, kind: undefined, expiresAt: undefined },
      { component: 'deny-list', msg: 'revoked', kind: 'subject', expiresAt: 4_000_000_000_000, file: undefined, entries: undefined },
      { component: 'deny-list', msg: 'revocation lifted', kind: 'subject', expiresAt: undefined, file: undefined, entries: undefined },
    ]);
    expect(JSON.stringify(records)).not.toContain('secret-subject');
  });
});

describe('a deny entry against a live session (entryMatches)', () => {
  const session = { subject: 'alice', tokenIds: ['join-jti', undefined, 'refresh-1', 'refresh-2'] };

  it('a jti entry matches every token id the session presented, not only the latest', () => {
    for (const jti of ['join-jti', 'refresh-1', 'refresh-2']) {
      expect(entryMatches({ kind: 'jti', value: jti, createdAt: 0 }, session)).toBe(true);
    }
    expect(entryMatches({ kind: 'jti', value: 'other', createdAt: 0 }, session)).toBe(false);
    expect(entryMatches({ kind: 'jti', value: 'x', createdAt: 0 }, { subject: 'alice', tokenIds: [] })).toBe(false);
  });

  it('a subject entry matches that subject only; kinds are never crossed', () => {
    expect(entryMatches({ kind: 'subject', value: 'alice', createdAt: 0 }, session)).toBe(true);
    expect(entryMatches({ kind: 'subject', value: 'bob', createdAt: 0 }, session)).toBe(false);
    // A subject entry named like a token id, and a jti entry named like the subject, match nothing.
    expect(entryMatches({ kind: 'subject', value: 'join-jti', createdAt: 0 }, session)).toBe(false);
    expect(entryMatches({ kind: 'jti', value: 'alice', createdAt: 0 }, session)).toBe(false);
  });
});
