/**
 * Benchmark (prints numbers, asserts nothing): Redis traffic of a Vigil
 * cluster's shared control state, per node and per join, from Redis's own
 * counters (`INFO commandstats`, `INFO cpu`, CONFIG RESETSTAT before each
 * window).
 *
 *   npm run bench:cluster-redis -- [--nodes 3] [--rates 10,100,300] [--seconds 10] [--hold 5]
 *
 * A real redis-server (AOF on, as deployed); `--nodes` simulated nodes in
 * this process, each with its own Redis connections and the real access
 * control of a clustered Vigil (AccessControl with the Redis deny list, rate
 * limits and stream quota of server/src/cluster/, heartbeat 1 s). A "join" is
 * what one viewer's session asks of access control: the token (two buckets:
 * per address, per subject), one consume (two buckets), one new viewing (one
 * bucket) and one stream slot, released `--hold` s later. Joins are spread
 * evenly over the nodes at `--rates` joins/s for the whole cluster, each
 * from its own subject and address (the worst case: no key is shared).
 * After a warm-up of `--hold` s (so releases run at the join rate), a window
 * of `--seconds`.
 */
import { parseArgs } from 'node:util';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Redis } from 'ioredis';
import { signViewerToken } from '@vigil/server';
import { AccessControl } from '../../server/src/auth/access-control.ts';
import { TokenVerifier } from '../../server/src/auth/tokens.ts';
import { StaticKeySource } from '../../server/src/auth/keys.ts';
import { DenyList } from '../../server/src/auth/deny-list.ts';
import { parseConfig } from '../../server/src/config/load.ts';
import { connectClusterRedis, waitForRedis, type ClusterRedis } from '../../server/src/cluster/redis.ts';
import { RedisDenyList } from '../../server/src/cluster/redis-deny-list.ts';
import { clusterLimits, type ClusterLimits } from '../../server/src/cluster/shared-limits.ts';
import { startRedis } from '../../test/helpers/redis.ts';
import { fixed, machineLine, markdownTable } from '../src/machine.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    rates: { type: 'string', default: '10,100,300' },
    seconds: { type: 'string', default: '10' },
    hold: { type: 'string', default: '5' },
  },
});
const nodeCount = Number(values.nodes);
const rates = values.rates.split(',').map(Number);
const windowSec = Number(values.seconds);
const holdSec = Number(values.hold);
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const quiet = pino({ level: 'silent' });
const machine = machineLine();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const redis = await startRedis();
const probe = new Redis(redis.url);
const config = parseConfig({ auth: { secret: SECRET }, demo: { enabled: false } });
const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-redis-'));

interface Node {
  redis: ClusterRedis;
  access: AccessControl;
  limits: ClusterLimits;
}
const nodes: Node[] = [];
for (let i = 0; i < nodeCount; i++) {
  const conn = connectClusterRedis(redis.url, quiet);
  await waitForRedis(conn, 5000);
  const denyList = await DenyList.open(join(dir, `deny-${i}.json`), quiet);
  await RedisDenyList.start(conn, denyList, quiet);
  const limits = clusterLimits(conn, { nodeId: `node-${i}`, heartbeatMs: 1000, nodeTimeoutMs: 3000 }, quiet);
  const verifier = new TokenVerifier({
    algorithm: 'HS256',
    keys: new StaticKeySource('HS256', SECRET),
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    clockToleranceSec: 1,
    maxTokenLifetimeSec: 3600,
    groups: {},
  });
  nodes.push({ redis: conn, limits, access: new AccessControl({ verifier, denyList, rateLimits: config.rateLimits, shared: limits }) });
}

/** Redis's own counters: calls per command, and CPU seconds (user + sys). */
async function redisStats(): Promise<{ calls: Map<string, number>; cpuSec: number }> {
  const calls = new Map<string, number>();
  for (const line of (await probe.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) calls.set(m[1]!, Number(m[2]));
  }
  const cpu = await probe.info('cpu');
  const num = (k: string): number => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  return { calls, cpuSec: num('used_cpu_user') + num('used_cpu_sys') };
}

let seq = 0;
const pending = new Set<Promise<void>>();

