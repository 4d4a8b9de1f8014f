/**
 * Debian's haproxy in front of Vigil nodes' HTTP/WebSocket ports, as users
 * deploy it: health checks on `/readyz`, WebSocket tunnels, a dead server's
 * connections re-dispatched to another (haproxy docs: `option httpchk`,
 * `timeout tunnel`, `option redispatch`, `backup`).
 *
 * One frontend per node on 127.0.0.1 (a free port each): frontend i sends
 * every request to node i while it is up and to the other nodes (backup
 * servers) when it is not, so a test chooses the node its viewer lands on and
 * still goes through the balancer when that node dies.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestHaproxy {
  /** Base URL of frontend i (node i first), e.g. `http://127.0.0.1:41234`. */
  urls: string[];
  /** Stops haproxy and removes its config. Idempotent. */
  stop(): Promise<void>;
}

/** Why haproxy cannot run here, or undefined when it can. */
export function haproxyUnavailable(): string | undefined {
  return spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0 ? undefined : 'haproxy is not installed (scripts/apt-packages.txt)';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts haproxy in the foreground (`-db`) with one frontend per backend address.
 * @param backends `host:port` of each node's HTTP listener
 * @throws Error when haproxy rejects its config or exits at once
 */
export async function startHaproxy(backends: string[]): Promise<TestHaproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-haproxy-'));
  const ports = await Promise.all(backends.map(() => freePort()));
  const lines = [
    'global',
    '  maxconn 1000',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout tunnel 1h',
    '  option redispatch',
    '  retries 2',
  ];
  backends.forEach((_, i) => {
    lines.push(`frontend fe${i}`, `  bind 127.0.0.1:${ports[i]}`, `  default_backend be${i}`);
    lines.push(`backend be${i}`, '  option httpchk GET /readyz', '  balance first');
    backends.forEach((addr, j) => lines.push(`  server n${j} ${addr} check inter 300 fall 2 rise 2${j === i ? '' : ' backup'}`));
  });
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, lines.join('\n') + '\n');
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = (): void => void child.kill('SIGKILL');
  process.once('exit', kill);
  // Ready when every frontend accepts a connection.
  const deadline = Date.now() + 5000;
  for (const port of ports) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`haproxy exited: ${err}`);
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(() => true, () => false);
      if (ok) break;
      if (Date.now() > deadline) {
        kill();
        throw new Error(`haproxy did not listen: ${err}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  let stopped = false;
  return {
    urls: ports.map((p) => `http://127.0.0.1:${p}`),
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', kill);
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
