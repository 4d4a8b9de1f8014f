/**
 * A real PostgreSQL server for one test file (or a benchmark): Debian's
 * `postgresql` binaries (/usr/lib/postgresql/<major>/bin), a cluster made by
 * `initdb` in a fresh temp dir, listening on 127.0.0.1 on a free port and on
 * a unix socket in that dir. PostgreSQL refuses to run as root, so as root
 * (CI) initdb and the server run as Debian's `postgres` account (spawned
 * with its uid/gid, so the child pid is the postmaster itself and a kill
 * reaches it); as any other user they run as that user. Loopback connections are trusted (test only).
 *
 * `stop()` (fast shutdown) and `start()` again on the same data dir and port
 * model "the database is down, then back". `destroy()` stops it and removes
 * the dir; it also runs at process exit, so a failed test leaves nothing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './vigil.ts';
import { freePort } from './ports.ts';

/** The newest installed server's bin dir, e.g. /usr/lib/postgresql/15/bin. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'postgres'))) : [];
  if (majors.length === 0) throw new Error('PostgreSQL server not installed (Debian package postgresql, scripts/apt-packages.txt)');
  return join(root, majors.sort((a, b) => Number(b) - Number(a))[0]!, 'bin');
}


export interface TestPostgres {
  /** Connection URI for the `postgres` database as the superuser over TCP loopback. */
  url: string;
  port: number;
  /** Starts the server (again) on the same data dir and port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Fast shutdown (SIGINT: open connections are cut); resolves once the server exited. */
  stop(): Promise<void>;
  /** Stops the server and removes its dir. Idempotent. */
  destroy(): Promise<void>;
}

const live = new Set<{ child: ChildProcess | undefined; dir: string }>();
process.once('exit', () => {
  for (const s of live) {
    s.child?.kill('SIGKILL');
    rmSync(s.dir, { recursive: true, force: true });
  }
});

/**
 * Creates and starts a throwaway cluster.
 * @param opts.fsync false (default) skips WAL flushes: fine for behaviour tests; benchmarks pass true
 * @throws Error when the binaries are missing, initdb fails or the server does not accept connections within 20 s
 */
export async function startPostgres(opts: { fsync?: boolean } = {}): Promise<TestPostgres> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()) : undefined;
  const ownerGid = asRoot ? Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim()) : undefined;
  if (asRoot) chownSync(dir, owner!, ownerGid!);
  /** spawn options running as the postgres account when root. */
  const as = asRoot ? { uid: owner!, gid: ownerGid! } : {};
  const entry: { child: ChildProcess | undefined; dir: string } = { child: undefined, dir };
  live.add(entry);
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], {
    encoding: 'utf8',
    cwd: dir,
    ...as,
  });
  if (init.status !== 0) {
    live.delete(entry);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${init.stderr}`);
  }
  const port = await freePort();
  let log = '';

  const start = async (): Promise<void> => {
    const args = ['-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', dir, '-c', `fsync=${opts.fsync ? 'on' : 'off'}`, '-c', 'max_connections=50'];
    const child = spawn(join(bin, 'postgres'), args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], ...as });
    entry.child = child;
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const isReady = join(bin, 'pg_isready');
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`postgres exited (${child.exitCode}):\n${log.slice(-2000)}`);
      return spawnSync(isReady, ['-h', '127.0.0.1', '-p', String(port), '-q']).status === 0;
    }, 20_000, 100);
  };

  const stop = async (): Promise<void> => {
    const child = entry.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    // SIGINT is PostgreSQL's fast shutdown (docs, "Shutting Down the Server").
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  let destroyed = false;
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await stop();
      live.delete(entry);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
