/**
 * Fan-out benchmark: consumers per mediasoup worker core, and what one
 * forwarded packet costs the worker per consumer, for one or more worker
 * binaries compared in the same run.
 *
 * Each variant (a mediasoup-worker binary) runs `fanout-run.ts` in a child
 * process (MEDIASOUP_WORKER_BIN is read when mediasoup loads); variants
 * alternate within each round so a machine whose load drifts hurts them
 * alike. On a machine with >= 2 CPUs the worker is pinned to CPU 0 and the
 * child (bots, ffmpeg camera) to CPU 1 (`taskset`).
 *
 * Per step and variant it prints the median over rounds of: worker CPU (% of
 * one core: getrusage user + system of the worker process), worker CPU per
 * forwarded packet per consumer (µs; packets the consumers sent, counted by the
 * bots from RTP sequence numbers), consumers per core at 1 Mbps (one core's
 * µs divided by the µs per second one consumer of a 1 Mbps stream costs at
 * this run's mean packet size: the cost is per packet), and delivered packets
 * (received / sent). The worker's
 * system time includes the loopback delivery: on `lo` the sender's sendmsg(2)
 * runs the receive path (IP, UDP lookup, queueing to the bot's socket) in its
 * own context; only the bot's recvmsg copy is charged to the bots.
 * Last, a markdown table with the machine and the date. With `--profile`,
 * the first round also samples each worker with perf (Debian linux-perf)
 * after its last step and prints the top functions by self time.
 *
 * Usage: npm run bench:fanout -- [--variants name=/path/worker[:bwe|:remb|:no-bwe][:sndbuf=BYTES],...] [--rounds 2]
 *          [--steps 200,500] [--seconds 10] [--bitrate 1000000] [--srtp AEAD_AES_256_GCM] [--profile]
 *   Without --variants: one variant, the worker of this checkout (MEDIASOUP_WORKER_BIN).
 *   The bots' consumers negotiate what Vigil's viewer consumers do (no
 *   bandwidth estimation; `:no-bwe` says so explicitly); `:bwe`: transport-cc,
 *   abs-send-time and REMB as a browser offers them (the worker's send-side
 *   BWE, what Vigil did before); `:remb`: abs-send-time and REMB without
 *   transport-cc; `:sndbuf=BYTES`: each bot transport's socket send buffer.
 * Bounded: at most 6 rounds, 2000 bots and 60 s per step.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { availableParallelism, cpus, loadavg, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { StepResult } from './fanout-run.ts';
import { summarizeProfile } from '../src/profile.ts';

const { values } = parseArgs({
  options: {
    variants: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    steps: { type: 'string', default: '200,500' },
    seconds: { type: 'string', default: '10' },
    bitrate: { type: 'string', default: '1000000' },
    srtp: { type: 'string', default: 'AEAD_AES_256_GCM' },
    profile: { type: 'boolean', default: false },
  },
});
const rounds = Math.min(6, Math.max(1, Number(values.rounds)));
/** A worker binary and the bot options it runs with (`name=/path/worker[:bwe|:remb|:no-bwe][:sndbuf=BYTES]`). */
const variants = (values.variants ?? `current=${process.env['MEDIASOUP_WORKER_BIN'] ?? ''}`).split(',').map((v) => {
  const at = v.indexOf('=');
  if (at < 1 || at === v.length - 1) throw new Error(`--variants: expected name=/path/to/mediasoup-worker[:bwe|:remb|:no-bwe][:sndbuf=BYTES], got "${v}"`);
  const [bin, ...opts] = v.slice(at + 1).split(':');
  const args: string[] = [];
  for (const o of opts) {
    if (o === 'no-bwe') args.push('--bwe', 'none');
    else if (o === 'bwe') args.push('--bwe', 'transport-cc');
    else if (o === 'remb') args.push('--bwe', 'remb');
    else if (o.startsWith('sndbuf=')) args.push('--sndbuf', o.slice(7));
    else throw new Error(`--variants: unknown option "${o}" (bwe, remb, no-bwe, sndbuf=BYTES)`);
  }
  return { name: v.slice(0, at), bin: bin!, args };
});
const pin = availableParallelism() >= 2;
const profileDir = mkdtempSync(join(tmpdir(), 'vigil-fanout-perf-'));
const runScript = fileURLToPath(new URL('./fanout-run.ts', import.meta.url));

/** Runs one child; resolves with its step results. */
function runOnce(bin: string, extra: string[], perfFile?: string): Promise<StepResult[]> {
  const args = [runScript, '--steps', values.steps, '--seconds', values.seconds, '--bitrate', values.bitrate, '--srtp', values.srtp, ...extra];
  if (perfFile) args.push('--perf', perfFile);
  if (pin) args.push('--worker-cpu', '0');
  const [cmd, argv] = pin ? ['taskset', ['-c', '1', process.execPath, ...args]] : [process.execPath, args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd as string, argv as string[], { env: { ...process.env, MEDIASOUP_WORKER_BIN: bin }, stdio: ['ignore', 'pipe', 'inherit'] });
    const results: StepResult[] = [];
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('STEP ')) results.push(JSON.parse(line.slice(5)) as StepResult);
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(results) : reject(new Error(`fanout-run exited with ${code}`))));
  });
}

