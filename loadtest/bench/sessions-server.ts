/**
 * The signaling process measured by `sessions.ts`: Vigil (fastify + ws +
 * one mediasoup worker) with one test-pattern camera, in its own process so
 * the bench's clients are not counted. Driven over the IPC channel:
 *   parent -> { sample: true }  child -> `ServerSample` (after a full GC)
 *   child  -> { ready: url } once the camera is live
 * Run with `node --expose-gc` (the parent does).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { LocalMedia } from '@vigil/gateway/internals';
import { parseConfig, startVigil } from '@vigil/server';

/** One sample of the signaling process (and its worker), after a full GC. */
export interface ServerSample {
  /** Resident set of the Node process, bytes. */
  rss: number;
  /** V8 heap in use, bytes. */
  heapUsed: number;
  /** Memory of C++ objects bound to JS (Buffers, sockets), bytes. */
  external: number;
  /** process.cpuUsage(): user and system CPU since start, µs. */
  cpuUser: number;
  cpuSystem: number;
  /** Resident set of the mediasoup worker (VmRSS), bytes. */
  workerRss: number;
  /** Joined viewer sessions the server holds. */
  sessions: number;
}

const secret = process.env['BENCH_SECRET'];
if (!secret) throw new Error('BENCH_SECRET is required');
const many = { burst: 100_000, perSec: 100_000 };
// Defaults as `npm start` has them (audit trail and metrics on), files in a temporary directory.
const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-sessions-'));
const config = parseConfig({
  http: { port: 0 },
  webrtc: { port: 0 },
  workers: { count: 1, logLevel: 'error' },
  auth: { secret },
  demo: { enabled: false },
  log: { level: 'warn' },
  audit: { path: join(dir, 'audit.sqlite') },
  revocations: { file: join(dir, 'revocations.json') },
  // The bench joins 1,000 viewers from one address and subject: rate and connection limits are not what it measures.
  limits: { maxConnectionsPerIp: 100_000 },
  rateLimits: { joinPerIp: many, joinPerSubject: many, consumePerIp: many, consumePerSubject: many },
  cameras: [{ id: 'bench', codec: 'H264', source: { kind: 'test-pattern', width: 320, height: 180, fps: 15, gopFrames: 15, bitrate: 200_000 } }],
});
const vigil = await startVigil(config, pino({ level: 'warn' }));
for (let i = 0; i < 150 && vigil.media.cameras().some((c) => c.state !== 'live'); i++) await new Promise((r) => setTimeout(r, 100));
// The bench measures the worker process itself: it reaches behind the media API.
if (!(vigil.media instanceof LocalMedia)) throw new Error('the sessions bench runs the local media implementation');
const workerPid = vigil.media.gateway.workers.slots[0]!.worker.pid;

function vmRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

process.on('message', (msg: { sample?: boolean; stop?: boolean }) => {
  if (msg.stop) {
    void vigil.close().then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
    return;
  }
  if (!msg.sample) return;
  (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const sample: ServerSample = {
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    external: mem.external,
    cpuUser: cpu.user,
    cpuSystem: cpu.system,
    workerRss: vmRss(workerPid),
    sessions: vigil.signaling.sessions.size,
  };
  process.send!(sample);
});
process.send!({ ready: vigil.url });
