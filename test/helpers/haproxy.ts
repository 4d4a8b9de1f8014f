/**
 * A real load balancer for tests: Debian's `haproxy` (installed by
 * scripts/setup.sh) in the foreground with a config written by the test:
 * HTTP mode with `option forwardfor` (adds `X-Forwarded-For: <client>`),
 * WebSocket upgrades tunnelled (`timeout tunnel`), round robin over the given
 * Vigil nodes with a health check on `/readyz`. Killed at process exit should a
 * test die first.
 *
 * With `perNode`, one more frontend per node: frontend i sends every request
 * to node i while it is up and to the other nodes (`backup` servers,
 * `option redispatch`) when it is not, so a test chooses the node its viewer
 * lands on and still goes through the balancer when that node dies.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export interface TestHaproxy {
  /** `http://127.0.0.1:<port>`: the balancer's front. */
  url: string;
  port: number;
  /** With `perNode`: frontend i's URL (node i first, the others as backups); else empty. */
  urls: string[];
  /** The config it runs (for failure messages). */
  config: string;
  /** SIGTERM, wait for exit, remove its dir. Idempotent. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** Why haproxy cannot run here, or undefined when it can. */
export function haproxyUnavailable(): string | undefined {
  return spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0 ? undefined : 'haproxy is not installed (scripts/apt-packages.txt)';
}


/**
 * The haproxy config for `backends` (host:port of each Vigil node's HTTP port), listening on 127.0.0.1:`port`,
 * and with `perNodePorts` one frontend per node on those ports.
 */
export function haproxyConfig(port: number, backends: { host: string; port: number }[], perNodePorts: number[] = []): string {
  const perNode = perNodePorts.flatMap((p, i) => [
    `frontend node${i}`,
    `  bind 127.0.0.1:${p}`,
    `  default_backend prefer${i}`,
    `backend prefer${i}`,
    '  balance first',
    '  option redispatch',
    '  retries 2',
    '  option httpchk GET /readyz',
    ...backends.map((b, j) => `  server node${j} ${b.host}:${b.port} check inter 300 fall 2 rise 2${j === i ? '' : ' backup'}`),
  ]);
  return [
    'global',
    '  maxconn 256',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    // A WebSocket is a tunnel once upgraded: its idle limit (Vigil pings every few seconds).
    '  timeout tunnel 1h',
    '  option forwardfor',
    'frontend vigil',
    `  bind 127.0.0.1:${port}`,
    '  default_backend nodes',
    'backend nodes',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    ...backends.map((b, i) => `  server node${i} ${b.host}:${b.port} check inter 500ms`),
    ...perNode,
    '',
  ].join('\n');
}

/**
 * Starts haproxy in front of `backends` and waits until it accepts connections.
 * @param opts.perNode also a frontend per node (see the file head)
 * @throws Error when haproxy refuses the config or exits
 */
export async function startHaproxy(backends: { host: string; port: number }[], opts: { perNode?: boolean } = {}): Promise<TestHaproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-haproxy-'));
  const port = await freePort('127.0.0.1');
  const perNodePorts = opts.perNode ? await Promise.all(backends.map(() => freePort('127.0.0.1'))) : [];
  const config = haproxyConfig(port, backends, perNodePorts);
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  // -db: foreground, no daemon; -W would add a master process we do not need.
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${stderr.trim()}\n${config}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect({ host: '127.0.0.1', port });
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`haproxy did not listen within 10 s: ${stderr.trim()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  let stopped = false;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    urls: perNodePorts.map((p) => `http://127.0.0.1:${p}`),
    config,
    async stop() {
      if (stopped) return;
      stopped = true;
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
