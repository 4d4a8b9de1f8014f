/**
 * The load-test tools work and count real traffic (briefly: a few seconds,
 * a few bots or users; the full runs are `npm run loadtest:*`):
 * - the Pion bots receive frames from a real Vigil (spawned process, real
 *   worker, RTP replayed by ffmpeg) and from a real Janus streaming plugin;
 * - Locust in distributed mode (a master, two workers) completes real joins
 *   and consumes against Vigil, and its thresholds fail a run that misses them;
 * - the ingest runner gets every camera live from one RTP replayer, and with
 *   `--source rtsp` from one real RTSP server through Vigil's own relays,
 *   whose CPU it reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFanout } from '../../loadtest/src/fanout.ts';
import { clip, startFeed } from '../../loadtest/src/feed.ts';
import { runLocust } from '../../loadtest/src/locust.ts';
import { ProcessSet } from '../../loadtest/src/processes.ts';
import { startVigilServer, type VigilServer } from '../../loadtest/src/vigil-server.ts';

const small = { width: 640, height: 360, fps: 30, gopFrames: 30, bitrate: 500_000 };

describe('media bots (Pion)', () => {
  for (const server of ['vigil', 'janus'] as const) {
    it(`receive frames from a real ${server} over ICE, DTLS and SRTP`, async () => {
      const { steps } = await runFanout({ server, stream: small, steps: [2, 3], windowSec: 3, rate: 10 });
      expect(steps.map((s) => s.bots)).toEqual([2, 3]);
      for (const s of steps) {
        expect(s.connected).toBe(s.bots);
        expect(s.failed).toBe(0);
        expect(s.botsWithFrames).toBe(s.bots);
        // ~30 fps from the source: frames counted from marker bits, keyframes from NAL types.
        expect(s.fpsPerBot).toBeGreaterThan(10);
        expect(s.keyframes).toBeGreaterThan(0);
        expect(s.bitrateBps).toBeGreaterThan(100_000);
        expect(s.packets).toBeGreaterThan(0);
        expect(s.lossPct).toBeLessThan(5);
        // The server's CPU was sampled over the same window.
        expect(s.serverCpuPct).toBeGreaterThan(0);
      }
      expect(steps[0]!.ttffMs.count).toBe(2);
    }, 90_000);
  }

  it('receive from Vigil across a veth pair (their own namespace, receive path on the other core), and the worker profile names the receive softirq', async () => {
    const profileFile = join(mkdtempSync(join(tmpdir(), 'vigil-lt-perf-')), 'worker.perf.data');
    const looped = await runFanout({ server: 'vigil', stream: small, steps: [3], windowSec: 4, rate: 10, serverCore: 0, otherCore: 1, profileFile });
    const apart = await runFanout({ server: 'vigil', stream: small, steps: [3], windowSec: 3, rate: 10, serverCore: 0, otherCore: 1, viewers: 'veth' });
    for (const s of [looped.steps[0]!, apart.steps[0]!]) {
      expect(s.connected).toBe(3);
      expect(s.botsWithFrames).toBe(3);
      expect(s.fpsPerBot).toBeGreaterThan(10);
      expect(s.serverCpuPct).toBeGreaterThan(0);
    }
    // perf sampled the worker during the measured window: its own code and,
    // over loopback, the bots' receive path run inside its sends.
    const profile = looped.profile!;
    expect(profile.top.length).toBeGreaterThan(0);
    expect(profile.byDso['mediasoup-worker']).toBeGreaterThan(0);
    expect(profile.byDso['[kernel.kallsyms]']).toBeGreaterThan(0);
    expect(profile.receiveSoftirqShare).toBeGreaterThan(0);
    expect(profile.receiveSoftirqShare).toBeLessThan(1);
  }, 120_000);
});

describe('signaling load (Locust, distributed)', () => {
  const procs = new ProcessSet();
  let vigil: VigilServer;
  const outDir = mkdtempSync(join(tmpdir(), 'vigil-locust-test-'));

  beforeAll(async () => {
    vigil = await startVigilServer(procs);
    startFeed(procs, clip(small), [{ port: vigil.rtpPort }]);
  });
  afterAll(() => procs.stopAll());

  it('a master and two workers record successful joins and consumes against a real Vigil', async () => {
    const r = await runLocust(procs, {
      url: vigil.url, secret: vigil.secret, camera: vigil.camera, joinRate: 4, holdSec: 1, seconds: 4, workers: 2, outDir, name: 'ok',
    });
    expect(r.workersConnected).toBe(2);
    expect(r.exitCode).toBe(0);
    for (const name of ['connect', 'join', 'getRouterRtpCapabilities', 'createRecvTransport', 'consume']) {
      const s = r.stats.get(name);
      expect(s, name).toBeDefined();
      expect(s!.requests - s!.failures, name).toBeGreaterThan(0);
      expect(s!.failures, name).toBe(0);
    }
    expect(r.stats.get('join')!.p95).toBeGreaterThan(0);
  }, 60_000);

  it('fails the run (exit code 1) when join p95 is over its threshold, though no request failed', async () => {
    const r = await runLocust(procs, {
      url: vigil.url, secret: vigil.secret, camera: vigil.camera, joinRate: 4, holdSec: 1, seconds: 3, workers: 0, outDir, name: 'slow',
      maxP95JoinMs: 0,
    });
    expect(r.stats.get('Aggregated')!.failures).toBe(0);
    expect(r.exitCode).toBe(1);
    expect(r.output).toMatch(/thresholds failed: join p95 \d+ ms > 0 ms/);
  }, 60_000);

  it('records refusals as failed requests and fails the run', async () => {
    // A wrong secret: every join is refused (`unauthorized`), so the fail ratio and "no successful join" trip.
    const r = await runLocust(procs, {
      url: vigil.url, secret: 'not-the-secret-0123456789-abcdefghijkl', camera: vigil.camera, joinRate: 4, holdSec: 1, seconds: 3, workers: 0, outDir, name: 'refused',
    });
    expect(r.exitCode).toBe(1);
    expect(r.output).toContain('thresholds failed');
    const join = r.stats.get('join')!;
    expect(join.requests).toBeGreaterThan(0);
    expect(join.failures).toBe(join.requests);
  }, 60_000);
});

describe('ingest load (npm run loadtest:ingest)', () => {
  /** Runs the CLI; returns its stdout and the cells of the table row for `cameras`. */
  async function ingest(args: string[], cameras: number): Promise<{ out: string; cells: string[] }> {
    const { execFile } = await import('node:child_process');
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['loadtest/src/ingest.ts', ...args], { timeout: 90_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    expect(out).toMatch(/^Machine: .+, \d+ cores; \d{4}-\d\d-\d\d .+ load average \d+\.\d at start\./m);
    const row = out.split('\n').find((l) => l.startsWith(`| ${cameras} |`));
    expect(row, out).toBeDefined();
    return { out, cells: row!.split('|').map((c) => c.trim()).filter(Boolean) };
  }

  it('prints a table whose cameras are live and whose worker CPU and packet rates come from real RTP', async () => {
    const { cells } = await ingest(['--steps', '3', '--window', '2'], 3);
    // | cameras | live | worker CPU % | ms/s per camera | Node.js CPU % | RTP packets/s per camera | loss % | per core |
    expect(cells[1]).toBe('3');
    // Worker CPU is sampled (/proc, 10 ms ticks): a handful of ticks for 3 cameras over 2 s, maybe none.
    expect(Number(cells[2])).toBeGreaterThanOrEqual(0);
    // The 1 Mbps clip is ~150 RTP packets/s: every camera got the replayed stream.
    expect(Number(cells[5])).toBeGreaterThan(50);
  }, 90_000);

  it('--source rtsp: Vigil\'s own relays pull every camera from one RTSP server, and their CPU is charged to the ingest', async () => {
    const { out, cells } = await ingest(['--source', 'rtsp', '--steps', '2', '--window', '3'], 2);
    expect(out).toContain('RTSP cameras (relays) per core');
    // | cameras | live | relays | worker % | relays % | Node.js % | worker, relay, Node.js ms/s per camera | RTP packets/s per camera | loss % | RTSP server % | per core |
    expect(cells).toHaveLength(13);
    expect(cells[1]).toBe('2'); // live
    expect(cells[2]).toBe('2'); // one relay process per camera, found under Vigil's Node.js process
    // A copy relay of a 1 Mbps camera costs ~0.5-2 % of a core: tens of ticks for two over 3 s, never none.
    expect(Number(cells[4])).toBeGreaterThan(0);
    expect(Number(cells[7])).toBeGreaterThan(0);
    expect(Number(cells[3])).toBeGreaterThanOrEqual(0);
    // The relayed clip reached each camera's producer (~150 RTP packets/s at 1 Mbps).
    expect(Number(cells[9])).toBeGreaterThan(50);
    expect(Number(cells[10])).toBeGreaterThanOrEqual(0);
    // The RTSP server did the sending (its own CPU, sampled over the same window).
    expect(Number(cells[11])).toBeGreaterThan(0);
  }, 120_000);
});

