/**
 * `npm run loadtest:ingest`: camera streams per core before loss appears,
 * for RTP-push cameras (`--source push`, the default: ./ingest-push.ts) or
 * RTSP cameras pulled by Vigil's relays (`--source rtsp`: ./ingest-rtsp.ts).
 *
 * Per step, a fresh Vigil with N cameras on one mediasoup worker pinned to
 * core 0, fed the same recorded 1280x720 30 fps H.264 stream (./feed.ts) from
 * core 1. Over a window it samples CPU (/proc) and every camera's producer
 * stats (admin API: packets, packets lost from sequence gaps, mediasoup's
 * RtpStreamRecv). "Loss-free": every camera live and loss < 0.1 %. Prints the
 * machine (with its load average) and a markdown table.
 *
 *   npm run loadtest:ingest -- [--source push|rtsp] [--steps 10,25,50,100] [--window 10] [--mbps 1] [--instant-start on|off]
 *
 * `--instant-start off` runs Vigil without its GOP cache (on by default), to
 * see what instant start costs per camera.
 *
 * Bounded: at most 500 push or 200 RTSP cameras per step, 60 s per window;
 * traffic on 127.0.0.1 only.
 */
import { parseArgs } from 'node:util';
import { cliArgs, numberArg, parseList } from './args.ts';
import { clip } from './feed.ts';
import { pushIngest } from './ingest-push.ts';
import { rtspIngest } from './ingest-rtsp.ts';
import { machineInfo, machineLine, markdownTable } from './machine.ts';

const { values } = cliArgs(() => parseArgs({
  options: {
    source: { type: 'string', default: 'push' },
    steps: { type: 'string', default: '10,25,50,100' },
    window: { type: 'string', default: '10' },
    mbps: { type: 'string', default: '1' },
    'instant-start': { type: 'string', default: 'on' },
  },
}));
cliArgs(() => {
  if (values['instant-start'] !== 'on' && values['instant-start'] !== 'off') throw new Error(`--instant-start must be on or off, not "${values['instant-start']}"`);
  if (values.source !== 'push' && values.source !== 'rtsp') throw new Error(`--source must be push or rtsp, not "${values.source}"`);
});
const machine = machineInfo();
// Each RTSP camera is a relay process (ffmpeg, ~10 MB resident) and a server pipeline: fewer than push cameras.
const { steps, windowSec, mbps } = cliArgs(() => ({
  steps: parseList(values.steps, 1, values.source === 'rtsp' ? 200 : 500),
  windowSec: numberArg('window', values.window, 2, 60),
  mbps: numberArg('mbps', values.mbps, 0.1, 20),
}));
const clipPath = clip({ width: 1280, height: 720, fps: 30, gopFrames: 30, bitrate: mbps * 1e6 });
const options = { windowSec, mbps, clipPath, instantStart: values['instant-start'] === 'on', cores: machine.cores >= 2 ? { workerCore: 0, nodeCore: 1 } : {} };
const runner = values.source === 'rtsp' ? rtspIngest(options) : pushIngest(options);

const rows: (string | number)[][] = [];
let lastClean: number | undefined;
console.log(`## ${runner.title}\n\n${machineLine(machine)}\n`);
for (const n of steps) {
  try {
    const step = await runner.step(n);
    if (step.clean) lastClean = n;
    rows.push(step.row);
  } catch (err) {
    // A step that could not start (e.g. Vigil not up in time on a busy machine) is a row of '-'; the others still print.
    console.error(`[loadtest:ingest] ${n} cameras: step failed: ${(err as Error).message.split('\n')[0]}`);
    rows.push([n, ...runner.headers.slice(1).map(() => 'did not start')]);
  }
}
console.log(markdownTable(runner.headers, rows));
console.log(`\n${runner.footer(lastClean)}`);