/** One viewer's join + consume + viewing + stream slot, released after holdSec; resolves with the access-control time, ms. */
async function oneJoin(node: Node): Promise<number> {
  const n = seq++;
  const subject = `bench-${n}`;
  const address = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  const token = signViewerToken(SECRET, { subject, cameras: ['**'], ttlSec: 600 }, { issuer: config.auth.issuer, audience: config.auth.audience });
  const t0 = performance.now();
  const grant = await node.access.admitToken(token, address);
  await node.access.admitConsume(address, subject);
  await node.access.admitViewing(subject);
  const release = await node.access.acquireStream(grant);
  const ms = performance.now() - t0;
  const held = sleep(holdSec * 1000).then(release);
  pending.add(held);
  void held.then(() => pending.delete(held));
  return ms;
}

const rows: (string | number)[][] = [];
const perCommand: string[] = [];
for (const rate of rates) {
  const latencies: number[] = [];
  let inWindow = false;
  let stop = false;
  const interval = 1000 / rate;
  const driver = (async () => {
    const start = performance.now();
    for (let i = 0; !stop; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const node = nodes[i % nodes.length]!;
      const measured = inWindow;
      void oneJoin(node).then((ms) => {
        if (measured) latencies.push(ms);
      });
    }
  })();
  await sleep(holdSec * 1000);
  await probe.config('RESETSTAT');
  const before = await redisStats();
  const joinsBefore = seq;
  inWindow = true;
  const t0 = performance.now();
  await sleep(windowSec * 1000);
  inWindow = false;
  const after = await redisStats();
  const elapsed = (performance.now() - t0) / 1000;
  const joins = seq - joinsBefore;
  stop = true;
  await driver;
  let total = 0;
  let roundTrips = 0;
  const breakdown: string[] = [];
  for (const [cmd, calls] of after.calls) {
    if (['config', 'info'].includes(cmd)) continue;
    const d = calls - (before.calls.get(cmd) ?? 0);
    if (d <= 0) continue;
    total += d;
    // What the nodes send: scripts (EVALSHA, EVAL the first time) and MULTI/EXEC blocks (resync, revocations);
    // every other command here runs inside them. (No catch-up or resync runs during a window.)
    if (['evalsha', 'eval', 'exec'].includes(cmd)) roundTrips += d;
    breakdown.push(`${cmd} ${fixed(d / elapsed, 0)}/s`);
  }
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  const achieved = joins / elapsed;
  rows.push([
    rate,
    fixed(achieved, 0),
    fixed(roundTrips / elapsed, 0),
    fixed(roundTrips / elapsed / nodeCount, 0),
    fixed(achieved > 0 ? roundTrips / elapsed / achieved : NaN, 1),
    fixed(total / elapsed, 0),
    fixed(((after.cpuSec - before.cpuSec) / elapsed) * 100, 1),
    `${fixed(q(0.5), 2)} / ${fixed(q(0.99), 2)}`,
  ]);
  perCommand.push(`- ${rate} joins/s: ${breakdown.join(', ')}`);
}

// Idle: heartbeats only (no joins, nothing held).
await Promise.all(pending);
await sleep(1000);
await probe.config('RESETSTAT');
const idleBefore = await redisStats();
await sleep(5000);
const idleAfter = await redisStats();
let idle = 0;
for (const [cmd, calls] of idleAfter.calls) if (cmd === 'evalsha') idle += calls - (idleBefore.calls.get(cmd) ?? 0);

console.log(`\n${machine}\n`);
console.log(
  markdownTable(
    [
      'joins/s offered (cluster)',
      'joins/s done',
      'Redis round trips/s (cluster)',
      'round trips/s per node',
      'round trips per join',
      'Redis commands/s incl. inside scripts',
      'Redis CPU % of a core',
      'access-control time per join p50 / p99 ms',
    ],
    rows,
  ),
);
console.log(
  `\n${nodeCount} nodes in one process, each with its own connections; each join from a new subject and address; slots held ${holdSec} s; ${windowSec} s window after a ${holdSec} s warm-up. Idle (heartbeats only): ${fixed(idle / 5 / nodeCount, 2)} round trips/s per node.`,
);
console.log(`\nPer command (Redis commandstats):\n${perCommand.join('\n')}`);

for (const n of nodes) {
  await n.limits.close();
  await n.redis.close();
}
probe.disconnect();
await redis.stop();
process.exit(0);
