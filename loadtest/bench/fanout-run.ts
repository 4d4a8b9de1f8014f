/**
 * One fan-out run (a child of `fanout.ts`, one worker binary per run):
 * one mediasoup worker, one H.264 test-pattern camera, and N consumer bots.
 *
 * A bot is a consumer on its own SRTP PlainTransport sending to a UDP socket
 * in this process, so the worker does the per-viewer work of a browser
 * consumer (RTP rewrite, SRTP protect, send) minus ICE/DTLS keepalives and
 * the browser's RTCP. Worker CPU is `worker.getResourceUsage()` (getrusage(2)
 * of the worker process: ru_utime, ru_stime, ms) over a fixed window; every
 * bot counts the RTP packets it receives.
 *
 * With `--worker-cpu N` the worker (all its threads) is moved to CPU N with
 * `taskset -a -p -c N <pid>` (util-linux); this process is pinned by its parent.
 *
 * Consumers negotiate what Vigil's viewer consumers do (no bandwidth
 * estimation: gateway/src/fanout/viewer-capabilities.ts); `--bwe transport-cc`
 * gives them everything a browser offers (the worker runs its send-side
 * bandwidth estimation per transport, as Vigil did before), `--bwe remb` all
 * but transport-cc (abs-send-time and REMB: the worker's congestion-control
 * client in REMB mode). `--sndbuf BYTES` sets each bot transport's socket
 * send buffer (listenInfo.sendBufferSize).
 *
 * With `--perf FILE`, after the last step the worker is sampled with `perf
 * record -e cpu-clock -g` for another window (not part of any measurement).
 *
 * Prints one line per step to stdout: `STEP {json}` with the {@link StepResult} fields.
 * Usage (normally through fanout.ts):
 *   node loadtest/bench/fanout-run.ts --steps 100,400 --seconds 10 --bitrate 1000000 --srtp AEAD_AES_256_GCM
 *     [--worker-cpu 0] [--bwe none|remb|transport-cc] [--sndbuf 1048576] [--perf FILE]
 * Bounded: at most 2000 bots, at most 60 s per step.
 */
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Gateway, withoutBandwidthEstimation, withoutTransportCc } from '@vigil/gateway/internals';
import { parseConfig } from '@vigil/server';
import type { types } from 'mediasoup';
import { recordProfile } from '../src/profile.ts';

/** What one step measured. */
export interface StepResult {
  consumers: number;
  /** Measurement window, ms. */
  elapsedMs: number;
  /** Worker CPU over the window, ms (user, system). */
  userMs: number;
  sysMs: number;
  /**
   * RTP packets the consumers sent over the window, counted by the bots from
   * sequence numbers: per bot, highest - first + 1 (RFC 3550 A.3 "expected";
   * a consumer keeps the producer's gaps, so packets the worker dropped on
   * ingest count as sent and lost).
   */
  expected: number;
  /** RTP packets all bots received over the window. */
  received: number;
  /** Bytes of those packets (SRTP). */
  receivedBytes: number;
  /** Camera bitrate over the window, bps (producer stats). */
  ingestBps: number;
}

const SRTP_SUITES = ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'] as const;
type SrtpSuite = (typeof SRTP_SUITES)[number];

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '100,400' },
    seconds: { type: 'string', default: '10' },
    bitrate: { type: 'string', default: '1000000' },
    srtp: { type: 'string', default: 'AEAD_AES_256_GCM' },
    'worker-cpu': { type: 'string' },
    perf: { type: 'string' },
    bwe: { type: 'string', default: 'none' },
    sndbuf: { type: 'string' },
  },
});
const steps = values.steps.split(',').map(Number).filter((n) => n > 0 && n <= 2000);
const seconds = Math.min(60, Math.max(2, Number(values.seconds)));
const bitrate = Math.min(20_000_000, Math.max(100_000, Number(values.bitrate)));
if (!SRTP_SUITES.includes(values.srtp as SrtpSuite)) throw new Error(`--srtp must be one of ${SRTP_SUITES.join(', ')}`);
const srtpSuite = values.srtp as SrtpSuite;
const sendBufferSize = values.sndbuf ? Math.min(64 << 20, Math.max(4096, Number(values.sndbuf))) : undefined;

