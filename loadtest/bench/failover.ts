/**
 * Cluster benchmark (`npm run bench:failover`), two parts:
 *
 * 1. Failover time: a three-node cluster (test/helpers/cluster.ts: Vigil
 *    processes in network namespaces on a bridge, real Redis, haproxy with a
 *    frontend per node) with one test-pattern camera (1 s GOP) and one
 *    Chromium viewer per frontend. `--kills` times (default 10): kill -9 the
 *    camera's origin, then for every viewer the time from the kill to the
 *    first frame presented after the outage (page wall clock); viewers on
 *    surviving nodes (re-subscribed) and viewers of the killed node
 *    (reconnected through haproxy) are reported apart; the killed node is
 *    started again before the next kill. Needs root (namespaces) and haproxy.
 * 2. Pipe cost: two nodes in this process (ClusterMedia, real Redis), `--cameras`
 *    test-pattern cameras (320x240, 15 fps, 1 s GOP, 300 kbps VP8) ingested on the
 *    origin; worker CPU of both nodes and bytes over the pipes for
 *    `--seconds` without pipes, then with the edge pulling every camera.
 *
 * Prints the machine and the date, each sample, then p50/p95 and a markdown table.
 */
import { availableParallelism, cpus, loadavg, release } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { Page } from 'playwright-core';
import { ClusterMedia, type MediaJson } from '@vigil/gateway';
import { parseConfig, signViewerToken } from '@vigil/server';
import { launchChromium } from '../../test/helpers/browser.ts';
import { startCluster, until } from '../../test/helpers/cluster.ts';
import { clusterClients, type TestClusterClients } from '../../test/helpers/cluster-clients.ts';
import { consumerOf, framesBackAt, recordFrames } from '../../test/helpers/frame-clock.ts';
import { haproxyUnavailable } from '../../test/helpers/haproxy.ts';
import { netnsUnavailable } from '../../test/helpers/netns.ts';
import { startRedis } from '../../test/helpers/redis.ts';
import { play, probe, sdkPage } from '../../test/helpers/sdk-page.ts';
import { TEST_SECRET, testConfig } from '../../test/helpers/vigil.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '10' },
    cameras: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '10' },
    only: { type: 'string' },
  },
});
const kills = Math.max(1, Math.min(50, Number(values.kills)));
const cameraCount = Math.max(1, Math.min(16, Number(values.cameras)));
const seconds = Math.max(2, Math.min(60, Number(values.seconds)));

const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} CPUs, Linux ${release()}`;
console.log(`cluster benchmark ${new Date().toISOString()}: ${machine}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};

async function failover(): Promise<void> {
  const skip = netnsUnavailable() ?? haproxyUnavailable();
  if (skip) {
    console.log(`failover: skipped (${skip})`);
    return;
  }
  const camera = 'bench/gate';
  console.log(`failover: 3 nodes (1 worker each, heartbeat 1000 ms, node timeout 3000 ms), VP8 320x180 15 fps 1 s GOP, 3 Chromium viewers (one per haproxy frontend), ${kills} kills`);
  const cluster = await startCluster(
    [{ id: camera, codec: 'VP8', source: { kind: 'test-pattern', width: 320, height: 180, fps: 15, gopFrames: 15, bitrate: 200_000 } }],
    { heartbeatMs: 1000, nodeTimeoutMs: 3000 },
  );
  const browser = await launchChromium();
  const surviving: number[] = [];
  const reconnected: number[] = [];
  try {
    const token = signViewerToken(TEST_SECRET, { subject: 'bench', cameras: ['bench/*'], ttlSec: 3600 }, { issuer: 'vigil', audience: 'vigil-viewer' });
    const pages: Page[] = [];
    for (const url of cluster.haproxy.urls) {
      const page = await sdkPage(browser, url);
      await play(page, 'gate', camera, token);
      await until('frames', async () => (await probe(page, 'gate')).framesDecoded > 10, 20_000);
      await recordFrames(page, 'gate');
      await page.evaluate(() => {
        const w = window as unknown as Record<string, any>;
        w.reconnectedAt = [] as number[];
        w.client.on('state', (s: string) => s === 'reconnecting' && w.reconnectedAt.push(Date.now()));
      });
      pages.push(page);
    }
    for (let k = 0; k < kills; k++) {
      const origin = (await cluster.originOf(camera))!;
      const i = cluster.ids.indexOf(origin.node);
      const consumers = await Promise.all(pages.map((p) => consumerOf(p)));
      const killedAt = Date.now();
      cluster.nodes[i]!.child.kill('SIGKILL');
      await cluster.nodes[i]!.exited;
      const line: string[] = [];
      for (const [j, page] of pages.entries()) {
        const at = await until('frames again', () => framesBackAt(page, killedAt, consumers[j]), 30_000).catch(() => undefined);
        const rec = await page.evaluate((t) => ((window as unknown as Record<string, any>).reconnectedAt as number[]).some((r) => r >= t), killedAt);
        if (at === undefined) {
          line.push(`viewer ${j}: no frames in 30 s`);
          continue;
        }
        (rec ? reconnected : surviving).push(at - killedAt);
        line.push(`viewer ${j} ${rec ? 'reconnected' : 'surviving'} ${at - killedAt} ms`);
      }
      const moved = await cluster.originOf(camera);
      console.log(`kill ${k + 1}: origin ${origin.node} -> ${moved?.node}; ${line.join('; ')}`);
      await cluster.respawn(i);
      await until('the node registered again', async () => (await cluster.registry.exists(`vigil:node:${cluster.ids[i]}`)) === 1);
      await new Promise((r) => setTimeout(r, 1500));
    }
  } finally {
    await browser.close().catch(() => undefined);
    await cluster.close();
  }
  const row = (name: string, xs: number[]): string =>
    `| ${name} | ${xs.length} | ${xs.length ? pct(xs, 50) : '-'} | ${xs.length ? pct(xs, 95) : '-'} | ${xs.length ? Math.max(...xs) : '-'} |`;
  console.log('\n| kill -9 of the origin -> frames again | samples | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|');
  console.log(row('viewer on a surviving node (re-subscribed)', surviving));
  console.log(row('viewer of the killed node (reconnected through haproxy)', reconnected));
}

