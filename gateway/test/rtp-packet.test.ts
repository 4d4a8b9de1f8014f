/**
 * Keyframe detection and header rewriting of the GOP cache (fanout/rtp-packet.ts),
 * on real RTP from ffmpeg (x264 and libvpx, a keyframe every 10 frames) and
 * on the H.264 aggregation packets ffmpeg does not send (STAP-A, RFC 6184 §5.7.1).
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { parseRtpHeader, rewriteRtpHeader, startsKeyframe, type KeyframeCodec } from '../src/fanout/rtp-packet.ts';

/** RTP packets ffmpeg sends for 30 frames of testsrc2 with a keyframe every 10 frames. */
async function ffmpegRtp(codec: 'h264' | 'vp8'): Promise<Buffer[]> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const packets: Buffer[] = [];
  sock.on('message', (m) => packets.push(m));
  const encoder =
    codec === 'h264'
      ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', '10', '-keyint_min', '10', '-sc_threshold', '0', '-x264-params', 'repeat-headers=1']
      : ['-c:v', 'libvpx', '-deadline', 'realtime', '-g', '10', '-keyint_min', '10', '-auto-alt-ref', '0'];
  const port = sock.address().port;
  const args = ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-frames:v', '30', ...encoder, '-f', 'rtp', `rtp://127.0.0.1:${port}?pkt_size=1200`];
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`))));
  });
  await new Promise((r) => setTimeout(r, 200));
  sock.close();
  return packets.filter((p) => (p[1]! & 0x7f) === 96);
}

/** Timestamps of the frames whose packets start a keyframe. */
function keyframeTimestamps(codec: KeyframeCodec, packets: Buffer[]): number[] {
  const out = new Set<number>();
  for (const p of packets) {
    const h = parseRtpHeader(p)!;
    if (startsKeyframe(codec, p.subarray(h.payloadOffset, h.payloadEnd))) out.add(h.timestamp);
  }
  return [...out];
}

describe('keyframes in real RTP', () => {
  it.each([
    ['h264', 'video/h264'],
    ['vp8', 'video/vp8'],
  ] as const)('%s: one keyframe every 10 frames, nothing else', async (codec, mime) => {
    const packets = await ffmpegRtp(codec);
    const frames = new Set(packets.map((p) => parseRtpHeader(p)!.timestamp));
    expect(frames.size).toBe(30);
    const keys = keyframeTimestamps(mime, packets);
    expect(keys).toHaveLength(3);
    // 10 frames apart at 30 fps on the 90 kHz clock (RFC 6184 §5.1, RFC 7741 §4.1).
    expect(keys.map((t) => t - keys[0]!)).toEqual([0, 30_000, 60_000]);
  });
});

describe('H.264 aggregation and fragmentation', () => {
  const nal = (type: number, size = 4) => [0x60 | type, ...new Array<number>(size - 1).fill(0xaa)];
  it('finds an SPS or IDR inside a STAP-A, not a non-IDR slice', () => {
    const stap = (types: number[]) => new Uint8Array([24, ...types.flatMap((t) => [0, 4, ...nal(t)])]);
    expect(startsKeyframe('video/h264', stap([7, 8]))).toBe(true);
    expect(startsKeyframe('video/h264', stap([6, 5]))).toBe(true);
    expect(startsKeyframe('video/h264', stap([6, 1]))).toBe(false);
  });
  it('takes only the first fragment of an IDR FU-A', () => {
    expect(startsKeyframe('video/h264', new Uint8Array([0x7c, 0x85, 1, 2]))).toBe(true);
    expect(startsKeyframe('video/h264', new Uint8Array([0x7c, 0x05, 1, 2]))).toBe(false);
    expect(startsKeyframe('video/h264', new Uint8Array([0x7c, 0x81, 1, 2]))).toBe(false);
  });
});

describe('rewriteRtpHeader', () => {
  it('sets SSRC, sequence number and timestamp and leaves the rest', () => {
    const p = Buffer.from([0x80, 0xe0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 9, 9]);
    rewriteRtpHeader(p, 0xdeadbeef, 0x1_0005, 0x1_0000_0007);
    expect(parseRtpHeader(p)).toEqual({ payloadType: 96, marker: true, sequenceNumber: 5, timestamp: 7, ssrc: 0xdeadbeef, payloadOffset: 12, payloadEnd: 14 });
    expect([...p.subarray(12)]).toEqual([9, 9]);
  });
  it('refuses what is not RTP version 2', () => {
    expect(parseRtpHeader(new Uint8Array([0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBeUndefined();
    expect(parseRtpHeader(new Uint8Array([0x80, 0]))).toBeUndefined();
  });
});