describe('interrupting a run (Ctrl-C)', () => {
  it('two SIGINTs in a row (a terminal reaches npm and the runner) still stop every process and delete the namespace, veth link and generated config', async () => {
    const { spawn, execFileSync } = await import('node:child_process');
    const { readdirSync } = await import('node:fs');
    const netnsNow = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter(Boolean).map((l) => l.split(' ')[0]!);
    const configsNow = (): string[] => readdirSync(tmpdir()).filter((f) => f.startsWith('vigil-loadtest-'));
    const netnsBefore = new Set(netnsNow());
    const configsBefore = new Set(configsNow());
    const runner = spawn(process.execPath, ['loadtest/src/media.ts', '--viewers', 'veth', '--steps', '2', '--window', '30', '--mbps', '0.5'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    runner.stderr!.on('data', (d) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => runner.once('exit', (code) => resolve(code)));
    // Wait until the bots are measuring: Vigil, its worker, the bots and the namespace exist.
    const deadline = Date.now() + 60_000;
    while (!/2 viewers|steps 2/.test(stderr) || !netnsNow().some((n) => n.startsWith(`vigil-lt-${runner.pid}-`))) {
      if (Date.now() > deadline) throw new Error(`run did not start:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 3000));
    const ours = netnsNow().filter((n) => !netnsBefore.has(n));
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(runner.pid)], { encoding: 'utf8' }).split('\n').map((s) => Number(s.trim())).filter(Boolean);
    expect(ours.length).toBeGreaterThan(0);
    expect(children.length).toBeGreaterThan(0);
    runner.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 30));
    runner.kill('SIGINT');
    expect(await exited).toBe(130);
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(children.filter(alive)).toEqual([]);
    expect(netnsNow().filter((n) => ours.includes(n))).toEqual([]);
    expect(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })).not.toMatch(new RegExp(`vls[0-9a-f]{6}.*${ours[0]}`));
    expect(configsNow().filter((f) => !configsBefore.has(f))).toEqual([]);
  }, 120_000);
});
