/**
 * A Vigil cluster with real parts: three Vigil processes, each in its own
 * network namespace with its own address on a bridge, a real redis-server on
 * the host's bridge address, Debian's haproxy in front of the nodes' HTTP and
 * WebSocket ports, a viewer in headless Chromium going through haproxy.
 *
 * Covers: a viewer on node B plays a camera ingested on node A (piped over
 * SRTP); kill -9 of the origin, with the recovery of that viewer measured
 * (printed; the p95 target is the failover benchmark's); a Redis restart
 * (nodes keep serving, the registry catches up). Skipped, saying why, without
 * root or haproxy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { signViewerToken } from '@vigil/server';
import { launchChromium } from '../helpers/browser.ts';
import { startCluster, until, type TestCluster } from '../helpers/cluster.ts';
import { consumerOf, framesBackAt, recordFrames } from '../helpers/frame-clock.ts';
import { netnsUnavailable } from '../helpers/netns.ts';
import { haproxyUnavailable } from '../helpers/haproxy.ts';
import { play, probe, sdkPage } from '../helpers/sdk-page.ts';
import { TEST_SECRET } from '../helpers/vigil.ts';

const CAMERA = 'cl/gate';
const skip = netnsUnavailable() ?? haproxyUnavailable();
const token = (subject: string): string =>
  signViewerToken(TEST_SECRET, { subject, cameras: ['cl/*'], ttlSec: 600 }, { issuer: 'vigil', audience: 'vigil-viewer' });

describe.skipIf(skip !== undefined)(`cluster of three nodes behind haproxy${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let cluster: TestCluster;
  let browser: Browser;
  let page: Page;
  const originOf = () => cluster.originOf(CAMERA);

  beforeAll(async () => {
    cluster = await startCluster([
      { id: CAMERA, codec: 'VP8', source: { kind: 'test-pattern', width: 320, height: 180, fps: 15, gopFrames: 15, bitrate: 200_000 } },
    ]);
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await cluster?.close();
  }, 60_000);

  it('plays on node B (through haproxy) a camera ingested on node A, piped once', async () => {
    page = await sdkPage(browser, cluster.haproxy.urls[1]!);
    await play(page, 'gate', CAMERA, token('wall-1'));
    const p = await until('frames on node B', async () => {
      const s = await probe(page, 'gate');
      return s.framesDecoded > 15 && s;
    });
    expect(p.videoWidth).toBe(320);
    const [a, b] = cluster.nodes as [VigilProcessLike, VigilProcessLike];
    expect(b.logs().some((l) => l['msg'] === 'consumer created')).toBe(true);
    expect(a.logs().some((l) => l['msg'] === 'consumer created')).toBe(false);
    expect(b.logs().some((l) => l['msg'] === 'pipe from origin open' && l['originNode'] === 'node-a')).toBe(true);
    expect(a.logs().filter((l) => l['msg'] === 'pipe to edge open' && l['edgeNode'] === 'node-b')).toHaveLength(1);
    expect((await originOf())?.node).toBe('node-a');
  }, 60_000);

  it('kill -9 of the origin: the camera moves, and the viewer on node B plays again without reloading', async () => {
    await recordFrames(page, 'gate');
    // Not reloaded: this mark survives only in the same page.
    await page.evaluate(() => ((window as unknown as { mark: number }).mark = 7));
    const before = (await originOf())!;
    const consumer = await consumerOf(page);
    const killedAt = Date.now();
    cluster.nodes[0]!.child.kill('SIGKILL');
    await cluster.nodes[0]!.exited;
    const moved = await until('the camera claimed by a live node', async () => {
      const o = await originOf();
      return o && o.node !== 'node-a' && o;
    });
    expect(moved.epoch).toBeGreaterThan(before.epoch);
    const again = await until('frames again on node B', () => framesBackAt(page, killedAt, consumer), 20_000);
    console.log(`[cluster] kill -9 of the origin -> frames again on node B after ${again - killedAt} ms (new origin ${moved.node})`);
    expect(await page.evaluate(() => (window as unknown as { mark?: number }).mark)).toBe(7);
    const p = await probe(page, 'gate');
    expect(p.state).toBe('playing');
    await until('frames keep coming', async () => (await probe(page, 'gate')).framesDecoded > p.framesDecoded + 10);
  }, 60_000);

  it('Redis restart: nodes keep serving, and the registry catches up when it returns', async () => {
    const origin = (await originOf())!;
    cluster.redis.kill();
    const s0 = await probe(page, 'gate');
    await new Promise((r) => setTimeout(r, 2000));
    const s1 = await probe(page, 'gate');
    expect(s1.framesDecoded).toBeGreaterThan(s0.framesDecoded + 10);
    expect(s1.state).toBe('playing');
    await cluster.redis.start();
    await until('both live nodes back in the registry', async () => {
      const keys = await cluster.registry.keys('vigil:node:*').catch(() => [] as string[]);
      return keys.includes('vigil:node:node-b') && keys.includes('vigil:node:node-c') && !keys.includes('vigil:node:node-a');
    });
    // The assignment survived (AOF) and nobody re-assigned the camera.
    expect(await originOf()).toEqual(origin);
    // A new viewer through node C's frontend needs the registry again.
    const page2 = await sdkPage(browser, cluster.haproxy.urls[2]!);
    await play(page2, 'gate', CAMERA, token('wall-2'));
    await until('frames on node C after Redis returned', async () => (await probe(page2, 'gate')).framesDecoded > 10, 20_000);
    expect(cluster.nodes[1]!.child.exitCode).toBeNull();
    expect(cluster.nodes[2]!.child.exitCode).toBeNull();
  }, 60_000);
});

type VigilProcessLike = TestCluster['nodes'][number];
