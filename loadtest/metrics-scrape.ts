/**
 * Benchmark: the cost of one /metrics scrape at surveillance scale.
 *
 * Starts a real Vigil (mediasoup workers) with N rtp-push cameras (no sender,
 * so no media flows; every camera still has a producer whose stats are asked
 * for), scrapes /metrics a few times and prints: series count, exposition
 * size, scrape time, and how many cameras' stats were deferred by the budget.
 *
 *   sh scripts/run.sh node loadtest/metrics-scrape.ts [cameras=3700] [workers=2]
 *
 * Numbers go to stdout; nothing is asserted.
 */
import { pino } from 'pino';
import { parseConfig, startVigil } from '@vigil/server';

const cameras = Number(process.argv[2] ?? 3700);
const workers = Number(process.argv[3] ?? 2);

const config = parseConfig({
  http: { host: '127.0.0.1', port: 0 },
  webrtc: { listenIp: '127.0.0.1', port: 0 },
  workers: { count: workers, rtcMinPort: 41000, rtcMaxPort: 59999 },
  auth: { secret: 'bench-secret-0123456789-abcdefghijklmnop' },
  demo: { enabled: false },
  audit: { path: ':memory:' },
  metrics: { fpsSampleCameras: 0 },
  cameras: Array.from({ length: cameras }, (_, i) => ({
    id: `site-${Math.floor(i / 100)}/cam-${i}`,
    codec: 'H264',
    source: { kind: 'rtp-push', port: 0, ssrc: 1000 + i, payloadType: 96 },
  })),
});
const t0 = performance.now();
const vigil = await startVigil(config, pino({ level: 'error' }));
console.log(`started ${vigil.media.cameras().length} cameras on ${workers} workers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
for (let i = 0; i < 5; i++) {
  const s = performance.now();
  const text = await (await fetch(`${vigil.url}/metrics`)).text();
  const ms = performance.now() - s;
  const series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
  const vigilSeries = text.split('\n').filter((l) => l.startsWith('vigil_')).length;
  const deferred = /^vigil_metrics_camera_stats_deferred (\S+)/m.exec(text)?.[1];
  const collect = Number(/^vigil_metrics_collect_seconds (\S+)/m.exec(text)?.[1] ?? NaN) * 1000;
  console.log(
    `scrape ${i + 1}: ${ms.toFixed(0)} ms, ${series} series (${vigilSeries} vigil_*), ${(text.length / 1024).toFixed(0)} KiB, ` +
      `snapshot ${collect.toFixed(0)} ms, stats deferred ${deferred}`,
  );
}
await vigil.close();
