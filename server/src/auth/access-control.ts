/**
 * Every access decision a viewer session asks for, in one place: token
 * verification plus the deny list, rate limits on joins and consumes (per
 * client address and per subject), the per-subject stream quota, and TURN
 * credentials for authorized viewers.
 *
 * Order matters and is fixed here: the per-address join limit is taken before
 * the (CPU-costly) signature check; then the deny list, before any
 * per-subject budget, so a revoked token replayed in a loop is refused
 * without charging its subject (which would lock the real user out); the
 * per-subject limit last, so an attacker cannot drain a victim's bucket with
 * forged or revoked tokens. Refusals are typed (`rate_limited`,
 * `unauthorized`, `limit_exceeded`) and never say more.
 */
import { ErrorCode, ProtocolError } from '@vigil/protocol';
import type { RateLimitsConfig } from '../config/schema.ts';
import { RateLimiter, addressKey, type BucketConfig, type TokenBuckets } from './rate-limiter.ts';
import { StreamQuota, type StreamSlots } from './stream-quota.ts';
import { turnCredentials, type TurnIceServer, type TurnServerConfig } from './turn-credentials.ts';
import type { DenyList } from './deny-list.ts';
import type { TokenVerifier, ViewerGrant } from './tokens.ts';

export interface AccessControlOptions {
  verifier: TokenVerifier;
  denyList: DenyList;
  rateLimits: RateLimitsConfig;
  /** TURN servers handed to joined viewers; undefined: none. */
  turn?: TurnServerConfig | undefined;
  /** Rate limits and stream quota shared by a cluster (server/src/cluster/shared-limits.ts); absent: this process's own. */
  shared?: SharedLimits | undefined;
}

/** Where the rate limits and the stream quota live when they are shared by several nodes. */
export interface SharedLimits {
  /** The buckets of one limit (`name` is its config key, e.g. `joinPerIp`). */
  buckets(name: keyof RateLimitsConfig, cfg: BucketConfig): TokenBuckets;
  streams: StreamSlots;
}

export class AccessControl {
  readonly verifier: TokenVerifier;
  readonly denyList: DenyList;
  /** Concurrent streams per subject (this process's, or the cluster's). */
  readonly streams: StreamSlots;
  readonly #turn: TurnServerConfig | undefined;
  readonly #joinPerIp: TokenBuckets;
  readonly #joinPerSubject: TokenBuckets;
  readonly #consumePerIp: TokenBuckets;
  readonly #consumePerSubject: TokenBuckets;
  readonly #viewingsPerSubject: TokenBuckets;

  constructor(opts: AccessControlOptions) {
    this.verifier = opts.verifier;
    this.denyList = opts.denyList;
    this.#turn = opts.turn;
    const { shared, rateLimits } = opts;
    this.streams = shared?.streams ?? new StreamQuota();
    const buckets = (name: keyof RateLimitsConfig): TokenBuckets => shared?.buckets(name, rateLimits[name]) ?? new RateLimiter(rateLimits[name]);
    this.#joinPerIp = buckets('joinPerIp');
    this.#joinPerSubject = buckets('joinPerSubject');
    this.#consumePerIp = buckets('consumePerIp');
    this.#consumePerSubject = buckets('consumePerSubject');
    this.#viewingsPerSubject = buckets('viewingsPerSubject');
  }

  /**
   * Verifies a token presented at `join` or `refresh`.
   * @param token compact JWS
   * @param remoteAddress the client's address (rate limited per address, IPv6 per /64)
   * @returns the grant; the caller must still check {@link isDenied} right
   *   before installing it (a revocation may land while this awaits keys)
   * @throws ProtocolError `rate_limited`, `token_expired`, `unauthorized` (also for a revoked jti or subject)
   */
  async admitToken(token: string, remoteAddress: string | undefined): Promise<ViewerGrant> {
    if (!(await this.#joinPerIp.take(addressKey(remoteAddress)))) throw rateLimited();
    const grant = await this.verifier.verify(token);
    if (this.isDenied(grant.subject, [grant.tokenId])) throw new ProtocolError(ErrorCode.Unauthorized, 'token revoked');
    if (!(await this.#joinPerSubject.take(grant.subject))) throw rateLimited();
    return grant;
  }

  /** True when the subject or one of the token ids is on the deny list. */
  isDenied(subject: string, tokenIds: Iterable<string | undefined>): boolean {
    return this.denyList.match({ subject, tokenIds }) !== undefined;
  }

  /**
   * Takes a consume from the address's and the subject's buckets.
   * @throws ProtocolError `rate_limited`
   */
  async admitConsume(remoteAddress: string | undefined, subject: string): Promise<void> {
    if (!(await this.#consumePerIp.take(addressKey(remoteAddress)))) throw rateLimited();
    if (!(await this.#consumePerSubject.take(subject))) throw rateLimited();
  }

  /**
   * Takes one new viewing (one audit trail row) from the subject's bucket:
   * bounds how fast one viewer can grow the audit trail by opening and
   * closing consumers. Continuing a viewing (quality switch, re-subscribe)
   * does not take one.
   * @throws ProtocolError `rate_limited`
   */
  async admitViewing(subject: string): Promise<void> {
    if (!(await this.#viewingsPerSubject.take(subject))) throw rateLimited();
  }

  /**
   * Reserves one concurrent stream (one camera watched) for the grant's
   * subject (`maxStreams` claim). Sessions call it once per viewing, so a
   * quality switch or re-subscribe of a camera already watched takes none.
   * @returns the release function
   * @throws ProtocolError `limit_exceeded` when the subject already holds maxStreams
   */
  async acquireStream(grant: ViewerGrant): Promise<() => void> {
    const release = await this.streams.acquire(grant.subject, grant.maxStreams);
    if (!release) throw new ProtocolError(ErrorCode.LimitExceeded, 'too many concurrent streams for this token');
    return release;
  }

  /**
   * TURN servers with fresh credentials for the grant's subject, valid for
   * `turn.ttlSec` but never past the token's `exp` (a refresh issues new
   * ones); undefined when none are configured.
   */
  iceServers(grant: ViewerGrant): TurnIceServer[] | undefined {
    if (!this.#turn) return undefined;
    return [turnCredentials(this.#turn, grant.subject, Date.now(), grant.expiresAt).iceServer];
  }
}

function rateLimited(): ProtocolError {
  return new ProtocolError(ErrorCode.RateLimited, 'too many requests, retry later');
}
