/**
 * The few RTP facts the GOP cache needs, read straight from a packet's bytes:
 * the fixed header (RFC 3550 §5.1), where the payload starts (CSRCs and the
 * header extension skipped, RFC 3550 §5.3.1; padding trimmed, §5.1 P bit), and
 * whether the packet starts a keyframe (H.264: RFC 6184 §5.2-5.8; VP8:
 * RFC 7741 §4.2-4.3 and RFC 6386 §9.1).
 *
 * And the three header fields a replay rewrites in place: SSRC, sequence
 * number, timestamp (RFC 3550 §5.1 byte offsets 8, 2, 4).
 */

/** The fixed-header fields of an RTP packet (RFC 3550 §5.1). */
export interface RtpHeader {
  payloadType: number;
  marker: boolean;
  /** 16-bit */
  sequenceNumber: number;
  /** 32-bit, in the codec's clock rate */
  timestamp: number;
  ssrc: number;
  /** Byte offset of the payload. */
  payloadOffset: number;
  /** Byte offset just after the payload (padding excluded). */
  payloadEnd: number;
}

/**
 * Parses the RTP header.
 * @returns undefined when the bytes are not an RTP version 2 packet or are truncated
 */
export function parseRtpHeader(b: Uint8Array): RtpHeader | undefined {
  if (b.length < 12 || b[0]! >> 6 !== 2) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const csrcCount = b[0]! & 0x0f;
  let offset = 12 + 4 * csrcCount;
  if (b[0]! & 0x10) {
    if (b.length < offset + 4) return undefined;
    offset += 4 + 4 * view.getUint16(offset + 2);
  }
  let end = b.length;
  if (b[0]! & 0x20) end -= b[b.length - 1]!;
  if (offset > end) return undefined;
  return {
    payloadType: b[1]! & 0x7f,
    marker: (b[1]! & 0x80) !== 0,
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payloadOffset: offset,
    payloadEnd: end,
  };
}

/** The codecs the cache understands (mediasoup mimeType, lower case). */
export type KeyframeCodec = 'video/h264' | 'video/vp8';

/**
 * Whether a packet starts a keyframe (or carries its parameter sets, which
 * come first in the same access unit).
 *
 * H.264 (RFC 6184): a single NAL unit of type 5 (IDR slice) or 7 (SPS); a
 * STAP-A (type 24) holding one; an FU-A (type 28) with the start bit set and
 * such a type. VP8 (RFC 7741): the first packet of a partition 0 (S=1, PID=0)
 * whose payload header has the P bit clear (RFC 6386 §9.1: 0 = key frame).
 */
export function startsKeyframe(codec: KeyframeCodec, payload: Uint8Array): boolean {
  if (payload.length < 1) return false;
  if (codec === 'video/h264') {
    const type = payload[0]! & 0x1f;
    if (type === 5 || type === 7) return true;
    if (type === 28) return payload.length >= 2 && (payload[1]! & 0x80) !== 0 && [5, 7].includes(payload[1]! & 0x1f);
    if (type === 24) {
      for (let i = 1; i + 2 < payload.length; ) {
        const size = (payload[i]! << 8) | payload[i + 1]!;
        const nal = payload[i + 2]! & 0x1f;
        if (nal === 5 || nal === 7) return true;
        i += 2 + size;
      }
    }
    return false;
  }
  // VP8 payload descriptor (RFC 7741 §4.2).
  const b0 = payload[0]!;
  if ((b0 & 0x10) === 0 || (b0 & 0x07) !== 0) return false;
  let i = 1;
  if (b0 & 0x80) {
    const x = payload[i++];
    if (x === undefined) return false;
    if (x & 0x80) i += (payload[i] ?? 0) & 0x80 ? 2 : 1; // PictureID, 7 or 15 bits
    if (x & 0x40) i += 1; // TL0PICIDX
    if (x & 0x30) i += 1; // TID / KEYIDX
  }
  const header = payload[i];
  return header !== undefined && (header & 0x01) === 0;
}

/** Writes SSRC, sequence number and timestamp into an RTP packet (in place). */
export function rewriteRtpHeader(b: Uint8Array, ssrc: number, sequenceNumber: number, timestamp: number): void {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  view.setUint16(2, sequenceNumber & 0xffff);
  view.setUint32(4, timestamp >>> 0);
  view.setUint32(8, ssrc >>> 0);
}
