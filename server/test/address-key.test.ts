/** Rate-limit keys of client addresses: one key per IPv4 address and per IPv6 /64, however the address is written. */
import { describe, expect, it } from 'vitest';
import { addressKey } from '../src/auth/rate-limiter.ts';

describe('rate-limit address keys', () => {
  it('unwraps IPv4-mapped IPv6 with multi-digit octets', () => {
    expect(addressKey('::ffff:198.51.100.77')).toBe('198.51.100.77');
    expect(addressKey('::FFFF:10.20.30.40')).toBe('10.20.30.40');
  });

  it('an IPv6 address that merely ends in an IPv4 (not ::ffff:-mapped) is keyed by its /64', () => {
    expect(addressKey('2001:db8::ffff:198.51.100.7')).toBe('2001:db8:0:0::/64');
  });

  it('a string that is not an address is its own key, even when it contains a mapped IPv4', () => {
    expect(addressKey('::ffff:198.51.100.7x')).toBe('::ffff:198.51.100.7x');
    expect(addressKey('unix:/run/vigil.sock')).toBe('unix:/run/vigil.sock');
  });

  it('one /64 has one key: leading zeros, compressed runs and case do not make new ones', () => {
    expect(addressKey('2001:0db8:0012:0000:0001:0002:0003:0004')).toBe('2001:db8:12:0::/64');
    expect(addressKey('2001:DB8:12:0:ffff::1')).toBe('2001:db8:12:0::/64');
    // "::" standing for one zero group inside the /64, and several groups after it.
    expect(addressKey('2001:db8::3:4:5:6:7')).toBe('2001:db8:0:3::/64');
    expect(addressKey('2001:db8:1::5:6:7:8')).toBe('2001:db8:1:0::/64');
  });
});
