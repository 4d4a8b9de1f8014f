/** The persisted deny list on a real file system: durability, atomic replacement, corrupt files. */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DenyList, DenyListError } from '../src/auth/deny-list.ts';

const logger = pino({ level: 'silent' });
const fresh = () => join(mkdtempSync(join(tmpdir(), 'vigil-deny-')), 'data', 'revocations.json');

describe('deny list', () => {
  it('matches revoked jtis and subjects, survives a reopen, and lifts entries', async () => {
    const file = fresh();
    const a = await DenyList.open(file, logger);
    const added: string[] = [];
    a.on('added', (e) => added.push(`${e.kind}:${e.value}`));
    await a.add({ kind: 'jti', value: 'token-1', reason: 'laptop stolen' });
    await a.add({ kind: 'subject', value: 'mallory' });
    expect(added).toEqual(['jti:token-1', 'subject:mallory']);
    expect(a.match({ subject: 'alice', tokenIds: ['token-1'] })?.kind).toBe('jti');
    expect(a.match({ subject: 'alice', tokenIds: ['token-0', undefined, 'token-1'] })?.kind).toBe('jti');
    expect(a.match({ subject: 'mallory', tokenIds: [] })?.kind).toBe('subject');
    expect(a.match({ subject: 'alice', tokenIds: ['token-2', undefined] })).toBeUndefined();

    const b = await DenyList.open(file, logger);
    expect(b.list().map((e) => [e.kind, e.value, e.reason])).toEqual([
      ['jti', 'token-1', 'laptop stolen'],
      ['subject', 'mallory', undefined],
    ]);
    expect(await b.remove('subject', 'mallory')).toBe(true);
    expect(await b.remove('subject', 'mallory')).toBe(false);
    const c = await DenyList.open(file, logger);
    expect(c.match({ subject: 'mallory', tokenIds: [] })).toBeUndefined();
    expect(c.match({ subject: 'x', tokenIds: ['token-1'] })).toBeDefined();
  });

  it('replaces the file atomically (no temporary files left, always valid JSON)', async () => {
    const file = fresh();
    const list = await DenyList.open(file, logger);
    await Promise.all(Array.from({ length: 50 }, (_, i) => list.add({ kind: 'jti', value: `t-${i}` })));
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { version: number; entries: unknown[] };
    expect(doc.version).toBe(1);
    expect(doc.entries).toHaveLength(50);
    expect(readdirSync(join(file, '..'))).toEqual(['revocations.json']);
  });

  it('lets entries with a lifetime lapse', async () => {
    const list = await DenyList.open(fresh(), logger);
    const now = Date.now();
    await list.add({ kind: 'jti', value: 'short', expiresAt: now + 1000 }, now);
    expect(list.match({ subject: 's', tokenIds: ['short'] }, now + 999)).toBeDefined();
    expect(list.match({ subject: 's', tokenIds: ['short'] }, now + 1000)).toBeUndefined();
    expect(list.list(now + 1000)).toEqual([]);
  });

  it('refuses to start from a corrupt file rather than forget revocations', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vigil-deny-')), 'revocations.json');
    writeFileSync(file, '{"version":1,"entries":[{"kind":"jti"');
    await expect(DenyList.open(file, logger)).rejects.toThrow(DenyListError);
    writeFileSync(file, '{"version":2,"entries":[]}');
    await expect(DenyList.open(file, logger)).rejects.toThrow(/unknown format/);
  });
});