const config = parseConfig({
  workers: { count: 1, logLevel: 'error' },
  webrtc: { port: 0 },
  cameras: [{ id: 'bench', codec: 'H264', source: { kind: 'test-pattern', width: 1280, height: 720, fps: 30, gopFrames: 30, bitrate } }],
});
const gateway = await Gateway.start({ config, logger: pino({ level: 'warn' }) });
const camera = gateway.camera('bench')!;
const slot = gateway.workers.slots[0]!;
const router = slot.router;
// As Vigil's Fanout consumes for a viewer (no bandwidth estimation), unless --bwe says otherwise.
const BWE_CAPS = { none: withoutBandwidthEstimation, remb: withoutTransportCc, 'transport-cc': (c: types.RtpCapabilities) => c } as const;
const makeCaps = BWE_CAPS[values.bwe as keyof typeof BWE_CAPS];
if (!makeCaps) throw new Error(`--bwe must be one of ${Object.keys(BWE_CAPS).join(', ')}`);
const consumerCaps = makeCaps(router.rtpCapabilities);
if (values['worker-cpu'] !== undefined) {
  execFileSync('taskset', ['-a', '-p', '-c', String(Number(values['worker-cpu'])), String(slot.worker.pid)], { stdio: 'ignore' });
}

for (let i = 0; i < 100 && camera.state !== 'live'; i++) await new Promise((r) => setTimeout(r, 100));
if (camera.state !== 'live') throw new Error('camera did not go live');

interface Bot {
  transport: types.PlainTransport;
  socket: Socket;
  /** The consumer's media SSRC (other SSRCs, e.g. mediasoup's probation packets, are not counted). */
  ssrc: number;
  packets: number;
  bytes: number;
  /** Extended sequence numbers of the window's first and highest packet (-1: none yet). */
  firstSeq: number;
  maxSeq: number;
}
const resetBot = (b: Bot): void => {
  b.packets = 0;
  b.bytes = 0;
  b.firstSeq = -1;
  b.maxSeq = -1;
};
const bots: Bot[] = [];

async function addBot(): Promise<void> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const bot: Bot = { transport: undefined as unknown as types.PlainTransport, socket, ssrc: -1, packets: 0, bytes: 0, firstSeq: -1, maxSeq: -1 };
  // Count RTP only: RTCP packet types 200-204 share the port (rtcp-mux, RFC 5761 §4).
  // SRTP leaves the RTP header in the clear (RFC 3711 §3.1): the sequence number is readable.
  socket.on('message', (msg) => {
    if (msg.length < 12 || (msg[1]! >= 200 && msg[1]! <= 204) || msg.readUInt32BE(8) !== bot.ssrc) return;
    bot.packets++;
    bot.bytes += msg.length;
    const seq = msg.readUInt16BE(2);
    if (bot.firstSeq < 0) {
      bot.firstSeq = bot.maxSeq = seq;
      return;
    }
    const delta = ((seq - bot.maxSeq + 0x8000) & 0xffff) - 0x8000; // signed 16-bit distance
    if (delta > 0) bot.maxSeq += delta;
  });
  const transport = await router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: '127.0.0.1', ...(sendBufferSize ? { sendBufferSize } : {}) },
    rtcpMux: true,
    comedia: false,
    enableSrtp: true,
    srtpCryptoSuite: srtpSuite,
  });
  // The bot never decrypts; the key only has to be well-formed for connect().
  await transport.connect({ ip: '127.0.0.1', port: socket.address().port, srtpParameters: transport.srtpParameters! });
  const consumer = await transport.consume({ producerId: camera.producer.id, rtpCapabilities: consumerCaps, paused: false });
  bot.ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc ?? -1;
  await consumer.requestKeyFrame();
  bot.transport = transport;
  bots.push(bot);
}

const producerBytes = async (): Promise<number> => (await camera.producer.getStats())[0]?.byteCount ?? 0;

for (const target of steps) {
  // 25 at a time: channel requests pipeline, creation does not dominate the run.
  while (bots.length < target) await Promise.all(Array.from({ length: Math.min(25, target - bots.length) }, addBot));
  await new Promise((r) => setTimeout(r, 1500)); // settle: keyframes, socket buffers
  for (const b of bots) resetBot(b);
  const ru0 = await slot.worker.getResourceUsage();
  const in0 = await producerBytes();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const received = bots.reduce((n, b) => n + b.packets, 0);
  const receivedBytes = bots.reduce((n, b) => n + b.bytes, 0);
  const expected = bots.reduce((n, b) => n + (b.firstSeq < 0 ? 0 : b.maxSeq - b.firstSeq + 1), 0);
  const ru1 = await slot.worker.getResourceUsage();
  const in1 = await producerBytes();
  const elapsedMs = performance.now() - t0;
  const result: StepResult = {
    consumers: bots.length,
    elapsedMs,
    userMs: ru1.ru_utime - ru0.ru_utime,
    sysMs: ru1.ru_stime - ru0.ru_stime,
    expected,
    received,
    receivedBytes,
    ingestBps: ((in1 - in0) * 8000) / elapsedMs,
  };
  console.log(`STEP ${JSON.stringify(result)}`);
}
if (values.perf) {
  // After the last step, outside its measured window: sample the worker's stacks (Debian linux-perf, cpu-clock works in VMs).
  await recordProfile(slot.worker.pid, seconds, values.perf);
}
for (const b of bots) b.socket.close();
await gateway.close();
process.exit(0);
