import { describe, expect, it } from 'vitest';
import { compileScope, ScopeError } from '../src/auth/scope.ts';

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
