/**
 * RTSP ingest with real parts: a real RTSP server (gst-rtsp-server,
 * test/fixtures/rtsp-server.py) serving ffmpeg-made H.264/H.265 files with
 * and without audio, Basic and Digest auth; ffprobe probing it; ffmpeg relays
 * from it into a real mediasoup worker's comedia PlainTransport.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  rtspStderrRedactor,
  decideRelay,
  encodeUserinfo,
  prepareRtspInput,
  probeRtsp,
  relayAudioPayloadType,
  relayAudioRtpParameters,
  rtspRelayArgs,
  RtspError,
  ROUTER_MEDIA_CODECS,
  type CameraConfig,
  type RelayDecision,
  type RtspInput,
  type RtspSourceInput,
  allocateUdpPortPair,
} from '@vigil/gateway/internals';
import { openPlainIngest, type PlainIngest } from '@vigil/gateway/internals';
import { RelayProcess } from '@vigil/gateway/internals';
import { startRtspServer, type TestRtspServer } from '../helpers/rtsp-server.ts';
import { waitFor } from '../helpers/vigil.ts';

const USER = 'operator';
/** Characters that must be percent-encoded in userinfo (RFC 3986 §3.2.1). */
const BASIC_PASSWORD = 'b@sic:Pw/1%x';
const DIGEST_PASSWORD = "d!g'est:P@ss/2%";

let open: TestRtspServer;
let basic: TestRtspServer;
let digest: TestRtspServer;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'vigil-rtsp-test-'));
  open = await startRtspServer({
    mounts: {
      '/baseline': { video: 'h264', profile: 'baseline' },
      '/main': { video: 'h264', profile: 'main' },
      '/high': { video: 'h264', profile: 'high' },
      '/bframes': { video: 'h264', profile: 'high', bframes: true },
      '/h265': { video: 'h265' },
      '/h264-aac': { video: 'h264', audio: 'aac' },
      '/h264-pcmu': { video: 'h264', audio: 'pcmu' },
      '/h265-pcma': { video: 'h265', audio: 'pcma' },
      '/audio-only': { video: 'h264', audio: 'aac', audioOnly: true },
    },
  });
  basic = await startRtspServer({ auth: 'basic', user: USER, password: BASIC_PASSWORD, mounts: { '/cam': { video: 'h264' } } });
  digest = await startRtspServer({
    auth: 'digest',
    user: USER,
    password: DIGEST_PASSWORD,
    mounts: { '/cam': { video: 'h264', profile: 'main' }, '/h265': { video: 'h265' } },
  });
}, 180_000);

