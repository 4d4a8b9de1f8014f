/**
 * Verification keys from a JWK Set (RFC 7517 §5), read from a file or fetched
 * from an http(s) URL, selected by the token's `kid` (RFC 7515 §4.1.4).
 *
 * Rotation: a token whose `kid` is not in the set triggers a refetch, at most
 * once per `minRefetchIntervalMs` (so tokens with made-up kids cannot make
 * Vigil hammer the identity provider); sets older than `maxAgeMs` are
 * refetched before use, which also drops retired keys. A failed refetch keeps
 * the last good set.
 *
 * Keys are converted with Node's `crypto.createPublicKey({ format: 'jwk' })`
 * and used with jsonwebtoken; no extra dependency. Only keys that fit the
 * pinned algorithm are kept: `use` absent or `sig`, `alg` absent or equal to
 * it, `kty` RSA (>= 2048 bits) for RS256 / EC P-256 for ES256, and no private
 * part (`d`): a published private key is treated as compromised and skipped.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { isLoopbackHost } from '../http/loopback.ts';
import { assertKeyFits, type KeySource, type PinnedAlgorithm } from './keys.ts';

/**
 * Why a JWKS URL is not acceptable, or undefined when it is: `https:`, or
 * plain `http:` only to a loopback host (127.0.0.0/8, ::1, localhost). Over
 * plain http anyone on the path could substitute the keys and mint tokens.
 */
export function jwksUrlIssue(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (u.protocol === 'https:') return undefined;
  if (u.protocol !== 'http:') return 'must be an https:// URL';
  if (isLoopbackHost(u.hostname)) return undefined;
  return 'must be https:// (plain http only to a loopback host): anyone on the path could substitute the keys';
}

/** Largest JWK Set accepted, bytes. */
const MAX_JWKS_BYTES = 256 * 1024;
/** Most keys kept from one set. */
const MAX_KEYS = 64;

export interface JwksOptions {
  algorithm: Exclude<PinnedAlgorithm, 'HS256'>;
  /** Exactly one of file / url. */
  file?: string | undefined;
  url?: string | undefined;
  /** Fewest ms between refetches triggered by unknown kids. */
  minRefetchIntervalMs: number;
  /** Sets older than this are refetched before use, ms. */
  maxAgeMs: number;
  /** URL fetch timeout, ms. */
  timeoutMs: number;
  logger: Logger;
}

/** A JWK Set could not be read or holds no usable key. */
export class JwksError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwksError';
  }
}

interface LoadedSet {
  byKid: Map<string, KeyObject>;
  /** Keys without a `kid`; usable only by a token without one when the set holds exactly one key. */
  anonymous: KeyObject[];
  loadedAt: number;
}

/** A {@link KeySource} backed by a JWK Set file or URL. */
export class JwksKeySource implements KeySource {
  readonly #o: JwksOptions;
  readonly #log: Logger;
  #set: LoadedSet | undefined;
  #lastAttempt = -Infinity;
  #inflight: Promise<void> | undefined;
  /** Fetches/reads done so far (for tests and metrics). */
  loads = 0;

  /** @throws JwksError for a URL that is neither https nor loopback http (see {@link jwksUrlIssue}) */
  constructor(opts: JwksOptions) {
    const issue = opts.url === undefined ? undefined : jwksUrlIssue(opts.url);
    if (issue) throw new JwksError(`JWKS URL ${issue}`);
    this.#o = opts;
    this.#log = opts.logger.child({ component: 'jwks' });
  }

  /**
   * First load. A file must load (config error otherwise); a URL that cannot
   * be fetched is logged and retried on demand, refusing tokens meanwhile.
   * @throws JwksError for a file that cannot be read or holds no usable key
   */
  async start(): Promise<void> {
    if (this.#o.file !== undefined) {
      await this.#load();
      return;
    }
    await this.#refresh();
  }

