/**
 * `npm run loadtest:media`: Vigil's fan-out with real WebRTC viewers.
 *
 * One mediasoup worker pinned to core 0, one camera (1280x720 30 fps H.264,
 * replayed RTP), Pion bots on core 1 stepping through viewer counts, per
 * stream bitrate. Prints the machine, then a markdown table.
 *
 *   npm run loadtest:media -- [--steps 25,50,100,200] [--window 10] [--mbps 1,3] [--rate 20]
 *
 * Bounded: at most 2000 viewers per step, 60 s per window.
 */
import { parseArgs } from 'node:util';
import { defaultCores, fanoutTable, runFanout, type FanoutResult } from './fanout.ts';
import { machineInfo, machineLine } from './machine.ts';
import { parseList } from './args.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '25,50,100,200' },
    window: { type: 'string', default: '10' },
    mbps: { type: 'string', default: '1,3' },
    rate: { type: 'string', default: '20' },
  },
});
const machine = machineInfo();
const steps = parseList(values.steps, 1, 2000);
const windowSec = Math.min(60, Math.max(2, Number(values.window)));
const results: FanoutResult[] = [];
console.log(`## Vigil fan-out, real WebRTC viewers (Pion bots)\n\n${machineLine(machine)}\n`);
for (const mbps of parseList(values.mbps, 0.1, 50)) {
  console.error(`[loadtest:media] ${mbps} Mbps stream, steps ${steps.join(',')}`);
  results.push(
    await runFanout({
      server: 'vigil',
      stream: { width: 1280, height: 720, fps: 30, gopFrames: 30, bitrate: mbps * 1e6 },
      steps,
      windowSec,
      rate: Number(values.rate),
      ...defaultCores(machine.cores),
      onStep: (s) => console.error(`[loadtest:media]   ${s.bots} viewers: worker ${s.serverCpuPct?.toFixed(1)} % CPU, ${s.botsWithFrames} receiving, loss ${s.lossPct.toFixed(2)} %`),
    }),
  );
}
console.log(fanoutTable(results));
console.log(`\nWorker pinned to core 0, bots to core 1 (taskset); ${windowSec} s window per step; 1280x720 30 fps H.264 (1 s GOP).`);
