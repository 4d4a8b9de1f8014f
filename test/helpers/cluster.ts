/**
 * A Vigil cluster on this machine, for tests and the failover benchmark:
 * N Vigil processes, each in its own network namespace with its own address
 * on a bridge (netns.ts), a real redis-server on the host's bridge address
 * (redis.ts), and Debian's haproxy in front of the nodes' HTTP/WebSocket
 * ports (haproxy.ts, `perNode`: frontend i prefers node i). Nodes start one after the
 * other, the first alone until it has claimed every camera, so node 0 is the
 * origin of all cameras at start. `close()` removes everything, also after a
 * failed start.
 */
import { Redis } from 'ioredis';
import { createBridgeNet, type TestBridgeNet } from './netns.ts';
import { startHaproxy, type TestHaproxy } from './haproxy.ts';
import { startRedis, type TestRedis } from './redis.ts';
import { spawnVigil, tempDir, writeConfig, type VigilProcess } from './vigil-process.ts';

/** Every node's HTTP port, in its own namespace. */
export const NODE_HTTP_PORT = 8080;

export interface TestCluster {
  net: TestBridgeNet;
  redis: TestRedis;
  haproxy: TestHaproxy;
  /** A Redis client of the test's own (reads the registry). */
  registry: Redis;
  /** Node ids, by index (`node-a`, `node-b`, ...). */
  ids: string[];
  /** The running process of each node (replaced by `respawn`). */
  nodes: VigilProcess[];
  /** A camera's origin record in Redis, or undefined (also while Redis is down). */
  originOf(cameraId: string): Promise<{ node: string; epoch: number } | undefined>;
  /** Starts node i again with its config (after a kill). */
  respawn(i: number): Promise<VigilProcess>;
  /** Stops every node (SIGTERM, then SIGKILL), haproxy, Redis and the namespaces. Idempotent. */
  close(): Promise<void>;
}

/** Polls `f` every 100 ms until it returns a truthy value. @throws Error naming `what` after `ms` */
export async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts the cluster.
 * @param cameras camera configs (raw JSON), the same file content on every node
 * @param o.heartbeatMs / o.nodeTimeoutMs the `cluster` timing of every node
 * @throws Error when a part does not start (what started is removed)
 */
export async function startCluster(
  cameras: Record<string, unknown>[],
  o: { nodes?: number; heartbeatMs?: number; nodeTimeoutMs?: number; logLevel?: string } = {},
): Promise<TestCluster> {
  const count = o.nodes ?? 3;
  const ids = Array.from({ length: count }, (_, i) => `node-${String.fromCharCode(97 + i)}`);
  const nodes: VigilProcess[] = [];
  let net: TestBridgeNet | undefined;
  let redis: TestRedis | undefined;
  let registry: Redis | undefined;
  let haproxy: TestHaproxy | undefined;
  let closed = false;
  const stopNode = async (n: VigilProcess): Promise<void> => {
    if (n.child.exitCode !== null || n.child.signalCode !== null) return;
    n.child.kill('SIGTERM');
    await Promise.race([n.exited, new Promise((r) => setTimeout(r, 5000))]);
    if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
    await n.exited;
  };
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await haproxy?.stop();
    await Promise.all(nodes.map(stopNode));
    registry?.disconnect();
    await redis?.stop();
    net?.close();
  };
  try {
    net = createBridgeNet(count);
    redis = await startRedis({ host: net.hostIp });
    registry = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    registry.on('error', () => undefined);
    const dir = tempDir('vigil-cluster-');
    const n = net;
    const r = redis;
    const paths = ids.map((id, i) => {
      const h = n.hosts[i]!;
      return writeConfig(
        dir,
        {
          http: { host: h.ip, port: NODE_HTTP_PORT },
          webrtc: { listenIp: h.ip, port: 40000 },
          ingest: { listenIp: '127.0.0.1' },
          workers: { count: 1 },
          log: { level: o.logLevel ?? 'info' },
          cluster: {
            redisUrl: r.url,
            nodeId: id,
            announcedAddress: h.ip,
            heartbeatMs: o.heartbeatMs ?? 500,
            nodeTimeoutMs: o.nodeTimeoutMs ?? 2000,
            pipe: { listenIp: h.ip, portMin: 50000, portMax: 50100 },
          },
          cameras,
        },
        `${id}.json`,
      );
    });
    const reg = registry;
    const originOf = async (cameraId: string): Promise<{ node: string; epoch: number } | undefined> => {
      const raw = await reg.get(`vigil:origin:${cameraId}`).catch(() => null);
      return raw ? (JSON.parse(raw) as { node: string; epoch: number }) : undefined;
    };
    const spawnNode = (i: number): Promise<VigilProcess> => spawnVigil(paths[i]!, 60_000, { netns: n.hosts[i]!.name });
    nodes.push(await spawnNode(0));
    for (const c of cameras) await until(`${ids[0]} claiming ${String(c['id'])}`, async () => (await originOf(String(c['id'])))?.node === ids[0]);
    for (let i = 1; i < count; i++) nodes.push(await spawnNode(i));
    haproxy = await startHaproxy(
      n.hosts.map((h) => ({ host: h.ip, port: NODE_HTTP_PORT })),
      { perNode: true },
    );
    return {
      net: n,
      redis: r,
      haproxy,
      registry: reg,
      ids,
      nodes,
      originOf,
      async respawn(i) {
        const p = await spawnNode(i);
        nodes[i] = p;
        return p;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
