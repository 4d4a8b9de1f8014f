/**
 * Time-to-first-frame benchmark: per camera GOP and camera kind, with
 * instant start off (viewers wait for the camera's next keyframe) and on
 * (the GOP cache is replayed to each new viewer; gateway/src/fanout/primer.ts).
 *
 * Cameras, H.264 at `--size` (default 640x360) 30 fps, one per kind and GOP:
 * - `test-pattern`: Vigil's own ffmpeg relay (x264);
 * - `rtp-push`: an outside ffmpeg pushing an x264 clip as RTP (test/helpers/push-camera.ts);
 * - `rtsp`: a real RTSP server (gst-rtsp-server, test/helpers/rtsp-server.ts) read by Vigil's RTSP relay.
 * None of them answers keyframe requests (PLI/FIR, RFC 4585 / RFC 5104):
 * ffmpeg ignores them, as RTSP cameras do, so without the cache a new
 * viewer waits up to one GOP.
 *
 * For each mode, kind and GOP: `--runs` fresh headless Chromium pages play
 * the camera through the SDK and report `feed.ttffMs` (play() to the first
 * decoded frame, requestVideoFrameCallback), starts staggered over the GOP.
 * Also printed: bytes each cache holds (sampled), the replay's catch-up time
 * (the fast-forward) and the CPU this process (gateway + signaling) spends
 * per cached stream with no viewer (the DirectTransport tap).
 *
 * Usage: npm run bench:ttff [-- --runs 6 --gops 1,2,4,10 --kinds test-pattern,rtp-push,rtsp --modes off,on --size 640x360]
 * Bounded: at most 50 runs per cell, 15 s per run.
 */
import { cpus, hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { pino } from 'pino';
import { parseConfig, signViewerToken, startVigil } from '@vigil/server';
import { LocalMedia } from '@vigil/gateway/internals';
import { launchChromium } from '../../test/helpers/browser.ts';
import { makeClip, pushClip } from '../../test/helpers/push-camera.ts';
import { startRtspServer, type TestRtspServer } from '../../test/helpers/rtsp-server.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '6' },
    gops: { type: 'string', default: '1,2,4,10' },
    kinds: { type: 'string', default: 'test-pattern,rtp-push,rtsp' },
    modes: { type: 'string', default: 'off,on' },
    size: { type: 'string', default: '640x360' },
  },
});
const runs = Math.min(50, Math.max(1, Number(values.runs)));
const gops = values.gops.split(',').map(Number).filter((g) => g > 0 && g <= 30);
type Kind = 'test-pattern' | 'rtp-push' | 'rtsp';
const kinds = values.kinds.split(',').filter((k): k is Kind => ['test-pattern', 'rtp-push', 'rtsp'].includes(k));
const modes = values.modes.split(',').filter((m) => m === 'off' || m === 'on');
const [width, height] = values.size.split('x').map(Number) as [number, number];
const fps = 30;
/** bps: ~0.1 bit per pixel per frame, as the push clips (640x360: 690 kbps; 1080p: 6.2 Mbps). */
const bitrate = Math.round(width * height * fps * 0.1);
const secret = 'bench-secret-0123456789-abcdefghijklmnopq';
const camId = (kind: Kind, g: number) => `${kind}-gop-${g}s`;

// Outside cameras, shared by both modes.
const pushers: ChildProcess[] = [];
process.once('exit', () => {
  for (const p of pushers) p.kill('SIGKILL');
});
const clips = new Map<number, string>();
if (kinds.includes('rtp-push')) {
  for (const g of gops) clips.set(g, await makeClip({ width, height, fps, gopFrames: fps * g, frames: fps * Math.max(20, 2 * g), profile: 'baseline' }));
}
let rtsp: TestRtspServer | undefined;
if (kinds.includes('rtsp')) {
  rtsp = await startRtspServer({
    mounts: Object.fromEntries(gops.map((g) => [`/gop${g}`, { video: 'h264' as const, width, height, fps, gopFrames: fps * g, durationSec: 600 }])),
  });
}