  async resolve(kid: string | undefined): Promise<KeyObject | undefined> {
    const now = Date.now();
    if (!this.#set || now - this.#set.loadedAt > this.#o.maxAgeMs) await this.#refresh();
    let key = this.#pick(kid);
    if (!key && kid !== undefined) {
      await this.#refresh();
      key = this.#pick(kid);
    }
    return key;
  }

  #pick(kid: string | undefined): KeyObject | undefined {
    const set = this.#set;
    if (!set) return undefined;
    if (kid !== undefined) return set.byKid.get(kid);
    if (set.anonymous.length + set.byKid.size === 1) return set.anonymous[0] ?? [...set.byKid.values()][0];
    return undefined;
  }

  /** Reloads unless one ran within minRefetchIntervalMs; concurrent callers share one load. */
  async #refresh(): Promise<void> {
    if (this.#inflight) return this.#inflight;
    if (Date.now() - this.#lastAttempt < this.#o.minRefetchIntervalMs) return;
    this.#inflight = this.#load()
      .catch((err: unknown) => this.#log.error({ err: (err as Error).message }, 'JWKS load failed; keeping the previous keys'))
      .finally(() => {
        this.#inflight = undefined;
      });
    return this.#inflight;
  }

  async #load(): Promise<void> {
    this.#lastAttempt = Date.now();
    this.loads++;
    const text = this.#o.file !== undefined ? await this.#readFile(this.#o.file) : await this.#fetch(this.#o.url!);
    const set = this.#parse(text);
    this.#set = set;
    this.#log.info({ keys: set.byKid.size + set.anonymous.length, kids: [...set.byKid.keys()] }, 'JWKS loaded');
  }

  async #readFile(path: string): Promise<string> {
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (err) {
      throw new JwksError(`cannot read JWKS file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    if (buf.length > MAX_JWKS_BYTES) throw new JwksError('JWKS file too large');
    return buf.toString('utf8');
  }

  async #fetch(url: string): Promise<string> {
    let res: Response;
    try {
      res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(this.#o.timeoutMs), headers: { accept: 'application/json' } });
    } catch (err) {
      throw new JwksError(`JWKS fetch failed: ${(err as Error).name}`);
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new JwksError(`JWKS fetch answered HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? 0);
    if (declared > MAX_JWKS_BYTES) {
      await res.body?.cancel();
      throw new JwksError('JWKS too large');
    }
    return readBounded(res, MAX_JWKS_BYTES);
  }

  #parse(text: string): LoadedSet {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new JwksError('JWKS is not JSON');
    }
    const keys = (doc as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys)) throw new JwksError('JWKS has no "keys" array');
    const set: LoadedSet = { byKid: new Map(), anonymous: [], loadedAt: Date.now() };
    for (const jwk of keys.slice(0, MAX_KEYS)) {
      const key = this.#usable(jwk);
      if (!key) continue;
      const kid = (jwk as { kid?: unknown }).kid;
      if (typeof kid === 'string' && kid.length > 0 && kid.length <= 256) set.byKid.set(kid, key);
      else set.anonymous.push(key);
    }
    if (set.byKid.size + set.anonymous.length === 0) throw new JwksError(`JWKS holds no ${this.#o.algorithm} signing key`);
    return set;
  }

  #usable(jwk: unknown): KeyObject | undefined {
    if (typeof jwk !== 'object' || jwk === null) return undefined;
    const k = jwk as Record<string, unknown>;
    const alg = this.#o.algorithm;
    if (k['use'] !== undefined && k['use'] !== 'sig') return undefined;
    if (k['alg'] !== undefined && k['alg'] !== alg) return undefined;
    if (k['kty'] !== (alg === 'RS256' ? 'RSA' : 'EC')) return undefined;
    if (k['d'] !== undefined) {
      this.#log.warn({ kid: typeof k['kid'] === 'string' ? k['kid'] : undefined }, 'JWKS publishes a private key; key skipped');
      return undefined;
    }
    try {
      const key = createPublicKey({ key: k as JsonWebKey, format: 'jwk' });
      assertKeyFits(alg, key);
      return key;
    } catch {
      return undefined;
    }
  }
}

/**
 * Reads a response body as UTF-8, counting bytes as they arrive and
 * cancelling the stream as soon as it passes `maxBytes` (a server that
 * omits or lies about Content-Length cannot make Vigil buffer more).
 * @throws JwksError when the body is larger than `maxBytes`
 */
async function readBounded(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new JwksError('JWKS too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
