/**
 * SRTP / SRTCP receive side (RFC 3711) for an RTP-push camera's gate: checks
 * each packet's authentication tag, refuses replays, and decrypts it, so the
 * gate forwards plain RTP to the camera's PlainTransport and keeps doing what
 * it does to plain RTP (restart continuity, reorder detection).
 *
 * Why here and not in mediasoup's PlainTransport (`enableSrtp`): the gate
 * must read and rewrite sequence numbers and timestamps across camera
 * restarts (push-gate.ts), which SRTP authenticates, and a restarted camera
 * starts a new sequence that libsrtp's replay window in the worker would
 * refuse (RFC 3711 §3.3.2) until the transport is replaced. Terminating SRTP
 * at the gate also lets it drop and count every packet that is not the
 * camera's (wrong key, plain RTP) before the worker sees it.
 *
 * Suites: AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 (RFC 4568
 * §6.2; with _32, SRTCP should keep an 80-bit tag, RFC 4568 §6.2.2, but
 * ffmpeg sends 32 bits: both are accepted), the ones
 * ffmpeg (`-srtp_out_suite`) and cameras that do SRTP with preset keys
 * offer. The primitives are node:crypto's (OpenSSL): AES-128 in counter mode
 * (RFC 3711 §4.1.1) and HMAC-SHA1 (§4.2.1); key derivation per §4.3 with a
 * key derivation rate of 0. Per packet, creating a cipher and an HMAC costs
 * more than the crypto itself (~16 and ~14 µs vs a few), so the receiver
 * keeps one AES-ECB context per session key and builds the counter blocks
 * (AES-CM keystream = AES-ECB of IV, IV+1, ...), and keeps HMAC's inner and
 * outer SHA-1 states (RFC 2104) and copies them (loadtest/bench/push-gate-srtp.ts).
 *
 * Keys: `keyAndSalt` is the 30-byte master key (16) || master salt (14), as
 * SDES (RFC 4568 §6.1) and ffmpeg's `-srtp_out_params` write it in base64.
 */
import { createCipheriv, createHash, timingSafeEqual, type Cipheriv, type Hash } from 'node:crypto';

export type SrtpCryptoSuite = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';

/** Master key and salt lengths of the AES_CM_128 suites, bytes (RFC 4568 §6.2). */
export const SRTP_MASTER_KEY_LENGTH = 16;
export const SRTP_MASTER_SALT_LENGTH = 14;
/** Packets accepted below the highest index (RFC 3711 §3.3.2: at least 64). */
const REPLAY_WINDOW = 128;
/** SRTCP index field: E flag + 31-bit index (RFC 3711 §3.4). */
const SRTCP_INDEX_LENGTH = 4;

/** A packet that failed: `auth` (wrong key, plain RTP, tampered), `replay` or `malformed`. */
export type SrtpRejection = 'auth' | 'replay' | 'malformed';

/** PRF of RFC 3711 §4.3.3: AES-CM keystream of `bytes` from the master key at IV = x * 2^16. */
function prf(masterKey: Buffer, x: Buffer, bytes: number): Buffer {
  const iv = Buffer.alloc(16);
  x.copy(iv, 0);
  return createCipheriv('aes-128-ctr', masterKey, iv).update(Buffer.alloc(bytes));
}

/** Session key derivation, RFC 3711 §4.3.1 (kdr = 0: r = 0, x = (label << 48) XOR master salt). */
function deriveKey(masterKey: Buffer, masterSalt: Buffer, label: number, bytes: number): Buffer {
  const x = Buffer.from(masterSalt);
  x[7]! ^= label; // key_id = label || 48 zero bits, aligned to the salt's low 56 bits
  return prf(masterKey, x, bytes);
}

export interface SessionKeys {
  encKey: Buffer;
  authKey: Buffer;
  salt: Buffer;
}

/** A session's keys ready to use. */
interface SessionCrypto {
  cipher: AesCm;
  hmac: Hmac;
  salt: Buffer;
}

function sessionCrypto(k: SessionKeys): SessionCrypto {
  return { cipher: new AesCm(k.encKey), hmac: new Hmac(k.authKey), salt: k.salt };
}

/** Session keys of RFC 3711 §4.3.1 (labels 0-2 for SRTP, 3-5 for SRTCP); exported for its test vectors (Appendix B.3). */
export function sessionKeys(masterKey: Buffer, masterSalt: Buffer, rtcp: boolean): SessionKeys {
  const base = rtcp ? 3 : 0;
  return {
    encKey: deriveKey(masterKey, masterSalt, base, 16),
    authKey: deriveKey(masterKey, masterSalt, base + 1, 20),
    salt: deriveKey(masterKey, masterSalt, base + 2, 14),
  };
}