afterAll(async () => {
  await Promise.all([open?.stop(), basic?.stop(), digest?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

/** Asserts `fn` rejects with an RtspError of `reason` whose text holds no credential form. */
async function expectRtspError(fn: () => Promise<unknown>, reason: string, secrets: string[] = []): Promise<RtspError> {
  const err = await fn().then(
    () => {
      throw new Error('expected an RtspError');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RtspError);
  const e = err as RtspError;
  expect(e.reason).toBe(reason);
  const text = `${e.message}\n${e.detail ?? ''}\n${e.stack ?? ''}`;
  for (const s of secrets) {
    expect(text).not.toContain(s);
    expect(text).not.toContain(encodeURIComponent(s));
    expect(text).not.toContain(encodeUserinfo(s));
  }
  return e;
}

describe('probeRtsp against a real RTSP server', () => {
  const table: Array<[string, Record<string, unknown>, RelayDecision['mode'], Record<string, unknown> | undefined]> = [
    ['/baseline', { codec: 'h264', profile: 'Constrained Baseline', hasBFrames: false }, 'copy', undefined],
    ['/main', { codec: 'h264', profile: 'Main', hasBFrames: false }, 'copy', undefined],
    ['/high', { codec: 'h264', profile: 'High', hasBFrames: false }, 'copy', undefined],
    ['/bframes', { codec: 'h264', profile: 'High', hasBFrames: true }, 'refuse', undefined],
    ['/h265', { codec: 'hevc', profile: 'Main' }, 'refuse', undefined],
    ['/h264-aac', { codec: 'h264' }, 'copy', { codec: 'aac', sampleRate: 16000, channels: 1 }],
    ['/h264-pcmu', { codec: 'h264' }, 'copy', { codec: 'pcm_mulaw', sampleRate: 8000, channels: 1 }],
    ['/h265-pcma', { codec: 'hevc' }, 'refuse', { codec: 'pcm_alaw', sampleRate: 8000, channels: 1 }],
  ];
  it.each(table)('%s: reports codec, profile, size, fps, B-frames and audio', async (mount, video, mode, audio) => {
    const probe = await probeRtsp({ url: open.url(mount) });
    expect(probe.video).toMatchObject({ ...video, width: 320, height: 240, fps: 25, pixFmt: 'yuv420p' });
    if (audio) expect(probe.audio).toEqual(audio);
    else expect(probe.audio).toBeUndefined();
    expect(decideRelay(probe, {}).mode).toBe(mode);
  });

  it('probes over UDP transport too', async () => {
    const probe = await probeRtsp({ url: open.url('/main'), transport: 'udp' });
    expect(probe.video).toMatchObject({ codec: 'h264', profile: 'Main', width: 320, height: 240 });
  });

  for (const [name, password] of [['Basic', BASIC_PASSWORD], ['Digest', DIGEST_PASSWORD]] as const) {
    // Basic over UDP, Digest over TCP: the credential file path carries the transport option too.
    const transport = name === 'Basic' ? 'udp' : 'tcp';
    it(`${name} auth (RTSP over ${transport}): the right password probes and leaves no credential file behind`, async () => {
      const server = name === 'Basic' ? basic : digest;
      const dir = await mkdtemp(join(tmp, 'probe-'));
      const probe = await probeRtsp({ url: server.url('/cam'), username: USER, password, transport }, { tmpDir: dir });
      expect(probe.video.codec).toBe('h264');
      expect(await readdir(dir)).toEqual([]);
    });

    it(`${name} auth: a wrong or missing password is 'unauthorized' and no password shows`, async () => {
      const server = name === 'Basic' ? basic : digest;
      const wrong = `${password}-wrong`;
      const e = await expectRtspError(
        () => probeRtsp({ url: server.url('/cam'), username: USER, password: wrong }),
        'unauthorized',
        [wrong, password],
      );
      expect(e.message).toContain(server.url('/cam'));
      expect(e.message).toMatch(/401/);
      await expectRtspError(() => probeRtsp({ url: server.url('/cam') }), 'unauthorized', [password]);
    });
  }

  it("an unknown mount is 'not_found' (with the right credentials)", async () => {
    await expectRtspError(
      () => probeRtsp({ url: digest.url('/nope'), username: USER, password: DIGEST_PASSWORD }),
      'not_found',
      [DIGEST_PASSWORD],
    );
    await expectRtspError(() => probeRtsp({ url: open.url('/nope') }), 'not_found');
  });

  it("nothing listening is 'unreachable'", async () => {
    const port = await closedTcpPort();
    await expectRtspError(
      () => probeRtsp({ url: `rtsp://127.0.0.1:${port}/cam`, username: USER, password: DIGEST_PASSWORD }),
      'unreachable',
      [DIGEST_PASSWORD],
    );
  });

  it("a server that accepts but never answers is 'timeout' within the I/O timeout", async () => {
    const silent = await listen(createServer(() => {}));
    try {
      const started = Date.now();
      await expectRtspError(
        () => probeRtsp({ url: `rtsp://127.0.0.1:${port(silent)}/cam`, ioTimeoutMs: 1000, probeTimeoutMs: 8000 }),
        'timeout',
      );
      expect(Date.now() - started).toBeLessThan(8000);
    } finally {
      silent.close();
    }
  });

  it("the probe's own bound turns into 'timeout' too", async () => {
    const silent = await listen(createServer(() => {}));
    try {
      await expectRtspError(
        () => probeRtsp({ url: `rtsp://127.0.0.1:${port(silent)}/cam`, ioTimeoutMs: 30_000, probeTimeoutMs: 1500 }),
        'timeout',
      );
    } finally {
      silent.close();
    }
  });

  it("a server that does not speak RTSP is 'protocol'", async () => {
    const http = await listen(
      createServer((sock) => sock.once('data', () => sock.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi'))),
    );
    try {
      await expectRtspError(() => probeRtsp({ url: `rtsp://127.0.0.1:${port(http)}/cam`, ioTimeoutMs: 2000 }), 'protocol');
    } finally {
      http.close();
    }
  });

  it("a camera that dies is 'unreachable'; restarted on the same port it answers again, and a relay on it exits when it dies", async () => {
    const cam = await startRtspServer({ mounts: { '/cam': { video: 'h264' } } });
    const rtp = createSocket('udp4');
    try {
      const port = cam.port;
      const source: RtspSourceInput = { url: cam.url('/cam'), ioTimeoutMs: 3000 };
      const decision = decideRelay(await probeRtsp(source), source);
      await new Promise<void>((r) => rtp.bind(0, '127.0.0.1', r));
      let datagrams = 0;
      rtp.on('message', () => datagrams++);
      const input = await prepareRtspInput(source);
      const target = { host: '127.0.0.1', rtpPort: rtp.address().port, rtcpPort: rtp.address().port + 1, ssrc: 7, payloadType: 102 };
      const relay = spawn('ffmpeg', rtspRelayArgs(input, decision, { video: target }), { stdio: 'ignore' });
      const exited = new Promise<number>((resolve) => relay.once('exit', () => resolve(Date.now())));
      await waitFor(() => datagrams > 20, 10_000);

      await cam.kill();
      const killedAt = Date.now();
      // The relay notices (TCP connection closed) and exits, so its supervisor can restart it.
      expect((await exited) - killedAt).toBeLessThan(5000);
      await expectRtspError(() => probeRtsp(source), 'unreachable');

      await cam.restart();
      expect(cam.port).toBe(port);
      expect((await probeRtsp(source)).video.codec).toBe('h264');
    } finally {
      rtp.close();
      await cam.stop();
    }
  });

  it("a stream without video is 'no_video'", async () => {
    const e = await expectRtspError(() => probeRtsp({ url: open.url('/audio-only') }), 'no_video');
    expect(e.message).toContain('aac');
  });
});

describe('RTSP relay into a real mediasoup PlainTransport', () => {
  let worker: types.Worker;
  let router: types.Router;
  const relays = new Set<ChildProcess>();
  const inputs: RtspInput[] = [];

  beforeAll(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'warn' });
    router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
  });

  afterAll(async () => {
    for (const r of relays) r.kill('SIGKILL');
    for (const i of inputs) await i.dispose();
    worker?.close();
  });

  function spawnRelay(args: string[]): ChildProcess {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
    child.on('exit', (code, signal) => {
      relays.delete(child);
      if (signal !== 'SIGKILL' && code !== 0) console.error(`relay exited ${code}: ${err}`);
    });
    relays.add(child);
    return child;
  }

  async function kill(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  async function packets(producer: types.Producer): Promise<number> {
    return (await producer.getStats()).reduce((n, s) => n + s.packetCount, 0);
  }

  /** Counts keyframes mediasoup itself recognises in the RTP payload (producer 'trace' events). */
  function keyframes(producer: types.Producer): { count: number } {
    const seen = { count: 0 };
    void producer.enableTraceEvent(['keyframe']);
    producer.on('trace', (t) => {
      if (t.type === 'keyframe') seen.count++;
    });
    return seen;
  }

  async function videoIngest(id: string, decision: RelayDecision, ssrc: number, pt: number): Promise<PlainIngest> {
    if (decision.mode === 'refuse') throw new Error(decision.message);
    const camera: CameraConfig = {
      id,
      codec: decision.codec,
      h264Profile: decision.h264Profile,
      source: { kind: 'rtp-push', port: 0, ssrc, payloadType: pt },
    };
    return openPlainIngest(router, camera, '127.0.0.1', 0, ssrc, pt);
  }

  async function prepared(source: RtspSourceInput): Promise<RtspInput> {
    const input = await prepareRtspInput(source, { dir: tmp });
    inputs.push(input);
    return input;
  }

  it('H.264 with Digest auth is copied; the password is not in the relay\'s argv; a relay restarted from the same local ports keeps feeding the same producer, one from other ports is ignored (comedia)', async () => {
    const source: RtspSourceInput = { url: digest.url('/cam'), username: USER, password: DIGEST_PASSWORD, transport: 'tcp' };
    const decision = decideRelay(await probeRtsp(source), source);
    expect(decision).toMatchObject({ mode: 'copy', codec: 'H264', h264Profile: 'main' });
    const ingest = await videoIngest('rtsp-copy', decision, 11_111, 102);
    const kf = keyframes(ingest.producer);
    const localPort = await allocateUdpPortPair('127.0.0.1');
    const input = await prepared(source);
    const video = { host: '127.0.0.1', rtpPort: ingest.rtpPort, rtcpPort: ingest.rtcpPort, ssrc: 11_111, payloadType: 102, localRtpPort: localPort };
    const args = rtspRelayArgs(input, decision, { video });

    // The credential file is private; argv names only the file.
    expect((await stat(input.listFile!)).mode & 0o777).toBe(0o600);
    expect((await stat(join(input.listFile!, '..'))).mode & 0o777).toBe(0o700);
    const relay = spawnRelay(args);
    const cmdline = await readFile(`/proc/${relay.pid}/cmdline`, 'utf8');
    expect(cmdline).toContain(input.listFile!);
    for (const form of [DIGEST_PASSWORD, encodeUserinfo(DIGEST_PASSWORD)]) expect(cmdline).not.toContain(form);

    await waitFor(async () => (await packets(ingest.producer)) > 100, 15_000);
    await waitFor(() => kf.count >= 1, 5000);
    expect(ingest.transport.tuple.remotePort).toBe(localPort);
    const [s] = await ingest.producer.getStats();
    expect(s).toMatchObject({ mimeType: 'video/H264', ssrc: 11_111 });

    // A relay sending from other local ports is ignored: the transport latched the first tuple.
    await kill(relay);
    const otherPort = await allocateUdpPortPair('127.0.0.1');
    const stranger = spawnRelay(rtspRelayArgs(input, decision, { video: { ...video, localRtpPort: otherPort } }));
    const before = await packets(ingest.producer);
    await new Promise((r) => setTimeout(r, 4000));
    expect(await packets(ingest.producer)).toBe(before);
    await kill(stranger);

    // Restarted with the same argv (same local ports): packets flow into the same producer again.
    const restarted = spawnRelay(args);
    await waitFor(async () => (await packets(ingest.producer)) > before + 100, 15_000);
    expect(ingest.producer.closed).toBe(false);
    expect(ingest.transport.tuple.remotePort).toBe(localPort);
    await kill(restarted);
    ingest.transport.close();
  });

  it('H.265 with transcode: "h264" (no auth, RTSP over UDP) is transcoded to H.264 baseline that mediasoup parses keyframes of', async () => {
    const source: RtspSourceInput = { url: open.url('/h265'), transport: 'udp', transcode: 'h264' };
    const decision = decideRelay(await probeRtsp(source), source);
    expect(decision).toMatchObject({ mode: 'transcode', reason: 'hevc', h264Profile: 'baseline', gopFrames: 25 });
    const ingest = await videoIngest('rtsp-h265', decision, 22_222, 103);
    const kf = keyframes(ingest.producer);
    const input = await prepared(source);
    expect(input.listFile).toBeUndefined();
    const relay = spawnRelay(
      rtspRelayArgs(input, decision, {
        video: { host: '127.0.0.1', rtpPort: ingest.rtpPort, rtcpPort: ingest.rtcpPort, ssrc: 22_222, payloadType: 103, localRtpPort: await allocateUdpPortPair('127.0.0.1') },
      }),
    );
    await waitFor(async () => (await packets(ingest.producer)) > 50, 20_000);
    // GOP = 25 frames at 25 fps: a keyframe a second.
    await waitFor(() => kf.count >= 2, 10_000);
    await kill(relay);
    ingest.transport.close();
  });

  it('the H.265 camera through Digest auth is refused without transcode, with the reason', async () => {
    const source: RtspSourceInput = { url: digest.url('/h265'), username: USER, password: DIGEST_PASSWORD };
    const decision = decideRelay(await probeRtsp(source), source);
    expect(decision).toMatchObject({ mode: 'refuse', reason: 'hevc' });
    expect(decision.mode === 'refuse' && decision.message).toMatch(/H\.265.*transcode: "h264"/);
  });

  it('a supervised relay with a wrong password logs the 401 from ffmpeg, scrubbed of the credentials', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const wrong = `${DIGEST_PASSWORD}-wrong`;
    const source: RtspSourceInput = { url: digest.url('/cam'), username: USER, password: wrong };
    const input = await prepared(source);
    const decision = decideRelay(
      { video: { codec: 'h264', profile: 'Main', width: 320, height: 240, fps: 25, hasBFrames: false, pixFmt: 'yuv420p' } },
      source,
    );
    const relay = new RelayProcess({
      command: 'ffmpeg',
      args: () => rtspRelayArgs(input, decision, { video: { host: '127.0.0.1', rtpPort: 9, rtcpPort: 10, ssrc: 1, payloadType: 102 } }),
      logger: pino({ level: 'warn' }, sink),
      minBackoffMs: 60_000,
      redact: rtspStderrRedactor(source, input),
    });
    try {
      await waitFor(() => lines.some((l) => l.includes('relay process exited')), 10_000);
    } finally {
      await relay.stop();
    }
    const log = lines.join('');
    expect(log).toMatch(/401 Unauthorized/);
    expect(log).toContain(`Impossible to open 'rtsp://***@127.0.0.1:${digest.port}/cam'`);
    expect(log).toContain(`${digest.url('/cam')}: Server returned 401`);
    expect(log).not.toContain(input.listFile!);
    for (const form of [wrong, encodeUserinfo(wrong), DIGEST_PASSWORD, encodeUserinfo(DIGEST_PASSWORD)]) {
      expect(log).not.toContain(form);
    }
  });

  async function audioIngest(plan: Extract<RelayDecision, { mode: 'copy' }>['audio'], ssrc: number) {
    const transport = await router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpListenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpMux: false,
      comedia: true,
    });
    const pt = relayAudioPayloadType(plan);
    const producer = await transport.produce({ kind: 'audio', rtpParameters: relayAudioRtpParameters(plan, ssrc, pt) });
    return { transport, producer, pt };
  }

  for (const [mount, audio, mime] of [
    ['/h264-aac', 'opus', 'audio/opus'],
    ['/h264-pcmu', 'passthrough', 'audio/PCMU'],
  ] as const) {
    it(`${mount} with audio: "${audio}" sends video and ${mime} as two RTP sessions`, async () => {
      const source: RtspSourceInput = { url: open.url(mount), audio };
      const decision = decideRelay(await probeRtsp(source), source);
      if (decision.mode !== 'copy') throw new Error(`expected copy, got ${decision.mode}`);
      expect(decision.audio.mode).toBe(audio === 'opus' ? 'opus' : 'copy');
      const v = await videoIngest(`rtsp-av-${audio}`, decision, 33_333, 104);
      const a = await audioIngest(decision.audio, 44_444);
      const relay = spawnRelay(
        rtspRelayArgs(await prepared(source), decision, {
          video: { host: '127.0.0.1', rtpPort: v.rtpPort, rtcpPort: v.rtcpPort, ssrc: 33_333, payloadType: 104, localRtpPort: await allocateUdpPortPair('127.0.0.1') },
          audio: {
            host: '127.0.0.1',
            rtpPort: a.transport.tuple.localPort,
            rtcpPort: a.transport.rtcpTuple!.localPort,
            ssrc: 44_444,
            payloadType: a.pt,
            localRtpPort: await allocateUdpPortPair('127.0.0.1'),
          },
        }),
      );
      await waitFor(async () => (await packets(v.producer)) > 50 && (await packets(a.producer)) > 20, 20_000);
      const [s] = await a.producer.getStats();
      expect(s).toMatchObject({ mimeType: mime, ssrc: 44_444 });
      await kill(relay);
      v.transport.close();
      a.transport.close();
    });
  }
});

function listen(server: Server): Promise<Server> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function port(server: Server): number {
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('not listening');
  return addr.port;
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedTcpPort(): Promise<number> {
  const s = await listen(createServer());
  const p = port(s);
  await new Promise((r) => s.close(r));
  return p;
}