async function pipeCost(): Promise<void> {
  const redis = await startRedis();
  const logger = pino({ level: 'warn' });
  const cameras = Array.from({ length: cameraCount }, (_, i) => ({
    id: `bench/c${i}`,
    codec: 'VP8',
    source: { kind: 'test-pattern', width: 320, height: 240, fps: 15, gopFrames: 15, bitrate: 300_000 },
  }));
  const conns: TestClusterClients[] = [];
  const nodes: ClusterMedia[] = [];
  const start = async (id: string, port: number): Promise<ClusterMedia> => {
    const c = clusterClients(redis.url);
    conns.push(c);
    await until('redis', () => c.up);
    const media = await ClusterMedia.start({
      config: parseConfig(testConfig({ cameras, webrtc: { listenIp: '127.0.0.1', port } })),
      logger,
      redis: c,
      cluster: { nodeId: id, announcedAddress: '127.0.0.1', heartbeatMs: 1000, nodeTimeoutMs: 3000, pipe: { listenIp: '127.0.0.1', portMin: 53000, portMax: 53999, requestTimeoutMs: 2000 } },
    });
    nodes.push(media);
    return media;
  };
  try {
    console.log(`\npipe cost: ${cameraCount} cameras VP8 320x240 15 fps 300 kbps on the origin, ${seconds} s per phase, 1 worker per node, SRTP pipes on 127.0.0.1`);
    const origin = await start('origin', 0);
    for (const c of cameras) await until('ingest', () => origin.camera(c.id)?.state === 'live' && origin.originOf(c.id)?.node === 'origin', 20_000);
    const edge = await start('edge', 0);
    for (const c of cameras) await until('edge sees origin', () => edge.originOf(c.id)?.node === 'origin' && edge.camera(c.id)?.state === 'live', 20_000);
    const cpuMs = async (m: ClusterMedia): Promise<number> => {
      const c = await m.workerCpu(1000);
      let s = 0;
      for (const v of c.values()) s += (v.user + v.system) * 1000;
      return s;
    };
    const phase = async (): Promise<{ origin: number; edge: number; bytes: number }> => {
      const [o0, e0, b0] = [await cpuMs(origin), await cpuMs(edge), (await edge.pipeStats()).pulled.reduce((n, p) => n + p.bytesReceived, 0)];
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const el = (Date.now() - t0) / 1000;
      const [o1, e1, b1] = [await cpuMs(origin), await cpuMs(edge), (await edge.pipeStats()).pulled.reduce((n, p) => n + p.bytesReceived, 0)];
      return { origin: (o1 - o0) / el / 10, edge: (e1 - e0) / el / 10, bytes: (b1 - b0) / el };
    };
    const idle = await phase();
    console.log(`without pipes: origin worker ${idle.origin.toFixed(2)} % of a core, edge worker ${idle.edge.toFixed(2)} %`);
    const caps = (await edge.routerRtpCapabilities()) as MediaJson;
    const t = await edge.createViewerTransport({ owner: 'bench' });
    for (const c of cameras) await t.consume({ cameraId: c.id, quality: 'high', rtpCapabilities: caps });
    // A pipe forwards video from the next keyframe on (mediasoup PipeConsumer syncs on a keyframe).
    await until('media over every pipe', async () => (await edge.pipeStats()).pulled.every((p) => p.bytesReceived > 0), 30_000);
    const piped = await phase();
    console.log(`with ${edge.pipes.pulled} pipes: origin worker ${piped.origin.toFixed(2)} %, edge worker ${piped.edge.toFixed(2)} %, ${(piped.bytes * 8 / 1000).toFixed(0)} kbit/s over the pipes`);
    const ingest = await Promise.all(cameras.map((c) => origin.ingestStats(c.id, { maxAgeMs: 2000, timeoutMs: 1000 })));
    const ingestBps = ingest.reduce((n, s) => n + (s?.bitrateBps ?? 0), 0);
    // Per Mbit/s piped too: the cameras' real bitrate depends on how much CPU their encoders got.
    const mbps = (piped.bytes * 8) / 1e6;
    const per = (x: number): string => (mbps > 0 ? (x / mbps).toFixed(2) : '-');
    console.log(
      '\n| pipe cost | origin worker (% of a core) | edge worker (% of a core) | bytes/s over the pipe | camera ingest bytes/s |\n|---|---|---|---|---|',
    );
    console.log(
      `| per camera (VP8 320x240 15 fps, SRTP) | ${((piped.origin - idle.origin) / cameraCount).toFixed(2)} | ${((piped.edge - idle.edge) / cameraCount).toFixed(2)} | ${(piped.bytes / cameraCount).toFixed(0)} | ${(ingestBps / 8 / cameraCount).toFixed(0)} |`,
    );
    console.log(`| per Mbit/s piped | ${per(piped.origin - idle.origin)} | ${per(piped.edge - idle.edge)} | 125000 | - |`);
    t.close();
  } finally {
    for (const n of nodes) await n.close().catch(() => undefined);
    for (const c of conns) await c.close();
    await redis.stop();
  }
}

if (values.only !== 'pipe') await failover();
if (values.only !== 'failover') await pipeCost();
process.exit(0);
