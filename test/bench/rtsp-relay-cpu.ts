/**
 * Benchmark (prints numbers, asserts nothing): CPU of one RTSP relay (ffmpeg)
 * per camera type, pulling from the real test RTSP server (gst-rtsp-server)
 * and feeding a real mediasoup PlainTransport, as the gateway runs it.
 *
 *   sh scripts/run.sh node test/bench/rtsp-relay-cpu.ts [seconds=10]
 *
 * CPU is (utime + stime) of the relay process from /proc/<pid>/stat (all
 * threads) over the window, after a 3 s warm-up, in % of one core. Also
 * printed: time from spawn to the first RTP packet at the video producer (the
 * relay's share of a camera's "back to live" time: RTSP handshake + stream
 * analysis), and the relayed bitrate. Media: 25 fps, 1 s GOP, testsrc2 with
 * a burnt-in counter (one with sensor-like temporal noise, closer to a real
 * camera's cost); encoding them the first time takes a few minutes.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as mediasoup from 'mediasoup';
import {
  decideRelay,
  prepareRtspInput,
  probeRtsp,
  rtspRelayArgs,
  relayAudioPayloadType,
  relayAudioRtpParameters,
  RELAY_AUDIO_ROUTER_CODECS,
  ROUTER_MEDIA_CODECS,
  TRANSCODE_PRESET,
  type CameraConfig,
  type RtpTarget,
} from '@vigil/gateway/internals';
import { openPlainIngest } from '@vigil/gateway/internals';
import { startRtspServer } from '../helpers/rtsp-server.ts';
import { allocateUdpPortPair } from '@vigil/gateway/internals';

const windowSec = Number(process.argv[2] ?? 10);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** utime + stime of a process, in clock ticks (proc(5): fields 14 and 15). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const server = await startRtspServer({
  mounts: {
    '/h264-1080': { video: 'h264', profile: 'high', width: 1920, height: 1080, durationSec: 40 },
    '/h265-1080': { video: 'h265', width: 1920, height: 1080, durationSec: 40 },
    '/h265-1080-noisy': { video: 'h265', width: 1920, height: 1080, durationSec: 40, noise: 12 },
    '/h264-360': { video: 'h264', profile: 'main', width: 640, height: 360, durationSec: 40 },
    '/h265-360': { video: 'h265', width: 640, height: 360, durationSec: 40 },
    '/h264-360-aac': { video: 'h264', profile: 'main', width: 640, height: 360, durationSec: 40, audio: 'aac' },
  },
  startTimeoutMs: 60_000,
});
const authServer = await startRtspServer({
  auth: 'digest',
  user: 'bench',
  password: 'bench-password',
  mounts: { '/h264-1080': { video: 'h264', profile: 'high', width: 1920, height: 1080, durationSec: 40 } },
});
const worker = await mediasoup.createWorker({ logLevel: 'warn' });
const router = await worker.createRouter({ mediaCodecs: [...ROUTER_MEDIA_CODECS, ...RELAY_AUDIO_ROUTER_CODECS] });

const cases: Array<{ name: string; mount: string; preset?: string; auth?: boolean; audio?: 'opus' }> = [
  { name: '1080p25 H.264 High, copy', mount: '/h264-1080' },
  { name: '1080p25 H.264 High, copy, Digest (ffconcat)', mount: '/h264-1080', auth: true },
  { name: `1080p25 H.265 -> H.264 (${TRANSCODE_PRESET})`, mount: '/h265-1080' },
  { name: '1080p25 H.265 -> H.264 (ultrafast)', mount: '/h265-1080', preset: 'ultrafast' },
  { name: `1080p25 H.265 noisy -> H.264 (${TRANSCODE_PRESET})`, mount: '/h265-1080-noisy' },
  { name: '360p25 H.264 Main, copy', mount: '/h264-360' },
  { name: `360p25 H.265 -> H.264 (${TRANSCODE_PRESET})`, mount: '/h265-360' },
  { name: '360p25 H.264 copy + AAC 16 kHz -> Opus', mount: '/h264-360-aac', audio: 'opus' },
];

const rows: string[] = [];
let ssrc = 5000;
for (const c of cases) {
  const source = c.auth
    ? { url: authServer.url(c.mount), username: 'bench', password: 'bench-password', transcode: 'h264' as const }
    : { url: server.url(c.mount), transcode: 'h264' as const, audio: c.audio ?? ('off' as const) };
  const decision = decideRelay(await probeRtsp(source), source);
  if (decision.mode === 'refuse') throw new Error(decision.message);
  const camera: CameraConfig = {
    id: `bench${ssrc}`,
    codec: decision.codec,
    h264Profile: decision.h264Profile,
    source: { kind: 'rtp-push', port: 0, ssrc, payloadType: 102 },
  };
  const ingest = await openPlainIngest(router, camera, '127.0.0.1', 0, ssrc, 102);
  const input = await prepareRtspInput(source);
  let audioTransport: mediasoup.types.PlainTransport | undefined;
  let audio: RtpTarget | undefined;
  if (decision.audio.mode !== 'off') {
    audioTransport = await router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpListenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpMux: false,
      comedia: true,
    });
    const pt = relayAudioPayloadType(decision.audio);
    await audioTransport.produce({ kind: 'audio', rtpParameters: relayAudioRtpParameters(decision.audio, ssrc + 100, pt) });
    audio = { host: '127.0.0.1', rtpPort: audioTransport.tuple.localPort, rtcpPort: audioTransport.rtcpTuple!.localPort, ssrc: ssrc + 100, payloadType: pt, localRtpPort: await allocateUdpPortPair('127.0.0.1') };
  }
  let args = rtspRelayArgs(input, decision, {
    video: { host: '127.0.0.1', rtpPort: ingest.rtpPort, rtcpPort: ingest.rtcpPort, ssrc, payloadType: 102, localRtpPort: await allocateUdpPortPair('127.0.0.1') },
    ...(audio ? { audio } : {}),
  });
  if (c.preset) args = args.map((a) => (a === TRANSCODE_PRESET ? c.preset! : a));
  const spawnedAt = Date.now();
  const relay: ChildProcess = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const stats = async () => (await ingest.producer.getStats()).reduce((a, s) => ({ packets: a.packets + s.packetCount, bytes: a.bytes + s.byteCount }), { packets: 0, bytes: 0 });
  let firstPacketMs = NaN;
  for (let i = 0; i < 300; i++) {
    if ((await stats()).packets > 0) {
      firstPacketMs = Date.now() - spawnedAt;
      break;
    }
    await sleep(20);
  }
  await sleep(3000);
  const t0 = performance.now();
  const c0 = cpuTicks(relay.pid!);
  const s0 = await stats();
  await sleep(windowSec * 1000);
  const c1 = cpuTicks(relay.pid!);
  const t1 = performance.now();
  const s1 = await stats();
  const cpu = (((c1 - c0) / CLK_TCK) / ((t1 - t0) / 1000)) * 100;
  const mbps = ((s1.bytes - s0.bytes) * 8) / ((t1 - t0) / 1000) / 1e6;
  const line = `${c.name.padEnd(44)} ${decision.mode.padEnd(9)} CPU ${cpu.toFixed(1).padStart(5)} % of a core   first RTP ${String(firstPacketMs).padStart(5)} ms   ${mbps.toFixed(2)} Mbps`;
  console.log(line);
  rows.push(line);
  relay.kill('SIGKILL');
  await input.dispose();
  ingest.transport.close();
  audioTransport?.close();
  ssrc++;
}
console.log(`\n${windowSec} s windows, ${CLK_TCK} ticks/s, load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
worker.close();
await server.stop();
await authServer.stop();
