/**
 * `npm run loadtest:media`: Vigil's fan-out with real WebRTC viewers.
 *
 * One mediasoup worker pinned to core 0, one camera (1280x720 30 fps H.264,
 * replayed RTP), Pion bots on core 1 stepping through viewer counts, per
 * stream bitrate and per set-up. Prints the machine, then a markdown table.
 *
 *   npm run loadtest:media -- [--steps 25,50,100,200] [--window 10] [--mbps 1,3] [--rate 20]
 *     [--viewers loopback,veth] [--header-extensions browser,none] [--workers a=/bin1,b=/bin2] [--rounds 1] [--profile]
 *
 * Set-ups (each list is compared in one run, rounds alternate them):
 * `--viewers loopback` bots on 127.0.0.1, whose receive path the kernel runs
 * inside the worker's send (charged to the worker); `veth` bots in their own
 * network namespace behind a veth pair with RPS to core 1 (charged there, as
 * behind a NIC). `--header-extensions browser` bots offer what Chromium
 * offers and Vigil keeps what it keeps for a browser (since issue 12 no
 * transport-cc, so no send-side BWE); `none` no header extensions. `--workers`
 * compares mediasoup-worker builds (name=path each).
 *
 * `--profile`: perf samples the worker during the last step's window (first
 * round) and prints its top entries and the share of the receive softirq.
 *
 * Bounded: at most 2000 viewers per step, 60 s per window, 5 rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCores, fanoutTable, runFanout, type FanoutResult } from './fanout.ts';
import { machineInfo, machineLine } from './machine.ts';
import { cliArgs, fanoutArgs } from './args.ts';

const { steps, windowSec, mbps: bitrates, rate, viewers, headerExtensions, workers, rounds, profile } = cliArgs(fanoutArgs);
const profileDir = profile ? mkdtempSync(join(tmpdir(), 'vigil-media-perf-')) : undefined;
const machine = machineInfo();
const results: FanoutResult[] = [];
const builds: ({ name: string; bin: string } | undefined)[] = workers.length ? workers : [undefined];
const setups = builds.flatMap((w) => viewers.flatMap((v) => headerExtensions.map((h) => ({ viewers: v, headerExtensions: h, ...(w ? { workerBin: w.bin, worker: w.name } : {}) }))));
const label = (s: (typeof setups)[number]): string =>
  `${'worker' in s ? `${s.worker}, ` : ''}${s.viewers}, ${s.headerExtensions ? 'browser extensions' : 'no extensions'}`;
console.log(`## Vigil fan-out, real WebRTC viewers (Pion bots)\n\n${machineLine(machine)}\n`);
for (let round = 1; round <= rounds; round++) {
  for (const mbps of bitrates) {
    for (const setup of setups) {
      console.error(`[loadtest:media] round ${round}: ${mbps} Mbps stream, ${label(setup)}, steps ${steps.join(',')}`);
      const r = await runFanout({
        server: 'vigil',
        stream: { width: 1280, height: 720, fps: 30, gopFrames: 30, bitrate: mbps * 1e6 },
        steps,
        windowSec,
        rate,
        viewers: setup.viewers,
        headerExtensions: setup.headerExtensions,
        ...('workerBin' in setup ? { workerBin: setup.workerBin } : {}),
        ...(profileDir && round === 1 ? { profileFile: join(profileDir, `${results.length}.perf.data`) } : {}),
        ...defaultCores(machine.cores),
        onStep: (s) => console.error(`[loadtest:media]   ${s.bots} viewers: worker ${s.serverCpuPct?.toFixed(1)} % CPU, ${s.botsWithFrames} receiving, loss ${s.lossPct.toFixed(2)} %`),
      });
      results.push({ ...r, setup: setups.length > 1 || rounds > 1 ? `${label(setup)}${rounds > 1 ? ` (round ${round})` : ''}` : undefined });
    }
  }
}
console.log(fanoutTable(results));
console.log(`\nWorker pinned to core 0, bots to core 1 (taskset); ${windowSec} s window per step; 1280x720 30 fps H.264 (1 s GOP); viewers: ${setups.map(label).join(' / ')}.`);
console.log('µs per packet per viewer = worker CPU over the window / RTP packets the bots received in it.');
for (const r of results) {
  if (!r.profile) continue;
  console.log(`\nperf profile of the worker, ${r.setup ?? 'vigil'}, ${(r.stream.bitrate / 1e6).toFixed(1)} Mbps, ${r.steps.at(-1)?.bots} viewers (self time, top entries):\n${r.profile.top.join('\n')}`);
  console.log(`receive softirq (the viewers' receive path run inside the worker's sends): ${(100 * r.profile.receiveSoftirqShare).toFixed(1)} % of its samples`);
}
if (profileDir) rmSync(profileDir, { recursive: true, force: true });
