import { describe, expect, it } from 'vitest';
import { MAX_ENTRIES, MAX_ENTRY_LENGTH, MAX_GLOB_ENTRIES, compileScope, unionScope, ScopeError } from '../src/auth/scope.ts';

describe('camera scope', () => {
  it('matches exact ids only exactly', () => {
    const s = compileScope(['gate-3']);
    expect(s.allows({ id: 'gate-3' })).toBe(true);
    expect(s.allows({ id: 'gate-30' })).toBe(false);
    expect(s.allows({ id: 'gate-' })).toBe(false);
  });

  it('* stays within one path segment, ** crosses segments', () => {
    const one = compileScope(['site-a/*']);
    expect(one.allows({ id: 'site-a/cam-1' })).toBe(true);
    expect(one.allows({ id: 'site-a/x/cam-1' })).toBe(false);
    expect(one.allows({ id: 'site-b/cam-1' })).toBe(false);
    expect(one.allows({ id: 'site-a' })).toBe(false);
    const all = compileScope(['site-a/**']);
    expect(all.allows({ id: 'site-a/x/cam-1' })).toBe(true);
    expect(all.allows({ id: 'site-ab/cam' })).toBe(false);
  });

  it('? matches exactly one character', () => {
    const s = compileScope(['cam-?']);
    expect(s.allows({ id: 'cam-1' })).toBe(true);
    expect(s.allows({ id: 'cam-12' })).toBe(false);
    expect(s.allows({ id: 'cam-' })).toBe(false);
  });

  it('treats regex metacharacters in ids literally (no escalation through . or |)', () => {
    const s = compileScope(['cam.1']);
    expect(s.allows({ id: 'cam.1' })).toBe(true);
    expect(s.allows({ id: 'camX1' })).toBe(false);
    expect(() => compileScope(['cam-1|.*'])).toThrow(ScopeError);
    expect(() => compileScope(['(.*)'])).toThrow(ScopeError);
    expect(() => compileScope(['cam[1]'])).toThrow(ScopeError);
  });

  it('grants sites by site name, not by id prefix', () => {
    const s = compileScope(['site:border-north']);
    expect(s.allows({ id: 'x', site: 'border-north' })).toBe(true);
    expect(s.allows({ id: 'border-north', site: 'other' })).toBe(false);
    expect(s.allows({ id: 'x' })).toBe(false);
  });

  it('an empty scope grants nothing', () => {
    expect(compileScope([]).allows({ id: 'a' })).toBe(false);
  });

  it('refuses malformed entries and oversized scopes', () => {
    expect(() => compileScope([''])).toThrow(ScopeError);
    expect(() => compileScope(['site:'])).toThrow(ScopeError);
    expect(() => compileScope(['a b'])).toThrow(ScopeError);
    expect(() => compileScope(['x'.repeat(129)])).toThrow(ScopeError);
    expect(() => compileScope(Array.from({ length: 257 }, (_, i) => `c${i}`))).toThrow(ScopeError);
  });
});

describe('camera scope bounds', () => {
  it('entries: 128 characters accepted, 129 refused (ids and globs alike)', () => {
    expect(compileScope(['x'.repeat(MAX_ENTRY_LENGTH)]).allows({ id: 'x'.repeat(128) })).toBe(true);
    expect(() => compileScope(['x'.repeat(MAX_ENTRY_LENGTH + 1)])).toThrow(ScopeError);
    expect(compileScope(['*'.repeat(MAX_ENTRY_LENGTH)]).allows({ id: 'abc' })).toBe(true);
    expect(() => compileScope(['*'.repeat(MAX_ENTRY_LENGTH + 1)])).toThrow(ScopeError);
    expect(MAX_ENTRY_LENGTH).toBe(128);
  });

  it('scopes: 256 entries accepted, 257 refused', () => {
    const ids = Array.from({ length: MAX_ENTRIES }, (_, i) => `c${i}`);
    expect(compileScope(ids).allows({ id: 'c255' })).toBe(true);
    expect(() => compileScope([...ids, 'c256'])).toThrow(ScopeError);
    expect(MAX_ENTRIES).toBe(256);
  });

  it('wildcard entries: 64 accepted, 65 refused; sites and exact ids do not count', () => {
    const globs = Array.from({ length: MAX_GLOB_ENTRIES }, (_, i) => `g${i}/*`);
    const s = compileScope([...globs, 'exact', 'site:s']);
    expect(s.allows({ id: 'g63/x' })).toBe(true);
    expect(s.allows({ id: 'g64/x' })).toBe(false);
    expect(() => compileScope([...globs, 'g64/?'])).toThrow(ScopeError);
    expect(MAX_GLOB_ENTRIES).toBe(64);
  });

  it('a site entry is not a glob: its name is literal and bounded (64)', () => {
    expect(compileScope([`site:${'s'.repeat(64)}`]).allows({ id: 'x', site: 's'.repeat(64) })).toBe(true);
    expect(() => compileScope([`site:${'s'.repeat(65)}`])).toThrow(ScopeError);
    expect(() => compileScope(['site:a*'])).toThrow(ScopeError);
    expect(compileScope(['site:a.b']).allows({ id: 'x', site: 'aXb' })).toBe(false);
  });

  it('a union allows what any part allows and nothing else', () => {
    const u = unionScope([compileScope(['a']), compileScope(['b/*'])]);
    expect(u.allows({ id: 'a' })).toBe(true);
    expect(u.allows({ id: 'b/1' })).toBe(true);
    expect(u.allows({ id: 'c' })).toBe(false);
    expect(u.entries).toEqual(['a', 'b/*']);
  });
});