interface Derived {
  cpuPct: number;
  usPerPacket: number;
  perCore1M: number;
  deliveredPct: number;
  sysShare: number;
}
function derive(r: StepResult): Derived {
  const cpuMs = r.userMs + r.sysMs;
  const sent = Math.max(1, r.expected);
  const usPerPacket = (1000 * cpuMs) / sent;
  // Packets per second of a 1 Mbps stream with this run's mean packet size.
  const pps1M = 1e6 / (8 * (r.receivedBytes / Math.max(1, r.received)));
  return {
    cpuPct: (100 * cpuMs) / r.elapsedMs,
    usPerPacket,
    perCore1M: 1e6 / (usPerPacket * pps1M),
    deliveredPct: (100 * r.received) / sent,
    sysShare: r.sysMs / Math.max(1e-9, cpuMs),
  };
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const machine = `${cpu}, ${availableParallelism()} CPUs, Linux ${release()}`;
const started = new Date().toISOString();
const loadAtStart = loadavg().map((l) => l.toFixed(1)).join(' ');
console.log(`fan-out benchmark ${started}: ${machine}; load average ${loadAtStart}`);
console.log(`1 worker${pin ? ' on CPU 0, bots + camera on CPU 1' : ''}; H.264 1280x720 30 fps camera at ${values.bitrate} bps; SRTP ${values.srtp} PlainTransport bots; ${values.seconds} s per step; ${rounds} round(s), variants alternating`);

// by variant, by step index: results over rounds
const all = new Map<string, StepResult[][]>(variants.map((v) => [v.name, []]));
for (let round = 0; round < rounds; round++) {
  // Alternate the order every round so neither variant always runs first.
  const order = round % 2 ? [...variants].reverse() : variants;
  for (const v of order) {
    const perfFile = values.profile && round === 0 ? join(profileDir, `${v.name}.perf.data`) : undefined;
    const results = await runOnce(v.bin, v.args, perfFile);
    results.forEach((r, i) => {
      const d = derive(r);
      (all.get(v.name)![i] ??= []).push(r);
      console.log(
        `round ${round + 1} ${v.name.padEnd(10)} ${String(r.consumers).padStart(5)} consumers | worker ${d.cpuPct.toFixed(1).padStart(5)} % ` +
          `(${(100 * d.sysShare).toFixed(0)} % sys) | ${d.usPerPacket.toFixed(2)} µs/packet/consumer | ${d.perCore1M.toFixed(0)} consumers/core @1 Mbps | ` +
          `delivered ${d.deliveredPct.toFixed(1)} % | camera ${(r.ingestBps / 1e6).toFixed(2)} Mbps`,
      );
    });
  }
}

const base = variants[0]!.name;
const lines = [
  '',
  `Machine: ${machine}. Date: ${started}. Load average at start ${loadAtStart}, at end ${loadavg().map((l) => l.toFixed(1)).join(' ')} (on a shared machine compare variants within one table).`,
  '',
  `| consumers | worker | worker CPU (% of a core) | µs per packet per consumer | consumers per core at 1 Mbps | vs ${base} | delivered |`,
  '|---|---|---|---|---|---|---|',
];
const steps = all.get(base)!.length;
for (let i = 0; i < steps; i++) {
  const basePerCore = median((all.get(base)![i] ?? []).map((r) => derive(r).perCore1M));
  for (const v of variants) {
    const rs = all.get(v.name)![i];
    if (!rs?.length) continue;
    const ds = rs.map(derive);
    const perCore = median(ds.map((d) => d.perCore1M));
    lines.push(
      `| ${rs[0]!.consumers} | ${v.name} | ${median(ds.map((d) => d.cpuPct)).toFixed(1)} % | ${median(ds.map((d) => d.usPerPacket)).toFixed(2)} µs | ` +
        `${perCore.toFixed(0)} | ${(perCore / basePerCore).toFixed(2)}× | ${median(ds.map((d) => d.deliveredPct)).toFixed(1)} % |`,
    );
  }
}
console.log(lines.join('\n'));
if (values.profile) {
  for (const v of variants) {
    const { top, receiveSoftirqShare } = summarizeProfile(join(profileDir, `${v.name}.perf.data`));
    console.log(`\nperf profile of the worker, ${v.name}, ${steps ? all.get(base)![steps - 1]![0]!.consumers : 0} consumers (self time, top entries):\n${top.join('\n')}`);
    console.log(`receive softirq (the bots' loopback receive path, charged to the worker): ${(100 * receiveSoftirqShare).toFixed(1)} % of its samples`);
  }
}
rmSync(profileDir, { recursive: true, force: true });
process.exit(0);
