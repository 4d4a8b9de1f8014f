/**
 * Processes of a load test: spawning pinned to a core (util-linux `taskset`),
 * CPU time and memory of a pid from /proc (proc(5)), free loopback ports, and
 * a tracked set that is always torn down, even when the run fails.
 */
import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Netns } from './netns.ts';

/** Clock ticks per second of /proc/<pid>/stat times (sysconf(_SC_CLK_TCK)). */
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * CPU time a process has used so far, user + system, all threads, in seconds
 * (proc(5): fields 14 utime and 15 stime of /proc/<pid>/stat).
 * @throws Error when the process does not exist
 */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * pids of the running children of `parentPid` whose command name is `comm`
 * (proc(5): field 4 ppid and the `(comm)` field of /proc/<pid>/stat; comm is
 * the executable's name, at most 15 characters), e.g. the ffmpeg relays a
 * Vigil process spawned (through setpriv, which execs ffmpeg in place).
 */
export function childPids(parentPid: number, comm: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const close = stat.lastIndexOf(')');
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    if (ppid === parentPid && stat.slice(stat.indexOf('(') + 1, close) === comm) out.push(Number(entry));
  }
  return out;
}

/** Resident set size of a process, bytes (VmRSS of /proc/<pid>/status); 0 when gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Pins a running process (all its threads) to one core (`taskset -a -p -c`). */
export function pinToCore(pid: number, core: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Camera ports the load tests configure: below the kernel's ephemeral ports (32768-60999 by default) and mediasoup's rtc ports (41000-49999). */
const CAMERA_PORTS = { min: 20_000, max: 31_998 };

/**
 * A free even UDP port P on 127.0.0.1 with P+1 free too (an RTP/RTCP pair, RFC 3550 §11).
 * With `fixed`, from {@link CAMERA_PORTS}, where no socket bound to port 0 (Vigil's
 * own, opened while it starts its cameras one by one) can take it before Vigil binds it;
 * otherwise any ephemeral pair.
 * @throws Error after 50 tries without a free pair
 */
export async function freeUdpPair(fixed = false): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const a = createSocket('udp4');
    const wanted = fixed ? CAMERA_PORTS.min + 2 * Math.floor((Math.random() * (CAMERA_PORTS.max - CAMERA_PORTS.min)) / 2) : 0;
    const bound = await new Promise<boolean>((r) => {
      a.once('error', () => r(false));
      a.bind(wanted, '127.0.0.1', () => r(true));
    });
    if (!bound) continue;
    const port = a.address().port;
    a.close();
    if (port % 2 !== 0 || port > 65_000) continue;
    const b = createSocket('udp4');
    const ok = await new Promise<boolean>((r) => {
      b.once('error', () => r(false));
      b.bind(port + 1, '127.0.0.1', () => r(true));
    });
    b.close();
    if (ok) return port;
  }
  throw new Error('no free UDP port pair on 127.0.0.1');
}

/** Children of one run; `stopAll()` kills each (SIGTERM, then SIGKILL after 3 s), then runs the clean-ups. */
export class ProcessSet {
  readonly #children: ChildProcess[] = [];
  readonly #cleanups: (() => void)[] = [];
  /** Every set not yet stopped, for Ctrl-C / SIGTERM. */
  static readonly #live = new Set<ProcessSet>();

  constructor() {
    if (ProcessSet.#live.size === 0 && process.listenerCount('SIGINT') === 0) {
      // Interrupted: stop every child and delete namespaces before exiting (128 + signal number).
      // The handlers stay installed: a second signal (a terminal's Ctrl-C reaches npm and this
      // process both, npm forwards it again; or Ctrl-C pressed twice) must not kill this process
      // mid-clean-up, which would orphan the children and leave namespaces behind.
      let stopping = false;
      for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
        process.on(sig, () => {
          if (stopping) return;
          stopping = true;
          process.stderr.write(`\n[loadtest] ${sig}: stopping every process this run started and deleting its namespaces...\n`);
          void Promise.all([...ProcessSet.#live].map((p) => p.stopAll())).finally(() => process.exit(code));
        });
      }
    }
    ProcessSet.#live.add(this);
  }

  /** Runs `fn` in `stopAll()` after every child exited (e.g. delete a network namespace). */
  onStop(fn: () => void): void {
    this.#cleanups.push(fn);
  }

  /**
   * Spawns `cmd args`, pinned to `core` (taskset -c) and inside `netns` when given.
   * @throws Error when the command cannot be started
   */
  spawn(cmd: string, args: string[], opts: SpawnOptions & { core?: number; netns?: Netns } = {}): ChildProcess {
    const { core, netns, ...rest } = opts;
    if (netns) [cmd, args] = netns.exec(cmd, args);
    const child = core === undefined ? spawn(cmd, args, rest) : spawn('taskset', ['-c', String(core), cmd, ...args], rest);
    this.#children.push(child);
    return child;
  }

  /** Stops every child still running; resolves when they exited. */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.#children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const timer = setTimeout(() => c.kill('SIGKILL'), 3000);
            c.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
    for (const fn of this.#cleanups.splice(0)) fn();
    ProcessSet.#live.delete(this);
  }
}

/** Resolves with the first line of `child`'s stdout/stderr matching `re`; rejects on exit or after `timeoutMs`. */
export function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => done(new Error(`no output matching ${re} within ${timeoutMs} ms:\n${text.slice(-2000)}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      text += d.toString();
      const m = re.exec(text);
      if (m) done(undefined, m);
    };
    const onExit = (code: number | null): void => done(new Error(`exited (${code}) before printing ${re}:\n${text.slice(-2000)}`));
    function done(err?: Error, m?: RegExpExecArray): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}
