/**
 * Where token verification keys come from. The algorithm is pinned by config
 * (RFC 7518 §3.1); a key source only ever yields keys of the pinned family:
 * a secret for HS256, an RSA public key (>= 2048 bits) for RS256, a P-256
 * public key for ES256. So an HS256 token can never be checked against an
 * RSA public key used as an HMAC secret (algorithm confusion), and
 * jsonwebtoken re-checks the key type against the algorithm.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';

/** The algorithms Vigil accepts (one of them, pinned by config). */
export type PinnedAlgorithm = 'HS256' | 'RS256' | 'ES256';

/** Resolves the verification key for a token. */
export interface KeySource {
  /**
   * @param kid the token header's `kid` (RFC 7515 §4.1.4), if any
   * @returns the key, or undefined when no key fits (the token is then refused)
   */
  resolve(kid: string | undefined): Promise<KeyObject | undefined>;
}

/** Thrown when configured key material does not fit the pinned algorithm. */
export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyError';
  }
}

/**
 * Checks that `key` belongs to the family of `algorithm`.
 * @throws KeyError otherwise (wrong type, RSA modulus < 2048 bits, EC curve not P-256)
 */
export function assertKeyFits(algorithm: PinnedAlgorithm, key: KeyObject): void {
  if (algorithm === 'HS256') {
    if (key.type !== 'secret') throw new KeyError('HS256 needs a secret key');
    if ((key.symmetricKeySize ?? 0) < 32) throw new KeyError('HS256 secret must be at least 32 bytes');
    return;
  }
  if (key.type !== 'public') throw new KeyError(`${algorithm} needs a public key`);
  const details = key.asymmetricKeyDetails ?? {};
  if (algorithm === 'RS256') {
    if (key.asymmetricKeyType !== 'rsa') throw new KeyError('RS256 needs an RSA public key');
    if ((details.modulusLength ?? 0) < 2048) throw new KeyError('RS256 key must be at least 2048 bits');
  } else {
    if (key.asymmetricKeyType !== 'ec' || details.namedCurve !== 'prime256v1') throw new KeyError('ES256 needs a P-256 public key');
  }
}

/** One fixed key, whatever the token's `kid`. */
export class StaticKeySource implements KeySource {
  readonly #key: KeyObject;

  /**
   * @param algorithm the pinned algorithm
   * @param material HS256: the shared secret (UTF-8); RS256/ES256: a PEM public key (SPKI or PKCS#1)
   * @throws KeyError when the material does not fit the algorithm
   */
  constructor(algorithm: PinnedAlgorithm, material: string | Buffer) {
    let key: KeyObject;
    try {
      key = algorithm === 'HS256' ? createSecretKey(Buffer.from(material)) : createPublicKey(material);
    } catch {
      throw new KeyError(`cannot read the ${algorithm} key`);
    }
    assertKeyFits(algorithm, key);
    this.#key = key;
  }

  async resolve(): Promise<KeyObject> {
    return this.#key;
  }
}
