/**
 * Viewer sessions in the signaling process: memory and CPU per joined viewer.
 *
 * Starts Vigil in a child process (`sessions-server.ts`: defaults as
 * `npm start`, audit trail and metrics on, one camera, one worker), then opens
 * `--viewers` WebSocket viewers from this process, each doing what a browser
 * does before media flows: join, getRouterRtpCapabilities,
 * createRecvTransport, connectTransport (a client DTLS fingerprint; no DTLS
 * follows, so no media is sent), consume, resumeConsumer. Prints, per joined
 * viewer: resident memory, V8 heap, external memory (after a full GC) of the
 * signaling process and resident memory of the worker; CPU of the signaling
 * process per join (ms) and per second while the sessions idle (ws
 * heartbeats, timers, stats polls), for `--idle-seconds`.
 *
 * Usage: npm run bench:sessions [-- --viewers 1000 --idle-seconds 20]
 * Bounded: at most 5000 viewers, 25 joining at once, idle at most 120 s.
 */
import { fork } from 'node:child_process';
import { availableParallelism, cpus, loadavg, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PROTOCOL_VERSION } from '@vigil/protocol';
import { signViewerToken } from '@vigil/server';
import { WsClient } from '../../test/helpers/ws-client.ts';
import type { ServerSample } from './sessions-server.ts';

const { values } = parseArgs({ options: { viewers: { type: 'string', default: '1000' }, 'idle-seconds': { type: 'string', default: '20' } } });
const viewers = Math.min(5000, Math.max(1, Number(values.viewers)));
const idleSeconds = Math.min(120, Math.max(2, Number(values['idle-seconds'])));
const CONCURRENCY = 25;
const secret = 'bench-secret-0123456789-abcdefghijklmnopq';

const server = fork(fileURLToPath(new URL('./sessions-server.ts', import.meta.url)), [], {
  execArgv: ['--expose-gc'],
  env: { ...process.env, BENCH_SECRET: secret },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
// The server never outlives the bench, even when a request fails.
process.on('exit', () => server.kill());
const url = await new Promise<string>((resolve, reject) => {
  server.once('message', (m: { ready?: string }) => (m.ready ? resolve(m.ready) : reject(new Error('unexpected message'))));
  server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
});
const sample = (): Promise<ServerSample> =>
  new Promise((resolve) => {
    server.once('message', (m: ServerSample) => resolve(m));
    server.send({ sample: true });
  });

const token = signViewerToken(secret, { subject: 'bench', cameras: ['**'], ttlSec: 3600 }, { issuer: 'vigil', audience: 'vigil-viewer' });
const fingerprint = { algorithm: 'sha-256', value: Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).toUpperCase().padStart(2, '0')).join(':') };

async function ok(c: WsClient, msg: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await c.request(msg, 20_000);
  if (!r.ok) throw new Error(`${String(msg['type'])} refused: ${r.error.code}`);
  return r.data as Record<string, unknown>;
}

/** One viewer: everything a browser does before DTLS. */
async function joinViewer(): Promise<WsClient> {
  const c = await WsClient.open(url);
  await ok(c, { type: 'join', protocolVersion: PROTOCOL_VERSION, token });
  const { rtpCapabilities } = await ok(c, { type: 'getRouterRtpCapabilities' });
  const transport = await ok(c, { type: 'createRecvTransport' });
  await ok(c, { type: 'connectTransport', transportId: transport['id'], dtlsParameters: { role: 'client', fingerprints: [fingerprint] } });
  const consumer = await ok(c, { type: 'consume', transportId: transport['id'], cameraId: 'bench', rtpCapabilities });
  await ok(c, { type: 'resumeConsumer', consumerId: consumer['consumerId'] });
  return c;
}

console.log(`viewer sessions benchmark ${new Date().toISOString()}: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} CPUs, Linux ${release()}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
await new Promise((r) => setTimeout(r, 2000)); // let start-up settle
const s0 = await sample();
const clients: WsClient[] = [];
const t0 = performance.now();
while (clients.length < viewers) {
  const batch = Math.min(CONCURRENCY, viewers - clients.length);
  clients.push(...(await Promise.all(Array.from({ length: batch }, joinViewer))));
}
const joinMs = performance.now() - t0;
const s1 = await sample();
if (s1.sessions < viewers) throw new Error(`server holds ${s1.sessions} sessions, expected ${viewers}`);
await new Promise((r) => setTimeout(r, idleSeconds * 1000));
const s2 = await sample();

const per = (a: number, b: number) => (b - a) / viewers;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const cpuMs = (s: ServerSample) => (s.cpuUser + s.cpuSystem) / 1000;
console.log(`
${viewers} viewers joined in ${(joinMs / 1000).toFixed(1)} s (${CONCURRENCY} at a time), idle ${idleSeconds} s.

| per joined viewer session | |
|---|---|
| signaling process: resident memory | ${kib(per(s0.rss, s1.rss))} |
| signaling process: V8 heap | ${kib(per(s0.heapUsed, s1.heapUsed))} |
| signaling process: external (buffers, sockets) | ${kib(per(s0.external, s1.external))} |
| mediasoup worker: resident memory (transport + consumer) | ${kib(per(s0.workerRss, s1.workerRss))} |
| signaling CPU per join (join .. resumeConsumer) | ${per(cpuMs(s0), cpuMs(s1)).toFixed(2)} ms |
| signaling CPU while idle | ${((1000 * per(cpuMs(s1), cpuMs(s2))) / idleSeconds).toFixed(2)} µs/s (${((100 * (cpuMs(s2) - cpuMs(s1))) / (idleSeconds * 1000)).toFixed(2)} % of a core for all ${viewers}) |
`);
for (const c of clients) c.close();
server.send({ stop: true });
await new Promise((r) => server.once('exit', r));
process.exit(0);
