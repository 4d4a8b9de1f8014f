/**
 * What one WHEP viewer costs the mediasoup worker: its own router (at the
 * player's payload types) and the pipe of the camera into it
 * (router.pipeToRouter: a PipeTransport pair over loopback UDP carrying the
 * camera's RTP once more), beside the WebRtcTransport and consumer every
 * viewer has.
 *
 * Starts Vigil in this process (one worker, one test-pattern camera at
 * `--bitrate`), then opens `--viewers` WHEP sessions with a Chromium offer
 * (test/fixtures/whep-offer-chromium.sdp; no DTLS follows, so the consumers
 * send nothing and what is measured is the router + pipe, which carry the
 * camera's RTP regardless). Then the same number of SDK-style viewers
 * (WebSocket protocol: a transport on the shared router, one consumer, no
 * DTLS) for comparison. Prints, per viewer: POST time (median, p95, ms),
 * worker resident memory (KiB), worker CPU while idle for `--idle-seconds`
 * (ms of CPU per second), and the pipe transports opened.
 *
 * Usage: npm run bench:whep [-- --viewers 20 --idle-seconds 10 --bitrate 2000000]
 * Bounded: at most 200 viewers, idle at most 60 s.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { PROTOCOL_VERSION } from '@vigil/protocol';
import { LocalMedia } from '@vigil/gateway/internals';
import { parseConfig, signViewerToken, startVigil } from '@vigil/server';
import { WsClient } from '../../test/helpers/ws-client.ts';

const { values } = parseArgs({
  options: { viewers: { type: 'string', default: '20' }, 'idle-seconds': { type: 'string', default: '10' }, bitrate: { type: 'string', default: '2000000' } },
});
const viewers = Math.min(200, Math.max(1, Number(values.viewers)));
const idleSeconds = Math.min(60, Math.max(2, Number(values['idle-seconds'])));
const bitrate = Math.max(100_000, Number(values.bitrate));
const secret = 'bench-secret-0123456789-abcdefghijklmnopq';
const OFFER = readFileSync(new URL('../../test/fixtures/whep-offer-chromium.sdp', import.meta.url), 'utf8');

const many = { burst: 100_000, perSec: 100_000 };
const config = parseConfig({
  http: { host: '127.0.0.1', port: 0 },
  webrtc: { listenIp: '127.0.0.1', port: 0 },
  workers: { count: 1 },
  auth: { secret },
  demo: { enabled: false },
  audit: { enabled: false },
  log: { level: 'warn' },
  limits: { maxConnectionsPerIp: 1000 },
  rateLimits: { joinPerIp: many, joinPerSubject: many, consumePerIp: many, consumePerSubject: many, viewingsPerSubject: many },
  cameras: [{ id: 'cam', codec: 'VP8', source: { kind: 'test-pattern', width: 1280, height: 720, fps: 30, gopFrames: 60, bitrate } }],
});
const vigil = await startVigil(config, pino({ level: 'warn' }));
if (!(vigil.media instanceof LocalMedia)) throw new Error('local media expected');
const slot = vigil.media.gateway.workers.slots[0]!;
const token = signViewerToken(secret, { subject: 'bench', cameras: ['**'], ttlSec: 3600 }, { issuer: 'vigil', audience: 'vigil-viewer' });
const fingerprint = { algorithm: 'sha-256', value: Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).toUpperCase().padStart(2, '0')).join(':') };

for (let i = 0; i < 100 && vigil.media.camera('cam')?.state !== 'live'; i++) await new Promise((r) => setTimeout(r, 100));

function workerRssKiB(): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${slot.worker.pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

/** Worker CPU over `seconds`, ms of CPU per second. */
async function workerCpuPerSec(seconds: number): Promise<number> {
  const before = await slot.worker.getResourceUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const after = await slot.worker.getResourceUsage();
  const cpuMs = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime;
  return cpuMs / ((performance.now() - t0) / 1000);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function measure(label: string, open: () => Promise<() => Promise<void>>) {
  const rss0 = workerRssKiB();
  const cpu0 = await workerCpuPerSec(idleSeconds);
  const pipes0 = slot.pipeTransports;
  const times: number[] = [];
  const closers: (() => Promise<void>)[] = [];
  for (let i = 0; i < viewers; i++) {
    const t = performance.now();
    closers.push(await open());
    times.push(performance.now() - t);
  }
  await new Promise((r) => setTimeout(r, 1000));
  const rss1 = workerRssKiB();
  const cpu1 = await workerCpuPerSec(idleSeconds);
  const pipes = slot.pipeTransports - pipes0;
  for (const close of closers) await close();
  console.log(
    `${label.padEnd(26)} open median ${quantile(times, 0.5).toFixed(1)} ms, p95 ${quantile(times, 0.95).toFixed(1)} ms | ` +
      `worker RSS +${((rss1 - rss0) / viewers).toFixed(0)} KiB/viewer | worker CPU ${cpu0.toFixed(1)} -> ${cpu1.toFixed(1)} ms/s ` +
      `(+${((cpu1 - cpu0) / viewers).toFixed(2)} ms/s per viewer) | pipe transports +${pipes}`,
  );
}

console.log(`bench:whep ${new Date().toISOString()} | ${cpus()[0]?.model} x${availableParallelism()} | linux ${release()} | load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`camera VP8 1280x720 30 fps at ${bitrate} bps; ${viewers} viewers each; idle windows ${idleSeconds} s`);

await measure('WHEP (own router + pipe)', async () => {
  const res = await fetch(`${vigil.url}/whep/cam`, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: OFFER });
  if (res.status !== 201) throw new Error(`POST ${res.status}: ${await res.text()}`);
  const location = res.headers.get('location')!;
  return async () => void (await fetch(vigil.url + location, { method: 'DELETE' }));
});

await measure('SDK (shared router)', async () => {
  const c = await WsClient.open(vigil.url);
  const ok = async (msg: Record<string, unknown>) => {
    const r = await c.request(msg, 20_000);
    if (!r.ok) throw new Error(`${String(msg['type'])} refused: ${r.error.code}`);
    return r.data as Record<string, unknown>;
  };
  await ok({ type: 'join', protocolVersion: PROTOCOL_VERSION, token });
  const { rtpCapabilities } = (await ok({ type: 'getRouterRtpCapabilities' })) as { rtpCapabilities: Record<string, unknown> };
  const t = await ok({ type: 'createRecvTransport', cameraId: 'cam' });
  await ok({ type: 'connectTransport', transportId: t['id'], dtlsParameters: { role: 'client', fingerprints: [fingerprint] } });
  const consumed = await ok({ type: 'consume', transportId: t['id'], cameraId: 'cam', rtpCapabilities });
  await ok({ type: 'resumeConsumer', consumerId: consumed['consumerId'] });
  return async () => c.close();
});

await vigil.close();
