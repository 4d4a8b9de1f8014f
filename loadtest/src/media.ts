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
import { defaultCores, fanoutTable, runFanout, type FanoutResult } from './fanout.ts';
import { machineInfo, machineLine } from './machine.ts';
import { fanoutArgs } from './args.ts';

const { steps, windowSec, mbps: bitrates, rate } = fanoutArgs();
const machine = machineInfo();
const results: FanoutResult[] = [];
console.log(`## Vigil fan-out, real WebRTC viewers (Pion bots)\n\n${machineLine(machine)}\n`);
for (const mbps of bitrates) {
  console.error(`[loadtest:media] ${mbps} Mbps stream, steps ${steps.join(',')}`);
  results.push(
    await runFanout({
      server: 'vigil',
      stream: { width: 1280, height: 720, fps: 30, gopFrames: 30, bitrate: mbps * 1e6 },
      steps,
      windowSec,
      rate,
      ...defaultCores(machine.cores),
      onStep: (s) => console.error(`[loadtest:media]   ${s.bots} viewers: worker ${s.serverCpuPct?.toFixed(1)} % CPU, ${s.botsWithFrames} receiving, loss ${s.lossPct.toFixed(2)} %`),
    }),
  );
}
console.log(fanoutTable(results));
console.log(`\nWorker pinned to core 0, bots to core 1 (taskset); ${windowSec} s window per step; 1280x720 30 fps H.264 (1 s GOP).`);
