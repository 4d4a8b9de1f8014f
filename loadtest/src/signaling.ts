/**
 * `npm run loadtest:signaling`: Vigil's signaling plane under Locust.
 *
 * Starts Vigil (one worker, one camera fed by a replayed RTP stream), then
 * for each join rate runs Locust distributed (a master and `--workers` local
 * workers; loadtest/signaling/locustfile.py: join, getRouterRtpCapabilities,
 * createRecvTransport, consume, refresh, leave over the real WebSocket) for
 * `--seconds`, with sessions held `--hold` s. Meanwhile it samples Vigil's
 * memory (RSS of the Node.js process + the worker, /proc) and its open
 * sessions (`vigil_viewer_sessions` on /metrics). Prints the machine and a
 * markdown table: joins per minute sustained, p50/p95/p99 of join and
 * consume, failures, memory per joined session, and the first rate where
 * join p95 crosses `--break-p95-ms` or requests fail ("where latency breaks").
 * CSV and HTML reports per rate go to `--out` (default: a temp directory).
 *
 *   npm run loadtest:signaling -- [--rates 5,10,20,40] [--seconds 20] [--hold 10] [--workers 2] [--break-p95-ms 250] [--out dir]
 *
 * Bounded: rates up to 500 joins/s, 300 s per step, at most 1000 open sessions per Locust process.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cliArgs, numberArg, parseList } from './args.ts';
import { clip, startFeed } from './feed.ts';
import { runLocust } from './locust.ts';
import { fixed, machineInfo, machineLine, markdownTable } from './machine.ts';
import { ProcessSet, rssBytes } from './processes.ts';
import { startVigilServer, type VigilServer } from './vigil-server.ts';

const { values } = cliArgs(() => parseArgs({
  options: {
    rates: { type: 'string', default: '5,10,20,40' },
    seconds: { type: 'string', default: '20' },
    hold: { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    'break-p95-ms': { type: 'string', default: '250' },
    out: { type: 'string' },
  },
}));
const machine = machineInfo();
const { rates, seconds, hold, workers, breakMs } = cliArgs(() => ({
  rates: parseList(values.rates, 0.1, 500),
  seconds: numberArg('seconds', values.seconds, 3, 300),
  hold: numberArg('hold', values.hold, 0.5, 300),
  workers: Math.trunc(numberArg('workers', values.workers, 0, 8)),
  breakMs: numberArg('break-p95-ms', values['break-p95-ms'], 1, 60_000),
}));
const outDir = values.out ?? mkdtempSync(join(tmpdir(), 'vigil-locust-'));
mkdirSync(outDir, { recursive: true });

/** Open viewer sessions, from Vigil's own gauge. */
async function openSessions(vigil: VigilServer): Promise<number> {
  const text = await fetch(`${vigil.url}/metrics`).then((r) => r.text(), () => '');
  return Number(/^vigil_viewer_sessions (\S+)/m.exec(text)?.[1] ?? NaN);
}

const procs = new ProcessSet();
const rows: (string | number)[][] = [];
let brokeAt: number | undefined;
try {
  const vigil = await startVigilServer(procs);
  startFeed(procs, clip({ width: 640, height: 360, fps: 30, bitrate: 500_000, gopFrames: 30 }), [{ port: vigil.rtpPort }]);
  await new Promise((r) => setTimeout(r, 2000));
  const memory = (): number => rssBytes(vigil.pid) + rssBytes(vigil.workerPid);
  console.log(`## Vigil signaling under Locust\n\n${machineLine(machine)}\n`);
  for (const rate of rates) {
    console.error(`[loadtest:signaling] ${rate} joins/s for ${seconds} s, sessions held ${hold} s, ${workers} Locust workers`);
    const base = memory();
    let peak = { mem: base, sessions: 0 };
    const poll = setInterval(() => {
      void openSessions(vigil).then((sessions) => {
        const mem = memory();
        if (sessions > peak.sessions) peak = { mem, sessions };
      });
    }, 500);
    const result = await runLocust(procs, {
      url: vigil.url, secret: vigil.secret, camera: vigil.camera, joinRate: rate, holdSec: hold, seconds, workers, outDir, name: `rate-${rate}`,
    }).finally(() => clearInterval(poll));
    const join = result.stats.get('join');
    const consume = result.stats.get('consume');
    const total = result.stats.get('Aggregated');
    const okJoins = join ? join.requests - join.failures : 0;
    const failRatio = total && total.requests ? total.failures / total.requests : 1;
    const broken = !join || join.p95 > breakMs || failRatio > 0.01;
    if (broken && brokeAt === undefined) brokeAt = rate;
    rows.push([
      rate,
      // Over --seconds, which includes Locust's own start-up (~2 s): short runs under-state it.
      fixed((okJoins / seconds) * 60, 0),
      join ? `${join.p50} / ${join.p95} / ${join.p99}` : '-',
      consume ? `${consume.p50} / ${consume.p95} / ${consume.p99}` : '-',
      total ? `${total.failures} / ${total.requests}` : '-',
      peak.sessions,
      peak.sessions > 0 ? fixed((peak.mem - base) / peak.sessions / 1024, 0) : '-',
      result.exitCode === 0 ? 'pass' : 'fail',
      result.workersConnected,
    ]);
    console.error(`[loadtest:signaling]   ${okJoins} joins, join p95 ${join?.p95} ms, reports: ${result.csvPrefix}_stats.csv, ${result.htmlPath}`);
    // Let the step's sessions end before the next baseline.
    await new Promise((r) => setTimeout(r, (hold + 2) * 1000));
  }
} finally {
  await procs.stopAll();
}
console.log(
  markdownTable(
    ['joins/s offered', 'joins per minute sustained', 'join p50 / p95 / p99 ms', 'consume p50 / p95 / p99 ms', 'failed / requests', 'open sessions (peak)', 'memory per session KiB (Node + worker RSS)', 'thresholds', 'Locust workers'],
    rows,
  ),
);
console.log(
  `\n${brokeAt === undefined ? `Latency did not break up to ${rates.at(-1)} joins/s` : `Latency breaks at ${brokeAt} joins/s`} ` +
    `(join p95 > ${breakMs} ms or > 1 % failed). Sessions held ${hold} s; ${seconds} s per rate; Locust distributed, ${workers} local workers; ` +
    `thresholds: fail ratio <= 1 %, join and consume p95 <= 1000 ms. Reports (CSV, HTML): ${outDir}`,
);
