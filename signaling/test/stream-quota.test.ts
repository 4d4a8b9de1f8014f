/** The per-subject stream quota (`maxStreams`): boundaries, idempotent release, subjects kept apart. */
import { describe, expect, it } from 'vitest';
import { StreamQuota } from '../src/limits/stream-quota.ts';

describe('stream quota', () => {
  it('admits up to max, refuses at max, admits again after a release', () => {
    const q = new StreamQuota();
    const a = q.acquire('alice', 2);
    const b = q.acquire('alice', 2);
    expect(a).toBeTypeOf('function');
    expect(b).toBeTypeOf('function');
    expect(q.count('alice')).toBe(2);
    expect(q.acquire('alice', 2)).toBeUndefined();
    expect(q.count('alice')).toBe(2);
    a!();
    expect(q.count('alice')).toBe(1);
    expect(q.acquire('alice', 2)).toBeTypeOf('function');
    expect(q.count('alice')).toBe(2);
  });

  it('max 1 admits exactly one; a release is idempotent and never goes below zero', () => {
    const q = new StreamQuota();
    const r = q.acquire('bob', 1)!;
    expect(q.acquire('bob', 1)).toBeUndefined();
    r();
    r();
    expect(q.count('bob')).toBe(0);
    const again = q.acquire('bob', 1)!;
    r(); // a stale release does not free the new holder's slot
    expect(q.count('bob')).toBe(1);
    again();
    expect(q.count('bob')).toBe(0);
  });

  it('no max: counted but never refused; subjects do not share counts', () => {
    const q = new StreamQuota();
    for (let i = 0; i < 1000; i++) expect(q.acquire('carol', undefined)).toBeTypeOf('function');
    expect(q.count('carol')).toBe(1000);
    expect(q.count('dave')).toBe(0);
    expect(q.acquire('dave', 1)).toBeTypeOf('function');
    expect(q.acquire('carol', 1000)).toBeUndefined();
    expect(q.acquire('carol', 1001)).toBeTypeOf('function');
  });
});