function cameras(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let port = 0;
  for (const kind of kinds) {
    for (const g of gops) {
      const id = camId(kind, g);
      if (kind === 'test-pattern') {
        out.push({ id, codec: 'H264', source: { kind, width, height, fps, gopFrames: fps * g, bitrate } });
      } else if (kind === 'rtp-push') {
        out.push({ id, codec: 'H264', source: { kind, port: 0, ssrc: 1000 + g, payloadType: 96 }, _push: ++port });
      } else {
        out.push({ id, codec: 'H264', source: { kind, url: rtsp!.url(`/gop${g}`), transport: 'tcp' } });
      }
    }
  }
  return out.map(({ _push, ...c }) => c);
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const rows: string[] = [];
const cpuPerS: Record<string, number> = {};
const extras: string[] = [];
const browser = await launchChromium();

for (const mode of modes) {
  const config = parseConfig({
    http: { port: 0 },
    webrtc: { port: 0 },
    workers: { count: 1 },
    auth: { secret },
    demo: { enabled: false },
    log: { level: 'warn' },
    fanout: { instantStart: { enabled: mode === 'on' } },
    cameras: cameras(),
  });
  const vigil = await startVigil(config, pino({ level: 'warn' }));
  const media = vigil.media;
  if (!(media instanceof LocalMedia)) throw new Error('the benchmark runs the local media implementation');
  const gateway = media.gateway;
  // RTP-push cameras: push to the port each camera's gate was given.
  for (const g of gops) {
    if (!kinds.includes('rtp-push')) break;
    const cam = gateway.camera(camId('rtp-push', g))!;
    pushers.push(pushClip({ clip: clips.get(g)!, host: '127.0.0.1', rtpPort: cam.stream('high').ports.rtpPort, ssrc: 1000 + g, payloadType: 96 }));
  }
  for (let i = 0; i < 300 && media.cameras().some((c) => c.state !== 'live'); i++) await new Promise((r) => setTimeout(r, 100));
  // Every cache has seen a keyframe (the longest GOP), and the tap's CPU with no viewer.
  await new Promise((r) => setTimeout(r, Math.max(...gops) * 1000 + 500));
  const packets = async () => {
    let n = 0;
    for (const c of gateway.cameras()) for (const st of await c.stream('high').producer.getStats()) n += st.packetCount;
    return n;
  };
  const p0 = await packets();
  const cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, 10_000));
  const cpu = process.cpuUsage(cpu0);
  const pps = ((await packets()) - p0) / 10;
  cpuPerS[mode] = (cpu.user + cpu.system) / 1000 / 10;
  extras.push(
    `instant start ${mode}: this process (gateway + signaling, no viewer) ${cpuPerS[mode]!.toFixed(1)} ms CPU/s for ${gateway.cameras().length} streams, ${Math.round(pps)} RTP packets/s in`,
  );
  const off = cpuPerS['off'];
  if (mode === 'on' && off !== undefined) {
    const tap = cpuPerS[mode]! - off;
    extras.push(`the GOP cache taps cost ${(tap / gateway.cameras().length).toFixed(2)} ms CPU/s per stream, ${((tap * 1000) / pps).toFixed(1)} µs per RTP packet`);
  }
  const token = signViewerToken(secret, { subject: 'bench', cameras: ['**'], ttlSec: 3600 }, { issuer: 'vigil', audience: 'vigil-viewer' });

  for (const kind of kinds) {
    for (const g of gops) {
      const cameraId = camId(kind, g);
      const camera = gateway.camera(cameraId)!;
      const samples: number[] = [];
      const cacheBytes: number[] = [];
      const catchUps: number[] = [];
      for (let r = 0; r < runs; r++) {
        const page = await browser.newPage();
        await page.goto(`${vigil.url}/`);
        await page.waitForFunction(() => 'Vigil' in window);
        // Stagger the starts over the GOP (so they land at different ages of the cached GOP).
        await page.waitForTimeout(Math.round(((g * 1000) / runs) * r) % (g * 1000) + 37);
        const stats = gateway.fanout.cacheStats(camera, 'high');
        if (stats) cacheBytes.push(stats.bytes);
        // A run that fails (e.g. a signaling timeout on a starved machine) counts as no frame.
        const ttff = await page.evaluate(
          async ({ cameraId, token }) => {
            const w = window as unknown as Record<string, any>;
            const client = await w.Vigil.connect({ url: location.origin, token });
            const video = document.createElement('video');
            document.body.append(video);
            const feed = await client.play(cameraId, video);
            const deadline = Date.now() + 15_000;
            while (feed.ttffMs === undefined && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
            return feed.ttffMs as number | undefined;
          },
          { cameraId, token },
        ).catch((err: unknown) => {
          console.error(`${cameraId} run ${r}: ${(err as Error).message.split('\n')[0]}`);
          return undefined;
        });
        // Let the primer finish its replay before reading its stats.
        await page.waitForTimeout(400);
        const primed = gateway.fanout.lastPrimerStats(cameraId);
        if (primed?.catchUpMs !== undefined) catchUps.push(primed.catchUpMs);
        await page.close();
        if (ttff !== undefined) samples.push(ttff);
      }
      samples.sort((a, b) => a - b);
      catchUps.sort((a, b) => a - b);
      const kb = cacheBytes.length ? `${Math.round(Math.max(...cacheBytes) / 1024)} KiB` : '-';
      const cu = catchUps.length ? `${pct(catchUps, 50)} / ${catchUps[catchUps.length - 1]} ms` : '-';
      rows.push(
        `| ${mode} | ${kind} | ${g} s | ${samples.length}/${runs} | ${samples[0] ?? '-'} | ${samples.length ? pct(samples, 50) : '-'} | ${samples.length ? pct(samples, 95) : '-'} | ${samples[samples.length - 1] ?? '-'} | ${kb} | ${cu} |`,
      );
      console.error(rows[rows.length - 1]);
    }
  }
  await vigil.close();
  for (const p of pushers.splice(0)) p.kill('SIGKILL');
}

await browser.close();
await rtsp?.stop();
console.log(`\nTTFF benchmark, ${new Date().toISOString()}, ${hostname()}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
console.log(`H.264 ${width}x${height} ${fps} fps, ~${Math.round(bitrate / 1000)} kbps, ${runs} runs per cell, headless Chromium, loopback; sources ignore keyframe requests\n`);
console.log('| instant start | camera | GOP | frames | min ms | p50 ms | p95 ms | max ms | cache (max seen) | catch-up p50 / max |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log('');
for (const e of extras) console.log(`- ${e}`);
process.exit(0);
