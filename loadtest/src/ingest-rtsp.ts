/**
 * One step of `npm run loadtest:ingest -- --source rtsp`: N RTSP cameras that
 * Vigil pulls with its own relays, the production path (probe, then one
 * `ffmpeg -c copy` relay per camera into the camera's PlainTransport; see
 * gateway/src/ingest/rtsp-driver.ts).
 *
 * Per step: ONE RTSP server process (./rtsp-server.ts, gst-rtsp-server) on
 * 127.0.0.1 serves the load-test clip (./feed.ts, looped into Matroska) at
 * /cam1 ... /camN, over RTP interleaved in the RTSP TCP connection (RFC 2326
 * §10.12); a fresh Vigil with one camera per mount.
 *
 * Where things run (2 cores): the mediasoup worker and every relay (and
 * probe) on core 0 (the relays are part of Vigil's ingest cost; Vigil spawns
 * them from Node.js, so each is re-pinned with taskset as it appears, see
 * ./vigil-server.ts `relayCore`); the RTSP server and Node.js on core 1.
 * CPU over the window from /proc/<pid>/stat: the worker, the relays (the sum
 * over Node's `ffmpeg` children that ran through the window), Node.js, and
 * the RTSP server (the load generator). Cameras per core = 100 % / (worker +
 * relay CPU % per camera), for a loss-free step.
 */
import { cameraTotals, camerasNotLive, waitForLive } from './camera-stats.ts';
import { loopedClipMkv } from './feed.ts';
import type { IngestRunner, IngestRunOptions } from './ingest-runner.ts';
import { fixed } from './machine.ts';
import { childPids, cpuSeconds, ProcessSet } from './processes.ts';
import { launchRtspServer, type RtspMount, type RtspServer } from './rtsp-server.ts';
import { startVigilRtspServer } from './vigil-server.ts';

/** Bound on every camera being probed and live after Vigil started, ms (probes take 1.5-2.5 s each, all at once). */
const LIVE_TIMEOUT_MS = 90_000;
/** Length of the served file, s: each client plays it once from its start, so it outlasts live wait + 2 s settle + a 60 s window. */
const SERVED_SECONDS = 180;

/** CPU seconds of each pid now; pids that are gone are left out. */
function cpuOf(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      out.set(pid, cpuSeconds(pid));
    } catch {
      // exited between the listing and the read
    }
  }
  return out;
}

/** The RTSP ingest runner. */
export function rtspIngest(o: IngestRunOptions): IngestRunner {
  const served = loopedClipMkv(o.clipPath, SERVED_SECONDS);
  return {
    title: 'Vigil ingest: RTSP cameras (relays) per core',
    headers: [
      'cameras', 'live', 'relays', 'worker CPU % of a core', 'relays CPU % of a core', 'Node.js CPU % of a core',
      'worker CPU ms/s per camera', 'relay CPU ms/s per camera', 'Node.js CPU ms/s per camera',
      'RTP packets/s per camera', 'loss %', 'RTSP server CPU % of a core', 'cameras per core, worker + relays (extrapolated)',
    ],
    footer: (lastClean) =>
      `${lastClean === undefined ? 'No step was loss-free.' : `Largest loss-free step: ${lastClean} cameras.`} ${o.mbps} Mbps 1280x720 30 fps H.264 per camera, ` +
      `served by one RTSP server (gst-rtsp-server, RTP over the RTSP TCP connection) on core 1 and pulled by Vigil's relays (ffmpeg -c copy); ` +
      `worker and relays on core 0, Node.js on core 1; ${o.windowSec} s window. "Loss-free": every camera live, every relay running through the window, loss < 0.1 %. ` +
      'Cameras per core = 100 % / (worker + relay CPU % per camera).',
    async step(n) {
      const procs = new ProcessSet();
      let server: RtspServer | undefined;
      try {
        const mounts: Record<string, RtspMount> = {};
        for (let i = 1; i <= n; i++) mounts[`/cam${i}`] = { file: served, video: 'h264' };
        server = await launchRtspServer({
          mounts, protocols: ['tcp'], startTimeoutMs: 30_000, ...(o.cores.nodeCore === undefined ? {} : { core: o.cores.nodeCore }),
        });
        const vigil = await startVigilRtspServer(procs, Object.keys(mounts).map((m) => server!.url(m)), {
          ...o.cores, instantStart: o.instantStart, ...(o.cores.workerCore === undefined ? {} : { relayCore: o.cores.workerCore }),
        });
        const live = await waitForLive(vigil, LIVE_TIMEOUT_MS);
        await new Promise((r) => setTimeout(r, 2000));
        const ts0 = performance.now();
        const s0 = await cameraTotals(vigil);
        const r0 = cpuOf(childPids(vigil.pid, 'ffmpeg'));
        const w0 = cpuSeconds(vigil.workerPid);
        const n0 = cpuSeconds(vigil.pid);
        const g0 = cpuSeconds(server.pid);
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, o.windowSec * 1000));
        const r1 = cpuOf([...r0.keys()]);
        const w1 = cpuSeconds(vigil.workerPid);
        const n1 = cpuSeconds(vigil.pid);
        const g1 = cpuSeconds(server.pid);
        const secs = (performance.now() - t0) / 1000;
        const ts1 = performance.now();
        const s1 = await cameraTotals(vigil);
        // A relay that exited in the window took its CPU time with it: counted out, and the step is not clean.
        let relaySecs = 0;
        for (const [pid, c1] of r1) relaySecs += c1 - r0.get(pid)!;
        const relays = r1.size;
        const packets = s1.packets - s0.packets;
        const lost = s1.lost - s0.lost;
        const lossPct = (100 * lost) / Math.max(1, packets + lost);
        const workerPct = (100 * (w1 - w0)) / secs;
        const relaysPct = (100 * relaySecs) / secs;
        const nodePct = (100 * (n1 - n0)) / secs;
        const clean = s1.live === n && relays === n && lossPct < 0.1;
        for (const c of s1.live === n ? [] : await camerasNotLive(vigil)) console.error(`[loadtest:ingest] ${c.id} is ${c.state}: ${c.reason ?? 'no reason given'}`);
        console.error(`[loadtest:ingest] ${n} RTSP cameras: ${s1.live} live (${live} before the window), ${relays} relays, worker ${workerPct.toFixed(1)} %, relays ${relaysPct.toFixed(1)} %, loss ${lossPct.toFixed(3)} %`);
        return {
          clean,
          row: [
            n, s1.live, relays, fixed(workerPct), fixed(relaysPct), fixed(nodePct),
            fixed((workerPct * 10) / n, 2), fixed((relaysPct * 10) / n, 2), fixed((nodePct * 10) / n, 2),
            fixed(packets / ((ts1 - ts0) / 1000) / n, 0), fixed(lossPct, 3), fixed((100 * (g1 - g0)) / secs),
            clean ? fixed((100 * n) / (workerPct + relaysPct), 0) : '-',
          ],
        };
      } finally {
        await procs.stopAll();
        await server?.stop();
      }
    },
  };
}
