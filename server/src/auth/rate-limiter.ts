/**
 * Keyed token buckets (the classic token-bucket algorithm): each key holds up
 * to `burst` tokens, refilled continuously at `perSec`; an action takes one.
 * Memory is bounded: at most `maxKeys` buckets, least recently used evicted
 * first (an evicted key starts again with a full bucket, which only ever
 * errs toward admitting).
 */
import { isIP } from 'node:net';

export interface BucketConfig {
  /** Most actions at once. */
  burst: number;
  /** Refill rate, actions per second. */
  perSec: number;
}

/**
 * Keyed token buckets as access control uses them: this process's
 * {@link RateLimiter}, or buckets shared by every node of a cluster
 * (server/src/cluster/redis-rate-limiter.ts), which answer asynchronously.
 */
export interface TokenBuckets {
  /** Takes one token for `key`; false (or a promise of false) when the action must be refused. */
  take(key: string): boolean | Promise<boolean>;
}

interface Bucket {
  tokens: number;
  /** Last refill, ms (monotonic clock). */
  at: number;
}

export class RateLimiter implements TokenBuckets {
  readonly #cfg: BucketConfig;
  readonly #maxKeys: number;
  /** Insertion order = recency order (touched keys are re-inserted). */
  readonly #buckets = new Map<string, Bucket>();

  /**
   * @param cfg bucket size and refill rate
   * @param maxKeys most buckets kept (default 100,000)
   */
  constructor(cfg: BucketConfig, maxKeys = 100_000) {
    this.#cfg = cfg;
    this.#maxKeys = maxKeys;
  }

  /**
   * Takes one token for `key`.
   * @param nowMs monotonic time, ms (default performance.now())
   * @returns false when the bucket is empty (the action must be refused)
   */
  take(key: string, nowMs = performance.now()): boolean {
    const { burst, perSec } = this.#cfg;
    let b = this.#buckets.get(key);
    if (b) {
      this.#buckets.delete(key);
      b.tokens = Math.min(burst, b.tokens + ((nowMs - b.at) / 1000) * perSec);
      b.at = nowMs;
    } else {
      b = { tokens: burst, at: nowMs };
      if (this.#buckets.size >= this.#maxKeys) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
    }
    this.#buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Buckets currently held. */
  get size(): number {
    return this.#buckets.size;
  }
}

/**
 * The rate-limit key of a client address: IPv4 as is (IPv4-mapped IPv6
 * unwrapped), IPv6 by its /64 prefix (one subscriber usually holds a whole
 * /64, RFC 6177), anything else as given.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIP(address) !== 6) return address;
  const [head, tail] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  // Stryker disable next-line ArrayDeclaration: equivalent, with an empty tail the zero fill covers every group from left.length on, so one entry more or less at the end never reaches the first four groups
  const right = tail ? tail.split(':') : [];
  // Stryker disable next-line StringLiteral: equivalent for includes(''), an address with no '::' has its groups all written out (8, or 7 before a dotted IPv4), so the fill adds nothing to the first four
  const compressed = address.includes('::');
  const groups = compressed ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