/** AES-CM IV (RFC 3711 §4.1.1): (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16). */
function counterIv(salt: Buffer, ssrc: number, index: number): Buffer {
  const iv = Buffer.alloc(16);
  salt.copy(iv, 0);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  const hi = Math.floor(index / 2 ** 32);
  const lo = index >>> 0;
  iv.writeUInt16BE(iv.readUInt16BE(8) ^ hi, 8);
  iv.writeUInt32BE((iv.readUInt32BE(10) ^ lo) >>> 0, 10);
  return iv;
}

/** HMAC-SHA1 (RFC 2104) with the keyed inner and outer SHA-1 states computed once and copied per message. */
class Hmac {
  readonly #inner: Hash;
  readonly #outer: Hash;

  constructor(key: Buffer) {
    const pad = (byte: number): Buffer => {
      const p = Buffer.alloc(64, byte); // SHA-1 block; SRTP auth keys (20 bytes) are shorter
      for (let i = 0; i < key.length; i++) p[i]! ^= key[i]!;
      return p;
    };
    this.#inner = createHash('sha1').update(pad(0x36));
    this.#outer = createHash('sha1').update(pad(0x5c));
  }

  /** The first `length` bytes of HMAC-SHA1 over the concatenation of `parts`. */
  tag(parts: Buffer[], length: number): Buffer {
    const inner = this.#inner.copy();
    for (const p of parts) inner.update(p);
    return this.#outer.copy().update(inner.digest()).digest().subarray(0, length);
  }
}

/** AES-128 in counter mode (RFC 3711 §4.1.1) over one long-lived AES-ECB context. */
class AesCm {
  readonly #ecb: Cipheriv;

  constructor(key: Buffer) {
    this.#ecb = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  }

  /** `data` XOR the keystream from counter block `iv` (the low 16 bits count blocks). */
  apply(iv: Buffer, data: Buffer): Buffer {
    const blocks = Math.ceil(data.length / 16);
    const counters = Buffer.alloc(blocks * 16);
    const base = iv.readUInt16BE(14);
    for (let b = 0; b < blocks; b++) {
      iv.copy(counters, b * 16, 0, 14);
      counters.writeUInt16BE((base + b) & 0xffff, b * 16 + 14);
    }
    const keystream = this.#ecb.update(counters);
    const out = Buffer.allocUnsafe(data.length);
    for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ keystream[i]!;
    return out;
  }
}

/** Replay list (RFC 3711 §3.3.2): the highest index and which of the last REPLAY_WINDOW were seen. */
class ReplayWindow {
  #highest = -1;
  readonly #seen = new Set<number>();

