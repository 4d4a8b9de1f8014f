/**
 * `npm run loadtest:ingest`: camera streams one worker core ingests before
 * loss appears (RTP push).
 *
 * Per step, a fresh Vigil with N rtp-push cameras on one mediasoup worker
 * pinned to core 0; one replayer process (./rtp-replay.ts, core 1) sends the
 * same recorded 1280x720 30 fps H.264 stream to every camera's port. Over a
 * window it samples the worker's and Node's CPU (/proc) and every camera's
 * producer stats (admin API: packets, packets lost from sequence gaps,
 * mediasoup's RtpStreamRecv). Prints the machine and a markdown table.
 *
 *   npm run loadtest:ingest -- [--steps 10,25,50,100] [--window 10] [--mbps 1]
 *
 * Bounded: at most 500 cameras, 60 s per window.
 */
import { parseArgs } from 'node:util';
import { parseList } from './args.ts';
import { clip } from './feed.ts';
import { fixed, machineInfo, machineLine, markdownTable } from './machine.ts';
import { cpuSeconds, ProcessSet, waitForOutput } from './processes.ts';
import { startVigilServer, type VigilServer } from './vigil-server.ts';
import { fileURLToPath } from 'node:url';

const REPLAY = fileURLToPath(new URL('./rtp-replay.ts', import.meta.url));

const { values } = parseArgs({
  options: { steps: { type: 'string', default: '10,25,50,100' }, window: { type: 'string', default: '10' }, mbps: { type: 'string', default: '1' } },
});
const machine = machineInfo();
const steps = parseList(values.steps, 1, 500);
const windowSec = Math.min(60, Math.max(2, Number(values.window)));
const mbps = parseList(values.mbps, 0.1, 20)[0]!;
const cores = machine.cores >= 2 ? { workerCore: 0, nodeCore: 1 } : {};

interface StreamStats { packetCount: number; packetsLost: number }

/** Calls `fn` over `items`, at most `limit` at once. */
async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

async function cameraStats(vigil: VigilServer): Promise<{ live: number; packets: number; lost: number }> {
  const headers = { authorization: `Bearer ${vigil.adminKey}` };
  const all = await pool(vigil.cameras, 128, async (c) => {
    const body = (await (await fetch(`${vigil.url}/admin/v1/cameras/${c.id}`, { headers })).json()) as { state: string; streams?: StreamStats[] };
    const s = body.streams?.[0];
    return { live: body.state === 'live', packets: s?.packetCount ?? 0, lost: s?.packetsLost ?? 0 };
  });
  return { live: all.filter((c) => c.live).length, packets: all.reduce((n, c) => n + c.packets, 0), lost: all.reduce((n, c) => n + c.lost, 0) };
}

/** Cameras live now (the admin list, one request). */
async function liveCameras(vigil: VigilServer): Promise<number> {
  const res = await fetch(`${vigil.url}/admin/v1/cameras`, { headers: { authorization: `Bearer ${vigil.adminKey}` } });
  const body = (await res.json()) as { cameras: { state: string }[] };
  return body.cameras.filter((c) => c.state === 'live').length;
}

const rows: (string | number)[][] = [];
let lastClean: number | undefined;
const clipPath = clip({ width: 1280, height: 720, fps: 30, gopFrames: 30, bitrate: mbps * 1e6 });
console.log(`## Vigil ingest: RTP-push cameras per worker core\n\n${machineLine(machine)}\n`);
for (const n of steps) {
  const procs = new ProcessSet();
  try {
    const vigil = await startVigilServer(procs, { ...cores, cameras: n });
    const replay = procs.spawn(process.execPath, [REPLAY, '--clip', clipPath, '--ports', vigil.cameras.map((c) => c.rtpPort).join(',')], {
      stdio: ['ignore', 'pipe', 'pipe'], ...(cores.nodeCore === undefined ? {} : { core: cores.nodeCore }),
    });
    await waitForOutput(replay, /^ready/m, 30_000);
    replay.stdout!.resume();
    replay.stderr!.resume();
    const deadline = Date.now() + 20_000;
    let live = 0;
    while (Date.now() < deadline && (live = await liveCameras(vigil)) < n) await new Promise((r) => setTimeout(r, 500));
    await new Promise((r) => setTimeout(r, 2000));
    const ts0 = performance.now();
    const s0 = await cameraStats(vigil);
    const w0 = cpuSeconds(vigil.workerPid);
    const n0 = cpuSeconds(vigil.pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowSec * 1000));
    const w1 = cpuSeconds(vigil.workerPid);
    const n1 = cpuSeconds(vigil.pid);
    const secs = (performance.now() - t0) / 1000;
    const ts1 = performance.now();
    const s1 = await cameraStats(vigil);
    const packets = s1.packets - s0.packets;
    const lost = s1.lost - s0.lost;
    const lossPct = (100 * lost) / Math.max(1, packets + lost);
    const workerPct = (100 * (w1 - w0)) / secs;
    const clean = s1.live === n && lossPct < 0.1;
    if (clean) lastClean = n;
    rows.push([n, s1.live, fixed(workerPct), fixed((workerPct * 10) / n, 2), fixed((100 * (n1 - n0)) / secs), fixed(packets / ((ts1 - ts0) / 1000) / n, 0), fixed(lossPct, 3), clean ? fixed((100 * n) / workerPct, 0) : '-']);
    console.error(`[loadtest:ingest] ${n} cameras: ${s1.live} live (${live} before the window), worker ${workerPct.toFixed(1)} %, loss ${lossPct.toFixed(3)} %`);
  } finally {
    await procs.stopAll();
  }
}
console.log(markdownTable(['cameras', 'live', 'worker CPU % of a core', 'worker CPU ms/s per camera', 'Node.js CPU % of a core', 'RTP packets/s per camera', 'loss %', 'cameras per worker core (extrapolated)'], rows));
console.log(`\n${lastClean === undefined ? 'No step was loss-free.' : `Largest loss-free step: ${lastClean} cameras.`} ${mbps} Mbps 1280x720 30 fps H.264 per camera, replayed from one process on core 1; worker on core 0; ${windowSec} s window. "Loss-free": every camera live, loss < 0.1 %.`);
