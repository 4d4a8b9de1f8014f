/**
 * Who may feed a camera (issues 15 and 17), with real parts: x264 clips sent
 * by outside ffmpeg processes (plain RTP and SRTP), a mediasoup worker, and
 * headless Chromium playing through the SDK.
 *
 * - SRTP with a key from config: only packets that authenticate with the
 *   camera's key reach mediasoup; a sender with another key, or plain RTP,
 *   is dropped and counted, also while the camera is silent or restarting;
 *   the camera restarting with its key plays again.
 * - The relay ingest path (a PlainTransport connected to the relay's fixed
 *   address, no comedia): a stranger on another address (a network
 *   namespace) sending to the transport's port is ignored by mediasoup and
 *   counted, and the viewer never notices.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { createNetns, netnsUnavailable, type TestNetns } from '../helpers/netns.ts';
import { makeClip, pushClip, type PushOptions } from '../helpers/push-camera.ts';
import { play, probe, resetGap, sdkPage } from '../helpers/sdk-page.ts';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';

const PT = 96;
const SUITE = 'AES_CM_128_HMAC_SHA1_80';
const key = randomBytes(30).toString('base64');
const wrongKey = randomBytes(30).toString('base64');
const key32 = randomBytes(30).toString('base64');
const keyDir = mkdtempSync(join(tmpdir(), 'vigil-srtp-'));
const keyFile = join(keyDir, 'cam.key');

let vigil: TestVigil;
let browser: Browser;
let clip: string;
const procs: ChildProcess[] = [];

function send(id: string, opts: Partial<PushOptions> = {}): ChildProcess {
  const cam = vigil.gateway.camera(id)!;
  const src = cam.config.source as { ssrc: number };
  const p = pushClip({ clip, host: '127.0.0.1', rtpPort: cam.ports.rtpPort, ssrc: src.ssrc, payloadType: PT, ...opts });
  procs.push(p);
  return p;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  process.env['VIGIL_TEST_SRTP_KEY_32'] = key32;
  clip = await makeClip({ width: 320, height: 180, fps: 25, gopFrames: 25, frames: 50, profile: 'baseline' });
  vigil = await startTestVigil({
    cameras: [
      { id: 'sealed', codec: 'H264', source: { kind: 'rtp-push', port: 0, ssrc: 2001, payloadType: PT, srtp: { cryptoSuite: SUITE, keyFile } } },
      { id: 'sealed32', codec: 'H264', source: { kind: 'rtp-push', port: 0, ssrc: 2002, payloadType: PT, srtp: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_32', keyEnv: 'VIGIL_TEST_SRTP_KEY_32' } } },
    ],
  });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await browser?.close();
  await vigil?.close();
  rmSync(keyDir, { recursive: true, force: true });
});

describe('SRTP on RTP push, key from config', () => {
  it('AES_CM_128_HMAC_SHA1_32 with the key in an environment variable: RTP and SRTCP authenticate, the camera goes live', async () => {
    const cam = vigil.gateway.camera('sealed32')!;
    const p = send('sealed32', { srtp: { suite: 'AES_CM_128_HMAC_SHA1_32', keyBase64: key32 } });
    const packets = async () => (await cam.producer.getStats()).reduce((n, st) => n + st.packetCount, 0);
    await waitFor(async () => cam.state === 'live' && (await packets()) > 50, 15_000, 100);
    p.kill('SIGKILL');
    // ffmpeg sends a sender report as it starts (32-bit SRTCP tag with this suite).
    expect(cam.stream('high').ingestCounters(new Map()).foreignPackets).toBe(0);
    procs.splice(procs.indexOf(p), 1);
  });

  it('only the key opens the camera: wrong key and plain RTP are dropped and counted; the camera restarting with its key plays again', async () => {
    const cam = vigil.gateway.camera('sealed')!;
    const counters = () => cam.stream('high').ingestCounters(new Map());

    // Before the camera: a sender with another key, and one with plain RTP (the camera's address and SSRC).
    const wrong = send('sealed', { srtp: { suite: SUITE, keyBase64: wrongKey } });
    const plain = send('sealed');
    // ~25 packets/s each of a 320x180 clip; ffmpeg may take a while to start on a busy machine.
    await waitFor(() => counters().foreignPackets > 60, 15_000, 50);
    wrong.kill('SIGKILL');
    plain.kill('SIGKILL');
    await sleep(300); // packets in flight
    const refused = counters().foreignPackets;
    expect(cam.state).not.toBe('live'); // connecting, or offline once nothing authentic arrived for offlineTimeoutMs
    expect((await cam.producer.getStats()).reduce((n, s) => n + s.packetCount, 0)).toBe(0);

    // The camera with its key plays.
    const camera = send('sealed', { srtp: { suite: SUITE, keyBase64: key }, seq: 30_000 });
    const page = await sdkPage(browser, vigil.url);
    await play(page, 's', 'sealed', vigil.token(['sealed']));
    await waitFor(async () => (await probe(page, 's')).state === 'playing', 15_000);
    expect((await probe(page, 's')).videoWidth).toBe(320);
    // Nothing of the camera's was refused: its SRTP and its SRTCP (a sender report at start) authenticate.
    expect(counters().foreignPackets).toBe(refused);
    const producerId = cam.producer.id;

    // The camera goes silent; a wrong-key sender from the camera's address may not take over.
    camera.kill('SIGKILL');
    await sleep(300);
    const intruder = send('sealed', { srtp: { suite: SUITE, keyBase64: wrongKey } });
    await waitFor(() => counters().foreignPackets > refused + 40, 15_000, 50);
    intruder.kill('SIGKILL');
    const afterIntruder = counters();
    expect(afterIntruder.restarts).toBe(0);

    // The camera restarts with its key (new port, a lower sequence, rollover counter 0): back on the same producer
    // (a running SRTP context would refuse the lower sequence as replays, RFC 3711 §3.3.2).
    await resetGap(page, 's');
    const before = (await probe(page, 's')).framesDecoded;
    const t0 = Date.now();
    send('sealed', { srtp: { suite: SUITE, keyBase64: key }, seq: 1000 });
    await waitFor(async () => (await probe(page, 's')).framesDecoded > before + 10, 10_000, 50);
    const p = await probe(page, 's');
    console.log(
      `[push-security] SRTP: ${refused} packets refused before the camera (wrong key, plain RTP), ` +
        `${afterIntruder.foreignPackets - refused} from a wrong-key sender while it was silent; ` +
        `restarted camera: frames again ${Date.now() - t0} ms after its process started; metric and admin see ${afterIntruder.foreignPackets}`,
    );
    expect(p.state).toBe('playing');
    expect(cam.producer.id).toBe(producerId);
    expect(counters().restarts).toBe(1);
    const body = (await vigil.admin('GET', '/cameras/sealed')).body;
    expect(body.streams[0].foreignPackets).toBeGreaterThanOrEqual(afterIntruder.foreignPackets);
    // The key is referenced, never shown.
    expect(JSON.stringify(body)).not.toContain(key);
    for (const proc of procs.splice(0)) proc.kill('SIGKILL');
    await page.close();
  });
});

describe('the relay ingest path (PlainTransport connected to the relay, no comedia)', () => {
  const why = netnsUnavailable();
  let ns: TestNetns | undefined;
  let v: TestVigil | undefined;

  afterAll(async () => {
    await v?.close();
    ns?.close();
  });

  it.skipIf(why !== undefined)(`a stranger on another address is ignored by mediasoup and counted; the viewer never notices${why ? ` (skipped: ${why})` : ''}`, async () => {
    ns = createNetns();
    // Ingest on the host end of the veth pair, so the relay's PlainTransport is reachable from the namespace.
    v = await startTestVigil({
      ingest: { listenIp: ns.hostIp },
      // `down`: an RTSP camera that cannot be reached, so its relay never sends: nothing latched yet.
      cameras: [testCamera('relayed', 'H264'), { id: 'down', codec: 'H264', source: { kind: 'rtsp', url: 'rtsp://127.0.0.1:9/none' } }],
    });
    const transportIgnored = async (t: { getStats(): Promise<{ bytesReceived: number; rtpBytesReceived: number; rtxBytesReceived?: number }[]> }) => {
      const [st] = await t.getStats();
      return st!.bytesReceived - st!.rtpBytesReceived - (st!.rtxBytesReceived ?? 0);
    };

    // A stranger feeding a relay camera whose source is down (comedia would latch it and put its picture on air).
    const down = v.gateway.camera('down')!;
    const downSsrc = down.producer.rtpParameters.encodings![0]!.ssrc!;
    const early = pushClip({ clip, host: ns.hostIp, rtpPort: down.ports.rtpPort, ssrc: downSsrc, payloadType: 96, netns: ns.name });
    procs.push(early);
    await sleep(2000);
    early.kill('SIGKILL');
    const downPackets = (await down.producer.getStats()).reduce((n, st) => n + st.packetCount, 0);
    const downIgnored = await transportIgnored(down.stream('high').ingestTransport);
    console.log(`[push-security] relay path, source down: stranger's ${downIgnored} bytes ignored, ${downPackets} packets reached the producer, camera ${down.state}`);
    expect(downPackets).toBe(0);
    expect(downIgnored).toBeGreaterThan(10_000);
    expect(down.state).not.toBe('live');

    const cam = v.gateway.camera('relayed')!;
    await waitFor(() => cam.state === 'live', 15_000);
    const page = await sdkPage(browser, v.url);
    await play(page, 'r', 'relayed', v.token(['relayed']));
    await waitFor(async () => (await probe(page, 'r')).state === 'playing', 15_000);
    const producerId = cam.producer.id;
    const transport = cam.stream('high').ingestTransport;
    const ignored = () => transportIgnored(transport);
    const ignoredBefore = await ignored();
    const framesBefore = (await probe(page, 'r')).framesDecoded;
    await resetGap(page, 'r');

    // The stranger sends the relay's SSRC and payload type to the transport's own port, from the namespace, for 3 s
    // (a 320x180 picture, so a single frame of it on screen would show).
    const relaySsrc = cam.producer.rtpParameters.encodings![0]!.ssrc!;
    const stranger = pushClip({ clip, host: ns.hostIp, rtpPort: cam.ports.rtpPort, ssrc: relaySsrc, payloadType: 96, netns: ns.name });
    procs.push(stranger);
    await sleep(3000);
    stranger.kill('SIGKILL');

    const p = await probe(page, 'r');
    const ignoredBytes = (await ignored()) - ignoredBefore;
    console.log(
      `[push-security] relay path stranger: ${ignoredBytes} bytes received and ignored by the transport; ` +
        `viewer frames +${p.framesDecoded - framesBefore}, longest gap ${p.maxFrameGapMs} ms, size ${p.videoWidth}x${p.videoHeight}`,
    );
    expect(ignoredBytes).toBeGreaterThan(20_000); // the stranger's ~3 s of video
    expect(p.state).toBe('playing');
    expect(p.videoWidth).toBe(640);
    expect(p.framesDecoded - framesBefore).toBeGreaterThan(50);
    expect(p.maxFrameGapMs).toBeLessThan(1000);
    expect(cam.producer.id).toBe(producerId);
    expect(cam.state).toBe('live');
    await page.close();
  });
});