  /** True when `index` is new and within the window. */
  fresh(index: number): boolean {
    if (this.#highest < 0 || index > this.#highest) return true;
    return index > this.#highest - REPLAY_WINDOW && !this.#seen.has(index);
  }

  add(index: number): void {
    this.#seen.add(index);
    if (index > this.#highest) {
      this.#highest = index;
      for (const i of this.#seen) if (i <= index - REPLAY_WINDOW) this.#seen.delete(i);
    }
  }
}

/**
 * The receive context of one camera (one SSRC): RTP and RTCP session keys,
 * the RTP rollover counter and both replay windows.
 */
export class SrtpReceiver {
  readonly #rtp: SessionCrypto;
  readonly #rtcp: SessionCrypto;
  readonly #rtpTagLength: number;
  /** SRTCP tag lengths accepted, bytes (see the suites above). */
  readonly #rtcpTagLengths: readonly number[];
  #roc = 0;
  /** Highest sequence number authenticated (s_l of RFC 3711 §3.3.1), -1 before the first. */
  #sl = -1;
  #rtpReplay = new ReplayWindow();
  readonly #rtcpReplay = new ReplayWindow();

  /**
   * @param suite the camera's crypto suite
   * @param keyAndSalt master key || master salt, 30 bytes
   * @throws RangeError when keyAndSalt is not 30 bytes
   */
  constructor(suite: SrtpCryptoSuite, keyAndSalt: Buffer) {
    if (keyAndSalt.length !== SRTP_MASTER_KEY_LENGTH + SRTP_MASTER_SALT_LENGTH) {
      throw new RangeError(`an SRTP master key and salt are ${SRTP_MASTER_KEY_LENGTH + SRTP_MASTER_SALT_LENGTH} bytes`);
    }
    const key = keyAndSalt.subarray(0, SRTP_MASTER_KEY_LENGTH);
    const salt = keyAndSalt.subarray(SRTP_MASTER_KEY_LENGTH);
    this.#rtp = sessionCrypto(sessionKeys(key, salt, false));
    this.#rtcp = sessionCrypto(sessionKeys(key, salt, true));
    this.#rtpTagLength = suite === 'AES_CM_128_HMAC_SHA1_32' ? 4 : 10;
    this.#rtcpTagLengths = suite === 'AES_CM_128_HMAC_SHA1_32' ? [10, 4] : [10];
  }

  /**
   * Authenticates and decrypts one SRTP packet.
   *
   * `restart`: the packet may start a new stream of the camera (a restarted
   * sender begins a new sequence and rollover counter, RFC 3711 §3.3.1): it
   * is checked as the first packet of a fresh context, and when authentic the
   * context starts over from it (replay window included). The caller tries
   * this only for packets that look like a restart (new source port, large
   * sequence jump) and falls back to the running context.
   * @param packet an SRTP packet (RTP header in clear, RFC 3711 §3.1)
   * @returns the plain RTP packet, or why it was refused (nothing changes then)
   */
  unprotectRtp(packet: Buffer, restart = false): Buffer | SrtpRejection {
    const tagLength = this.#rtpTagLength;
    const headerLength = rtpHeaderLength(packet);
    if (headerLength === undefined || packet.length < headerLength + tagLength) return 'malformed';
    const seq = packet.readUInt16BE(2);
    const ssrc = packet.readUInt32BE(8);
    const v = restart ? 0 : this.#estimateRoc(seq);
    const index = v * 65536 + seq;
    const body = packet.subarray(0, packet.length - tagLength);
    const roc = Buffer.alloc(4);
    roc.writeUInt32BE(v >>> 0, 0);
    const tag = packet.subarray(packet.length - tagLength);
    if (!timingSafeEqual(this.#rtp.hmac.tag([body, roc], tagLength), tag)) return 'auth';
    if (restart) {
      this.#rtpReplay = new ReplayWindow();
      this.#sl = -1;
    } else if (!this.#rtpReplay.fresh(index)) {
      return 'replay';
    }
    this.#rtpReplay.add(index);
    if (this.#sl < 0 || index > this.#roc * 65536 + this.#sl) {
      this.#roc = v;
      this.#sl = seq;
    }
    const iv = counterIv(this.#rtp.salt, ssrc, index);
    const payload = this.#rtp.cipher.apply(iv, body.subarray(headerLength));
    return Buffer.concat([body.subarray(0, headerLength), payload]);
  }

  /**
   * Authenticates and decrypts one SRTCP packet (RFC 3711 §3.4).
   * @returns the plain RTCP compound packet, or why it was refused
   */
  unprotectRtcp(packet: Buffer): Buffer | SrtpRejection {
    const tagLength = this.#rtcpTagLengths.find((n) => {
      if (packet.length < 8 + SRTCP_INDEX_LENGTH + n) return false;
      const tag = packet.subarray(packet.length - n);
      return timingSafeEqual(this.#rtcp.hmac.tag([packet.subarray(0, packet.length - n)], n), tag);
    });
    if (tagLength === undefined) return packet.length < 8 + SRTCP_INDEX_LENGTH + 4 ? 'malformed' : 'auth';
    const body = packet.subarray(0, packet.length - tagLength);
    const eIndex = body.readUInt32BE(body.length - SRTCP_INDEX_LENGTH);
    const index = eIndex & 0x7fffffff;
    if (!this.#rtcpReplay.fresh(index)) return 'replay';
    this.#rtcpReplay.add(index);
    const header = body.subarray(0, 8);
    const rest = body.subarray(8, body.length - SRTCP_INDEX_LENGTH);
    if ((eIndex & 0x80000000) === 0) return Buffer.concat([header, rest]);
    const iv = counterIv(this.#rtcp.salt, packet.readUInt32BE(4), index);
    return Buffer.concat([header, this.#rtcp.cipher.apply(iv, rest)]);
  }

  /** The rollover counter a packet with `seq` was most likely sent with (RFC 3711 §3.3.1, Appendix A). */
  #estimateRoc(seq: number): number {
    const sl = this.#sl;
    if (sl < 0) return this.#roc;
    if (sl < 32768) return seq - sl > 32768 ? Math.max(0, this.#roc - 1) : this.#roc;
    return sl - 32768 > seq ? this.#roc + 1 : this.#roc;
  }
}

/**
 * Length of an RTP header with its CSRC list and header extension (RFC 3550
 * §5.1, §5.3.1), or undefined when the packet is shorter than it says.
 */
export function rtpHeaderLength(packet: Buffer): number | undefined {
  if (packet.length < 12) return undefined;
  let n = 12 + 4 * (packet[0]! & 0x0f);
  if (packet[0]! & 0x10) {
    if (packet.length < n + 4) return undefined;
    n += 4 + 4 * packet.readUInt16BE(n + 2);
  }
  return packet.length < n ? undefined : n;
}
