/**
 * One step of `npm run loadtest:ingest -- --source push`: a fresh Vigil with N
 * rtp-push cameras on one mediasoup worker (core 0); one replayer process
 * (./rtp-replay.ts, core 1, with Node.js) sends the same recorded stream to
 * every camera's port. Over the window: the worker's and Node's CPU (/proc)
 * and every camera's producer counters (./camera-stats.ts).
 */
import { fileURLToPath } from 'node:url';
import { cameraTotals, camerasNotLive, waitForLive } from './camera-stats.ts';
import type { IngestRunner, IngestRunOptions } from './ingest-runner.ts';
import { fixed } from './machine.ts';
import { cpuSeconds, ProcessSet, waitForOutput } from './processes.ts';
import { startVigilServer } from './vigil-server.ts';

const REPLAY = fileURLToPath(new URL('./rtp-replay.ts', import.meta.url));

/** The RTP-push ingest runner (its table is the one README "Load tests" → Ingest shows for push). */
export function pushIngest(o: IngestRunOptions): IngestRunner {
  return {
    title: 'Vigil ingest: RTP-push cameras per worker core',
    headers: ['cameras', 'live', 'worker CPU % of a core', 'worker CPU ms/s per camera', 'Node.js CPU % of a core', 'RTP packets/s per camera', 'loss %', 'cameras per worker core (extrapolated)'],
    footer: (lastClean) =>
      `${lastClean === undefined ? 'No step was loss-free.' : `Largest loss-free step: ${lastClean} cameras.`} ${o.mbps} Mbps 1280x720 30 fps H.264 per camera, replayed from one process on core 1; worker on core 0; ${o.windowSec} s window. "Loss-free": every camera live, loss < 0.1 %.`,
    async step(n) {
      const procs = new ProcessSet();
      try {
        const vigil = await startVigilServer(procs, { ...o.cores, cameras: n, instantStart: o.instantStart });
        const replay = procs.spawn(process.execPath, [REPLAY, '--clip', o.clipPath, '--ports', vigil.cameras.map((c) => c.rtpPort).join(',')], {
          stdio: ['ignore', 'pipe', 'pipe'], ...(o.cores.nodeCore === undefined ? {} : { core: o.cores.nodeCore }),
        });
        await waitForOutput(replay, /^ready/m, 30_000);
        replay.stdout!.resume();
        replay.stderr!.resume();
        const live = await waitForLive(vigil, 20_000);
        await new Promise((r) => setTimeout(r, 2000));
        const ts0 = performance.now();
        const s0 = await cameraTotals(vigil);
        const w0 = cpuSeconds(vigil.workerPid);
        const n0 = cpuSeconds(vigil.pid);
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, o.windowSec * 1000));
        const w1 = cpuSeconds(vigil.workerPid);
        const n1 = cpuSeconds(vigil.pid);
        const secs = (performance.now() - t0) / 1000;
        const ts1 = performance.now();
        const s1 = await cameraTotals(vigil);
        const packets = s1.packets - s0.packets;
        const lost = s1.lost - s0.lost;
        const lossPct = (100 * lost) / Math.max(1, packets + lost);
        const workerPct = (100 * (w1 - w0)) / secs;
        const clean = s1.live === n && lossPct < 0.1;
        for (const c of s1.live === n ? [] : await camerasNotLive(vigil)) console.error(`[loadtest:ingest] ${c.id} is ${c.state}: ${c.reason ?? 'no reason given'}`);
        console.error(`[loadtest:ingest] ${n} cameras: ${s1.live} live (${live} before the window), worker ${workerPct.toFixed(1)} %, loss ${lossPct.toFixed(3)} %`);
        return {
          clean,
          row: [n, s1.live, fixed(workerPct), fixed((workerPct * 10) / n, 2), fixed((100 * (n1 - n0)) / secs), fixed(packets / ((ts1 - ts0) / 1000) / n, 0), fixed(lossPct, 3), clean ? fixed((100 * n) / workerPct, 0) : '-'],
        };
      } finally {
        await procs.stopAll();
      }
    },
  };
}
