/**
 * Runs Vigil as a real OS process (`node server/src/main.ts --config
 * <file>` under this Node, process.execPath), for tests of signals, kill -9,
 * restart and of what the process writes to stdout/stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_ADMIN_KEY, testConfig } from './vigil.ts';

const MAIN = fileURLToPath(new URL('../../server/src/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A fresh temp dir for one test file. */
export function tempDir(prefix = 'vigil-proc-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes a loopback, free-port config with `overrides` merged at the top level; returns its path. */
export function writeConfig(dir: string, overrides: Record<string, unknown>, name = 'vigil.json'): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(testConfig({ log: { level: 'info' }, ...overrides }), null, 2));
  return path;
}

export interface VigilProcess {
  child: ChildProcess;
  /** Base URL, from the `vigil started` log line. */
  url: string;
  /** pids of the mediasoup workers it started (from `mediasoup worker ready`). */
  workerPids: number[];
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines so far (non-JSON lines skipped). */
  logs(): Record<string, unknown>[];
  /** Resolves with the exit code (or signal name) when the process exits. */
  exited: Promise<number | string>;
  /** Calls the admin API over HTTP with the test admin key. */
  admin(path: string): Promise<Response>;
}

/**
 * Spawns Vigil with `configPath` (inside network namespace `opts.netns` when
 * given) and resolves once it logs `vigil started`.
 * @throws Error when it exits first or does not start within `timeoutMs`
 */
export async function spawnVigil(configPath: string, timeoutMs = 20_000, opts: { netns?: string } = {}): Promise<VigilProcess> {
  // `ip netns exec` enters the namespace and execs node: the child's pid is Vigil's own (kill -9 reaches it).
  const [cmd, args] = opts.netns
    ? ['ip', ['netns', 'exec', opts.netns, process.execPath, MAIN, '--config', configPath]]
    : [process.execPath, [MAIN, '--config', configPath]];
  const child = spawn(cmd as string, args as string[], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const logs = (): Record<string, unknown>[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vigil did not start within ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    const check = (): void => {
      const line = logs().find((l) => l['msg'] === 'vigil started');
      if (line) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(line);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`vigil exited (${code}) before starting:\n${err}\n${out.slice(-2000)}`));
    });
  });
  const url = String(started['url']);
  return {
    child,
    url,
    workerPids: logs()
      .filter((l) => l['msg'] === 'mediasoup worker ready')
      .map((l) => Number(l['workerPid'])),
    stdout: () => out,
    stderr: () => err,
    logs,
    exited,
    admin: (path) => fetch(`${url}/admin/v1${path}`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } }),
  };
}

/** True while a process with this pid exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
