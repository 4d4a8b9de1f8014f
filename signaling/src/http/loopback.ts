/**
 * Loopback addresses (RFC 1122 §3.2.1.3: 127.0.0.0/8; RFC 4291 §2.5.3: ::1):
 * what only the machine itself can reach.
 */
import { isIP } from 'node:net';

/**
 * True for `localhost`, an IPv4 address in 127.0.0.0/8 and `::1` (a URL's
 * bracketed IPv6 hostname is accepted too).
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}
