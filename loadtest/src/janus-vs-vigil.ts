/**
 * `npm run loadtest:janus-vs-vigil`: the same bots, the same stream, the same
 * steps against Vigil (mediasoup worker) and Janus (streaming plugin, Debian
 * `janus`), one after the other in the same run, each server pinned to core 0
 * and the bots to core 1. Prints the machine, one table with both servers,
 * and per stream and step the CPU per viewer of each, their ratio, what each
 * delivered, and viewers per core where both delivered cleanly.
 *
 *   npm run loadtest:janus-vs-vigil -- [--steps 25,50,100,200] [--window 10] [--mbps 1,3] [--rate 20]
 *     [--viewers loopback|veth] [--header-extensions browser|none]   (see media.ts; the first of a list is used)
 *
 * Bounded: at most 2000 viewers per step, 60 s per window. Needs root (Janus
 * runs in a network namespace, see netns.ts).
 */
import { cliArgs, fanoutArgs } from './args.ts';
import { cpuMsPerViewer, cpuUsPerPacket, defaultCores, fanoutTable, runFanout, viewersPerCore, type FanoutResult, type ServerKind } from './fanout.ts';
import { fixed, machineInfo, machineLine, markdownTable } from './machine.ts';

const { steps, windowSec, mbps: bitrates, rate, viewers, headerExtensions } = cliArgs(fanoutArgs);
const machine = machineInfo();
const results: FanoutResult[] = [];
const summary: (string | number)[][] = [];
console.log(`## Vigil and Janus side by side, real WebRTC viewers (Pion bots)\n\n${machineLine(machine)}\n`);
for (const mbps of bitrates) {
  const pair: Partial<Record<ServerKind, FanoutResult>> = {};
  for (const server of ['vigil', 'janus'] as const) {
    console.error(`[loadtest:janus-vs-vigil] ${server}, ${mbps} Mbps stream, steps ${steps.join(',')}`);
    const r = await runFanout({
      server,
      stream: { width: 1280, height: 720, fps: 30, gopFrames: 30, bitrate: mbps * 1e6 },
      steps,
      windowSec,
      rate,
      viewers: viewers[0],
      headerExtensions: headerExtensions[0],
      ...defaultCores(machine.cores),
      onStep: (s) => console.error(`[loadtest:janus-vs-vigil]   ${s.bots} viewers: ${server} ${s.serverCpuPct?.toFixed(1)} % CPU, ${s.botsWithFrames} receiving, loss ${s.lossPct.toFixed(2)} %`),
    });
    results.push(r);
    pair[server] = r;
  }
  // Step by step: CPU per viewer of each and their ratio, with what each delivered.
  const v = pair.vigil!.steps;
  const j = pair.janus!.steps;
  for (let i = 0; i < Math.min(v.length, j.length); i++) {
    const a = v[i]!;
    const b = j[i]!;
    const clean = Number.isFinite(viewersPerCore(a)) && Number.isFinite(viewersPerCore(b));
    summary.push([
      `${mbps} Mbps`,
      a.bots,
      fixed(cpuMsPerViewer(a), 2),
      fixed(cpuMsPerViewer(b), 2),
      fixed(cpuMsPerViewer(b) / cpuMsPerViewer(a), 2),
      `${fixed(cpuUsPerPacket(a), 1)} / ${fixed(cpuUsPerPacket(b), 1)}`,
      `${fixed(a.fpsPerBot)} fps, ${fixed(a.lossPct, 2)} %`,
      `${fixed(b.fpsPerBot)} fps, ${fixed(b.lossPct, 2)} %`,
      clean ? `${fixed(viewersPerCore(a), 0)} / ${fixed(viewersPerCore(b), 0)}` : 'not both clean',
    ]);
  }
}
console.log(fanoutTable(results));
console.log(
  '\n' +
    markdownTable(
      ['stream', 'viewers', 'Vigil CPU ms/s per viewer', 'Janus CPU ms/s per viewer', 'Janus / Vigil CPU per viewer', 'µs per packet per viewer, Vigil / Janus', 'Vigil delivered', 'Janus delivered', 'viewers per core, Vigil / Janus (both clean)'],
      summary,
    ),
);
console.log(`\nServer pinned to core 0, bots to core 1 (taskset); ${windowSec} s window per step; 1280x720 30 fps H.264 (1 s GOP), the same clip replayed to both; viewers: ${viewers[0]}, ${headerExtensions[0] ? 'browser header extensions' : 'no header extensions'} (Vigil).`);
console.log('"Clean": every viewer received frames, loss <= 1 %, none frozen at the window end. Viewers per core = 100 % / (CPU % per viewer), extrapolated linearly.');
