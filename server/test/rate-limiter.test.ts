import { describe, expect, it } from 'vitest';
import { RateLimiter, addressKey } from '../src/auth/rate-limiter.ts';
import { StreamQuota } from '../src/auth/stream-quota.ts';

describe('rate limiter (token bucket)', () => {
  it('admits a burst, then refills at the configured rate, per key', () => {
    const r = new RateLimiter({ burst: 3, perSec: 2 });
    const t = 1000;
    expect([1, 2, 3, 4].map(() => r.take('a', t))).toEqual([true, true, true, false]);
    expect(r.take('b', t)).toBe(true);
    expect(r.take('a', t + 499)).toBe(false);
    expect(r.take('a', t + 500)).toBe(true);
    expect(r.take('a', t + 500)).toBe(false);
    // Never more than the burst, however long idle.
    expect([1, 2, 3, 4].map(() => r.take('a', t + 1e9))).toEqual([true, true, true, false]);
  });

  it('keeps at most maxKeys buckets, evicting the least recently used', () => {
    const r = new RateLimiter({ burst: 1, perSec: 0.001 }, 3);
    for (const k of ['a', 'b', 'c']) expect(r.take(k, 0)).toBe(true);
    expect(r.take('a', 1)).toBe(false); // a is now most recent
    expect(r.take('d', 1)).toBe(true); // evicts b
    expect(r.size).toBe(3);
    expect(r.take('a', 2)).toBe(false);
    expect(r.take('b', 2)).toBe(true); // b was evicted: a fresh bucket
  });

  it('keys IPv4 by address, IPv4-mapped IPv6 as IPv4, IPv6 by /64', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
  });
});

describe('stream quota', () => {
  it('counts streams per subject across holders and releases once', () => {
    const q = new StreamQuota();
    const a = q.acquire('u', 2)!;
    const b = q.acquire('u', 2)!;
    expect(q.acquire('u', 2)).toBeUndefined();
    expect(q.acquire('v', 2)).toBeDefined();
    a();
    a();
    expect(q.count('u')).toBe(1);
    expect(q.acquire('u', 2)).toBeDefined();
    b();
    expect(q.acquire('w', undefined)).toBeDefined();
  });
});
