/**
 * Profiles of a server process under load (Debian `linux-perf`): sampled call
 * stacks (`perf record -e cpu-clock -g`, cpu-clock works inside VMs without
 * hardware counters) and what they say, shared by the fan-out runners.
 */
import { execFile, execFileSync } from 'node:child_process';

/** Sampling frequency, Hz: ~1k samples/s costs the sampled process well under 1 % of a core. */
const FREQUENCY_HZ = 999;

/**
 * Samples `pid`'s stacks for `seconds` into `file`.
 * @returns resolves when perf has written the file
 * @throws Error (rejects) when perf fails (not installed, no permission)
 */
export function recordProfile(pid: number, seconds: number, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('perf', ['record', '-q', '-e', 'cpu-clock', '-F', String(FREQUENCY_HZ), '-g', '-o', file, '-p', String(pid), '--', 'sleep', String(seconds)], (err) =>
      err ? reject(err) : resolve(),
    );
  });
}

/** What a profile says. */
export interface ProfileSummary {
  /** Top functions by self time: `"<percent>  <dso>  <symbol>"`, at most `limit`. */
  top: string[];
  /**
   * Share of the samples (0..1) inside the kernel's receive softirq
   * (`net_rx_action`, inclusive). For a server sending to receivers on the
   * same host over loopback, this is the receivers' path (IP and UDP receive,
   * queueing into their sockets, waking them) run in the server's own
   * `sendmsg()` and charged to it; a NIC would hand the packet off instead.
   */
  receiveSoftirqShare: number;
  /** Share of the samples (0..1) per binary or library (`mediasoup-worker`, `[kernel.kallsyms]`, `libcrypto.so.3`, ...). */
  byDso: Record<string, number>;
}

/**
 * Reads a profile written by {@link recordProfile}.
 * @param limit top entries to keep (default 15)
 * @throws Error when `perf report` fails
 */
export function summarizeProfile(file: string, limit = 15): ProfileSummary {
  const report = (args: string[]): string => execFileSync('perf', ['report', '--stdio', '-g', 'none', '-i', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  const top = report(['--no-children', '--sort', 'dso,symbol', '--percent-limit', '0.5'])
    .split('\n')
    .filter((l) => /^\s+\d/.test(l))
    .slice(0, limit)
    .map((l) => l.replace(/(\s+-)+\s*$/, '').replace(/\s{2,}/g, '  ').trim());
  // With --children the first column is the inclusive share.
  const line = report(['--children', '--sort', 'symbol'])
    .split('\n')
    .find((l) => /\[k\] net_rx_action\s*$/.test(l.replace(/(\s+-)+\s*$/, '')));
  const share = line ? Number(/^\s*([\d.]+)%/.exec(line)?.[1] ?? 0) / 100 : 0;
  const byDso: Record<string, number> = {};
  for (const l of report(['--no-children', '--sort', 'dso']).split('\n')) {
    const m = /^\s*([\d.]+)%\s+(\S+)/.exec(l);
    if (m) byDso[m[2]!] = Number(m[1]) / 100;
  }
  return { top, receiveSoftirqShare: share, byDso };
}
