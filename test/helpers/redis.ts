/**
 * A real Redis for tests (Debian's `redis-server`, installed by
 * scripts/setup.sh): its own temp dir, append-only file on (so a restart
 * keeps what was written, as a production Redis with AOF does), no RDB
 * snapshots, bound to one address. Stopped and its dir removed by stop(),
 * and killed at process exit should a test die first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export interface TestRedis {
  /** `redis://host:port`. */
  url: string;
  host: string;
  port: number;
  /** Graceful stop (SIGTERM: Redis flushes the AOF) and removes the data dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, keeping the data dir (the AOF is fsynced every second: the last second may be lost). */
  kill(): Promise<void>;
  /** Stops (SIGTERM) but keeps the data dir, for a restart with {@link start}. */
  pause(): Promise<void>;
  /** (Re)starts on the same host, port and data dir after kill() or pause(). */
  start(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});


/** Resolves once something accepts TCP connections on host:port. */
async function waitListening(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect({ host, port });
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts redis-server.
 * @param opts.host address to bind (default 127.0.0.1)
 * @param opts.netns run inside this network namespace (`ip netns exec`); `host` must be one of its addresses, routed from the test process (e.g. on a bridge the host is attached to)
 * @param opts.port port to listen on (default: a free one; give one with netns, where the host cannot probe for a free port)
 * @throws Error when redis-server exits or does not listen within 10 s
 */
export async function startRedis(opts: { host?: string; netns?: string; port?: number } = {}): Promise<TestRedis> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (opts.netns ? 20000 + Math.floor(Math.random() * 20000) : await freePort(host));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-redis-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const args = [
    '--bind', host,
    '--port', String(port),
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--daemonize', 'no',
    '--protected-mode', 'no',
    '--loglevel', 'warning',
  ];

  const start = async (): Promise<void> => {
    if (child) return;
    const [cmd, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, 'redis-server', ...args]] : ['redis-server', args];
    const c = spawn(cmd as string, argv as string[], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr!.on('data', (d) => (stderr += d));
    child = c;
    running.add(c);
    exited = new Promise<void>((resolve) =>
      c.once('exit', () => {
        running.delete(c);
        if (child === c) child = undefined;
        resolve();
      }),
    );
    const died = exited.then(() => {
      throw new Error(`redis-server exited at start: ${stderr.trim()}`);
    });
    await Promise.race([waitListening(host, port, 10_000), died]);
    died.catch(() => {});
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c) return;
    c.kill(sig);
    await exited;
  };

  await start();
  let removed = false;
  return {
    url: `redis://${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    start,
    kill: () => signal('SIGKILL'),
    pause: () => signal('SIGTERM'),
    async stop() {
      await signal('SIGTERM');
      if (!removed) {
        removed = true;
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
