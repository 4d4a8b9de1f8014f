/**
 * RTSP ingest logic without a camera: the config schema (through ajv with the
 * loader's options), URL redaction and scrubbing, the credential file,
 * ffmpeg error classification, decideRelay's table and the relay's argv.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  classifyFfmpegError,
  decideRelay,
  defaultTranscodeBitrate,
  prepareRtspInput,
  redactUrl,
  relayAudioPayloadType,
  relayAudioRtpParameters,
  rtspRelayArgs,
  RtspError,
  RtspSourceSchema,
  scrubCredentials,
  type RelayDecision,
  type RtspProbe,
  type RtspVideoInfo,
} from '../src/ingest/rtsp.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vigil-rtsp-unit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('RtspSourceSchema (ajv, as the config loader runs it)', () => {
  const validate = new Ajv({ allErrors: true, useDefaults: true, discriminator: true, strict: false }).compile(RtspSourceSchema);

  it('fills defaults: tcp, audio off, 5 s I/O timeout, 10 s probe bound', () => {
    const src: Record<string, unknown> = { kind: 'rtsp', url: 'rtsp://10.0.0.7:554/Streaming/Channels/101' };
    expect(validate(src)).toBe(true);
    expect(src).toEqual({ ...src, transport: 'tcp', audio: 'off', ioTimeoutMs: 5000, probeTimeoutMs: 10_000 });
  });

  it('accepts credentials, udp, transcode and audio options', () => {
    expect(
      validate({ kind: 'rtsp', url: 'rtsp://cam.example/live?channel=1', username: 'admin', password: 'x:y@z', transport: 'udp', transcode: 'h264', audio: 'opus' }),
    ).toBe(true);
  });

  it.each([
    ['credentials in the URL', { url: 'rtsp://admin:secret@10.0.0.7/live' }],
    ['a user in the URL', { url: 'rtsp://admin@10.0.0.7/live' }],
    ['another scheme', { url: 'http://10.0.0.7/live' }],
    ['a password without username', { url: 'rtsp://10.0.0.7/live', password: 'p' }],
    ['an unknown transcode target', { url: 'rtsp://10.0.0.7/live', transcode: 'vp8' }],
    ['an unknown key', { url: 'rtsp://10.0.0.7/live', ssrc: 1 }],
  ])('rejects %s', (_name, extra) => {
    expect(validate({ kind: 'rtsp', ...extra })).toBe(false);
  });
});

describe('redactUrl / scrubCredentials', () => {
  it.each([
    ['rtsp://admin:s3cret@10.0.0.7:554/live', 'rtsp://***@10.0.0.7:554/live'],
    ['rtsp://admin@10.0.0.7/live', 'rtsp://***@10.0.0.7/live'],
    ['rtsp://10.0.0.7/live?user=admin&password=s3cret&channel=1', 'rtsp://10.0.0.7/live?user=***&password=***&channel=1'],
    ['rtsp://10.0.0.7/Streaming/Channels/101', 'rtsp://10.0.0.7/Streaming/Channels/101'],
    ["Impossible to open 'rtsp://a:b%40c@h/x' and http://u:p@h/", "Impossible to open 'rtsp://***@h/x' and http://***@h/"],
    ["rtsp://op:it's(1)@h/x", 'rtsp://***@h/x'],
  ])('%s -> %s', (input, out) => {
    expect(redactUrl(input)).toBe(out);
  });

  it('removes the password and username, raw and percent-encoded, also outside URLs', () => {
    const pw = 'p@ss:w/rd%x';
    const text = `[rtsp] auth ${pw} for operator; rtsp://operator:${encodeURIComponent(pw)}@h/x ${encodeURIComponent(pw)}`;
    const out = scrubCredentials(text, { username: 'operator', password: pw });
    expect(out).not.toContain(pw);
    expect(out).not.toContain(encodeURIComponent(pw));
    expect(out).not.toContain('operator');
    expect(out).toContain('rtsp://***@h/x');
  });
});

describe('prepareRtspInput', () => {
  it('without credentials gives the URL directly, with the transport and the I/O timeout in µs', async () => {
    const input = await prepareRtspInput({ url: 'rtsp://10.0.0.7/live', transport: 'udp', ioTimeoutMs: 3000 }, { dir, analysis: 'full' });
    expect(input.args).toEqual(['-rtsp_transport', 'udp', '-timeout', '3000000', '-i', 'rtsp://10.0.0.7/live']);
    expect(input.listFile).toBeUndefined();
    const quick = await prepareRtspInput({ url: 'rtsp://10.0.0.7/live' }, { dir });
    expect(quick.args).toEqual(['-probesize', '32768', '-analyzeduration', '100000', '-rtsp_transport', 'tcp', '-timeout', '5000000', '-i', 'rtsp://10.0.0.7/live']);
  });

  it('with credentials writes a 0600 ffconcat list in a 0700 directory, argv names only the file; dispose removes it', async () => {
    const pw = "it's:@/%";
    const input = await prepareRtspInput({ url: 'rtsp://10.0.0.7:554/live?ch=1', username: 'op@site', password: pw }, { dir });
    expect(input.args.join(' ')).not.toContain(encodeURIComponent(pw));
    expect(input.args).toEqual(['-probesize', '32768', '-analyzeduration', '100000', '-f', 'concat', '-safe', '0', '-protocol_whitelist', 'file,rtsp,tcp,rtp,udp', '-i', input.listFile]);
    expect((await stat(input.listFile!)).mode & 0o777).toBe(0o600);
    expect((await stat(join(input.listFile!, '..'))).mode & 0o777).toBe(0o700);
    const list = await readFile(input.listFile!, 'utf8');
    // userinfo percent-encoded down to RFC 3986 unreserved characters, ' included.
    expect(list).toBe(
      "ffconcat version 1.0\nfile 'rtsp://op%40site:it%27s%3A%40%2F%25@10.0.0.7:554/live?ch=1'\noption rtsp_transport tcp\noption timeout 5000000\n" +
        'option probesize 32768\noption analyzeduration 100000\n',
    );
    await input.dispose();
    await expect(stat(join(input.listFile!, '..'))).rejects.toThrow();
    await input.dispose(); // idempotent
  });

  it('refuses a URL that already holds credentials, without echoing them', async () => {
    const err = await prepareRtspInput({ url: 'rtsp://admin:hunter2@10.0.0.7/live' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RtspError);
    expect((err as RtspError).reason).toBe('protocol');
    expect((err as RtspError).message).not.toContain('hunter2');
  });
});

describe('classifyFfmpegError', () => {
  it.each([
    ['[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized\nx: Server returned 401 Unauthorized (authorization failed)', 'unauthorized'],
    ['[rtsp @ 0x1] method DESCRIBE failed: 403 Forbidden', 'unauthorized'],
    ['[rtsp @ 0x1] method DESCRIBE failed: 404 Not Found', 'not_found'],
    ['[tcp @ 0x1] Connection to tcp://127.0.0.1:1 failed: Connection refused', 'unreachable'],
    ['[tcp @ 0x1] Failed to resolve hostname cam.invalid: Name or service not known', 'unreachable'],
    ['[tcp @ 0x1] Connection to tcp://10.9.9.9:554 failed: Connection timed out', 'timeout'],
    ['[rtsp @ 0x1] method SETUP failed: 461 Unsupported transport', 'protocol'],
    ['x: Invalid data found when processing input', 'protocol'],
  ])('%s -> %s', (stderr, reason) => {
    expect(classifyFfmpegError(stderr).reason).toBe(reason);
  });
});

const video = (v: Partial<RtspVideoInfo>): RtspProbe => ({
  video: { codec: 'h264', profile: 'Main', width: 1920, height: 1080, fps: 25, hasBFrames: false, pixFmt: 'yuv420p', ...v },
});

describe('decideRelay', () => {
  it.each<[string, Partial<RtspVideoInfo>, 'h264' | undefined, Partial<RelayDecision>]>([
    ['H.264 Constrained Baseline', { profile: 'Constrained Baseline' }, undefined, { mode: 'copy', codec: 'H264', h264Profile: 'baseline' }],
    ['H.264 Baseline', { profile: 'Baseline' }, undefined, { mode: 'copy', h264Profile: 'baseline' }],
    ['H.264 Main', { profile: 'Main' }, undefined, { mode: 'copy', h264Profile: 'main' }],
    ['H.264 High, full-range yuvj420p', { profile: 'High', pixFmt: 'yuvj420p' }, undefined, { mode: 'copy', h264Profile: 'high' }],
    ['H.264 High (copy even when transcode is allowed)', { profile: 'High' }, 'h264', { mode: 'copy', h264Profile: 'high' }],
    ['VP8', { codec: 'vp8', profile: undefined }, undefined, { mode: 'copy', codec: 'VP8' }],
    ['H.265', { codec: 'hevc' }, undefined, { mode: 'refuse', reason: 'hevc' }],
    ['H.265, transcode', { codec: 'hevc' }, 'h264', { mode: 'transcode', reason: 'hevc', h264Profile: 'baseline', fps: 25, gopFrames: 25 }],
    ['H.264 with B-frames', { hasBFrames: true }, undefined, { mode: 'refuse', reason: 'b_frames' }],
    ['H.264 with B-frames, transcode', { hasBFrames: true, fps: 29.97 }, 'h264', { mode: 'transcode', reason: 'b_frames', fps: 30, gopFrames: 30 }],
    ['H.264 High 10', { profile: 'High 10', pixFmt: 'yuv420p10le' }, undefined, { mode: 'refuse', reason: 'profile' }],
    ['H.264 High 4:2:2, transcode', { profile: 'High 4:2:2', pixFmt: 'yuv422p' }, 'h264', { mode: 'transcode', reason: 'profile' }],
    ['H.264 unknown profile', { profile: undefined }, undefined, { mode: 'refuse', reason: 'profile' }],
    ['MJPEG', { codec: 'mjpeg', profile: undefined }, undefined, { mode: 'refuse', reason: 'codec' }],
    ['MJPEG, unknown fps, transcode', { codec: 'mjpeg', fps: undefined }, 'h264', { mode: 'transcode', reason: 'codec', fps: 25, gopFrames: 25 }],
  ])('%s', (_name, v, transcode, expected) => {
    expect(decideRelay(video(v), transcode ? { transcode } : {})).toMatchObject(expected);
  });

  it('explains a refusal and how to lift it', () => {
    const d = decideRelay(video({ codec: 'hevc' }), {});
    expect(d.mode === 'refuse' && d.message).toBe(
      'the camera sends H.265, which mediasoup cannot forward to browsers; set transcode: "h264" to transcode it',
    );
  });

  it('transcode bitrate: configured, else from frame size and rate within 300 kbps-8 Mbps', () => {
    const d = decideRelay(video({ codec: 'hevc' }), { transcode: 'h264', transcodeBitrate: 1_234_000 });
    expect(d.mode === 'transcode' && d.bitrate).toBe(1_234_000);
    expect(defaultTranscodeBitrate(1920, 1080, 25)).toBe(3_629_000);
    expect(defaultTranscodeBitrate(320, 240, 5)).toBe(300_000);
    expect(defaultTranscodeBitrate(3840, 2160, 30)).toBe(8_000_000);
  });

  const aac = { codec: 'aac', sampleRate: 16000, channels: 1 };
  const pcmu = { codec: 'pcm_mulaw', sampleRate: 8000, channels: 1 };
  it.each<[string, RtspProbe['audio'], 'off' | 'passthrough' | 'opus' | undefined, Record<string, unknown>]>([
    ['audio off by default', pcmu, undefined, { mode: 'off', reason: 'disabled' }],
    ['no audio track', undefined, 'opus', { mode: 'off', reason: 'no_audio' }],
    ['PCMU passes through', pcmu, 'passthrough', { mode: 'copy', codec: 'PCMU', clockRate: 8000, channels: 1 }],
    ['PCMA passes through with opus set too', { codec: 'pcm_alaw', sampleRate: 8000, channels: 1 }, 'opus', { mode: 'copy', codec: 'PCMA' }],
    ['Opus passes through', { codec: 'opus', sampleRate: 48000, channels: 2 }, 'passthrough', { mode: 'copy', codec: 'opus', clockRate: 48000 }],
    ['AAC is dropped on passthrough, with the reason', aac, 'passthrough', { mode: 'off', reason: 'not_passable' }],
    ['AAC becomes Opus when configured', aac, 'opus', { mode: 'opus', from: 'aac' }],
    ['16 kHz PCMU is not G.711 as browsers take it: Opus', { codec: 'pcm_mulaw', sampleRate: 16000, channels: 1 }, 'opus', { mode: 'opus' }],
  ])('%s', (_name, audio, mode, expected) => {
    const d = decideRelay({ ...video({}), ...(audio ? { audio } : {}) }, mode ? { audio: mode } : {});
    expect(d.mode !== 'refuse' && d.audio).toMatchObject(expected);
  });

  it('the AAC drop message says how to keep it', () => {
    const d = decideRelay({ ...video({}), audio: aac }, { audio: 'passthrough' });
    expect(d.mode !== 'refuse' && d.audio.mode === 'off' && d.audio.message).toMatch(/aac audio.*audio: "opus"/);
  });
});

describe('rtspRelayArgs', () => {
  const input = { args: ['-f', 'concat', '-safe', '0', '-protocol_whitelist', 'file,rtsp,tcp,rtp,udp', '-i', '/run/x/input.ffconcat'], listFile: '/run/x/input.ffconcat', dispose: async () => {} };
  const target = { video: { host: '127.0.0.1', rtpPort: 41000, rtcpPort: 41001, ssrc: 1111, payloadType: 102, localRtpPort: 50000 } };

  it('copy: maps the first video stream, copies it with in-band SPS/PPS, fixed SSRC/PT and local ports', () => {
    const args = rtspRelayArgs(input, decideRelay(video({}), {}), target);
    expect(args.join(' ')).toBe(
      '-hide_banner -nostats -loglevel error -f concat -safe 0 -protocol_whitelist file,rtsp,tcp,rtp,udp -i /run/x/input.ffconcat ' +
        '-map 0:v:0 -c:v copy -bsf:v dump_extra=freq=keyframe -an -payload_type 102 -ssrc 1111 ' +
        '-f rtp rtp://127.0.0.1:41000?rtcpport=41001&localrtpport=50000&localrtcpport=50001&pkt_size=1200',
    );
  });

  it('transcode: libx264 constrained baseline, zerolatency, no B-frames, GOP = fps, yuv420p, bitrate cap', () => {
    const args = rtspRelayArgs(input, decideRelay(video({ codec: 'hevc', fps: 15 }), { transcode: 'h264', transcodeBitrate: 900_000 }), target).join(' ');
    expect(args).toContain('-map 0:v:0 -c:v libx264 -preset superfast -tune zerolatency -profile:v baseline -pix_fmt yuv420p -bf 0 -g 15 -keyint_min 15 -sc_threshold 0 -b:v 900000 -maxrate 900000 -bufsize 900000');
    expect(args).not.toContain('copy');
  });

  it('audio: a second RTP output with its own SSRC, PT and local ports; G.711 in 20 ms packets, AAC through libopus', () => {
    const audio = { host: '127.0.0.1', rtpPort: 41002, rtcpPort: 41003, ssrc: 2222, payloadType: 0, localRtpPort: 50002 };
    const g711 = rtspRelayArgs(input, decideRelay({ ...video({}), audio: { codec: 'pcm_mulaw', sampleRate: 8000, channels: 1 } }, { audio: 'passthrough' }), { ...target, audio }).join(' ');
    expect(g711).toContain(
      '-map 0:a:0 -c:a copy -vn -payload_type 0 -ssrc 2222 -f rtp rtp://127.0.0.1:41002?rtcpport=41003&localrtpport=50002&localrtcpport=50003&pkt_size=172',
    );
    const opus = rtspRelayArgs(input, decideRelay({ ...video({}), audio: { codec: 'aac', sampleRate: 16000, channels: 1 } }, { audio: 'opus' }), { ...target, audio: { ...audio, payloadType: 111 } }).join(' ');
    expect(opus).toContain('-map 0:a:0 -c:a libopus -ar 48000 -ac 2');
    expect(opus).toContain('pkt_size=1200');
  });

  it('refuses to build a relay for a refused camera, or audio without an audio target', () => {
    expect(() => rtspRelayArgs(input, decideRelay(video({ codec: 'hevc' }), {}), target)).toThrow(/refused/);
    const d = decideRelay({ ...video({}), audio: { codec: 'pcm_alaw', sampleRate: 8000, channels: 1 } }, { audio: 'passthrough' });
    expect(() => rtspRelayArgs(input, d, target)).toThrow(/audio/);
  });
});

describe('relay audio producer parameters', () => {
  it('PCMU/PCMA use static payload types 0/8 at 8 kHz; Opus a dynamic one at 48 kHz stereo', () => {
    const pcma = { mode: 'copy', codec: 'PCMA', clockRate: 8000, channels: 1 } as const;
    expect(relayAudioPayloadType(pcma)).toBe(8);
    expect(relayAudioRtpParameters(pcma, 5, 8).codecs[0]).toEqual({ mimeType: 'audio/PCMA', payloadType: 8, clockRate: 8000, channels: 1 });
    const opus = { mode: 'opus', from: 'aac' } as const;
    expect(relayAudioPayloadType(opus)).toBe(111);
    expect(relayAudioRtpParameters(opus, 5, 111)).toMatchObject({ codecs: [{ mimeType: 'audio/opus', clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 5 }] });
    expect(() => relayAudioRtpParameters({ mode: 'off', reason: 'disabled', message: 'off' }, 5, 0)).toThrow(/no audio/);
  });
});
