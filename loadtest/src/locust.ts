/**
 * Runs Locust (the venv set-up made, `$VIGIL_LOCUST_BIN`) with
 * loadtest/signaling/locustfile.py in its distributed mode: one master and
 * `workers` local worker processes (https://docs.locust.io/en/stable/running-distributed.html),
 * headless, for a fixed time; reads the aggregated statistics from the CSV
 * report (`--csv`), writes the HTML report (`--html`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeTcpPort, type ProcessSet } from './processes.ts';

const LOCUSTFILE = fileURLToPath(new URL('../signaling/locustfile.py', import.meta.url));

export interface LocustRun {
  /** Vigil base URL. */
  url: string;
  secret: string;
  camera: string;
  /** New sessions per second (open model). */
  joinRate: number;
  /** Seconds each session stays joined. */
  holdSec: number;
  /** Run time, s. */
  seconds: number;
  /** Local worker processes (0: one standalone process). */
  workers: number;
  /** Directory for the CSV and HTML reports; files are named `<name>_stats.csv` etc. */
  outDir: string;
  name: string;
  /** Thresholds that fail the run (ms, ratio). */
  maxP95JoinMs?: number;
  maxP95ConsumeMs?: number;
  maxFailRatio?: number;
  /** Core(s) for Locust (taskset). */
  core?: number;
}

/** One row of Locust's `_stats.csv` (times in ms). */
export interface LocustStat {
  name: string;
  requests: number;
  failures: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LocustResult {
  /** Locust's exit code: 0, or 1 when a threshold failed. */
  exitCode: number;
  /** Per request name (`join`, `consume`, ..., and `Aggregated`). */
  stats: Map<string, LocustStat>;
  csvPrefix: string;
  htmlPath: string;
  /** Workers the master saw connect. */
  workersConnected: number;
  output: string;
}

/** The Locust executable set-up installed (scripts/setup.sh exports VIGIL_LOCUST_BIN). */
export function locustBin(): string {
  const bin = process.env['VIGIL_LOCUST_BIN'];
  if (!bin) throw new Error('VIGIL_LOCUST_BIN is not set: run through `sh scripts/run.sh` (or npm run)');
  return bin;
}

/**
 * Runs one Locust test to completion.
 * @throws Error when Locust cannot start (exit code 2+) or writes no statistics
 */
export async function runLocust(procs: ProcessSet, r: LocustRun): Promise<LocustResult> {
  // Arrival sources: two per process, so each process carries its share of the rate.
  const users = Math.max(1, r.workers) * 2;
  const custom = [
    '-f', LOCUSTFILE, '-u', String(users),
    '--vigil-camera', r.camera, '--join-rate', String(r.joinRate), '--hold', String(r.holdSec),
    '--max-p95-join-ms', String(r.maxP95JoinMs ?? 1000), '--max-p95-consume-ms', String(r.maxP95ConsumeMs ?? 1000),
    '--max-fail-ratio', String(r.maxFailRatio ?? 0.01),
  ];
  const csvPrefix = join(r.outDir, r.name);
  const htmlPath = `${csvPrefix}.html`;
  const env = { ...process.env, VIGIL_SECRET: r.secret, PYTHONUNBUFFERED: '1' };
  const core = r.core === undefined ? {} : { core: r.core };
  const common = ['--headless', '--host', r.url, '-r', String(users), '-t', `${r.seconds}s`, '--stop-timeout', '2',
    '--csv', csvPrefix, '--html', htmlPath, '--only-summary', ...custom];
  let master;
  if (r.workers > 0) {
    const port = await freeTcpPort();
    master = procs.spawn(locustBin(), ['--master', '--master-bind-host', '127.0.0.1', '--master-bind-port', String(port), '--expect-workers', String(r.workers), ...common], { env, stdio: ['ignore', 'pipe', 'pipe'], ...core });
    for (let i = 0; i < r.workers; i++) {
      const w = procs.spawn(locustBin(), ['--worker', '--master-host', '127.0.0.1', '--master-port', String(port), ...custom], { env, stdio: ['ignore', 'pipe', 'pipe'], ...core });
      w.stdout!.resume();
      w.stderr!.resume();
    }
  } else {
    master = procs.spawn(locustBin(), common, { env, stdio: ['ignore', 'pipe', 'pipe'], ...core });
  }
  let output = '';
  master.stdout!.on('data', (d) => (output += d));
  master.stderr!.on('data', (d) => (output += d));
  const exitCode = await new Promise<number>((resolve) => master.once('exit', (code) => resolve(code ?? -1)));
  if (exitCode > 1) throw new Error(`locust exited with ${exitCode}:\n${output.slice(-3000)}`);
  const stats = parseStatsCsv(readFileSync(`${csvPrefix}_stats.csv`, 'utf8'));
  const workersConnected = Math.max(0, ...[...output.matchAll(/(\d+) workers connected/g)].map((m) => Number(m[1])));
  return { exitCode, stats, csvPrefix, htmlPath, workersConnected, output };
}

/** Parses Locust's `_stats.csv` (header: Type,Name,Request Count,Failure Count,...,50%,...,95%,...,99%,...,100%). */
export function parseStatsCsv(text: string): Map<string, LocustStat> {
  const [header, ...lines] = text.trim().split('\n');
  const cols = header!.split(',');
  const at = (cells: string[], name: string): number => Number(cells[cols.indexOf(name)]);
  const out = new Map<string, LocustStat>();
  for (const line of lines) {
    const cells = line.split(',');
    out.set(cells[1]!, {
      name: cells[1]!,
      requests: at(cells, 'Request Count'),
      failures: at(cells, 'Failure Count'),
      rps: at(cells, 'Requests/s'),
      p50: at(cells, '50%'),
      p95: at(cells, '95%'),
      p99: at(cells, '99%'),
      max: at(cells, 'Max Response Time'),
    });
  }
  return out;
}

