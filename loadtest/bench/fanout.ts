/**
 * Fan-out benchmark: consumers per mediasoup worker and the CPU they cost.
 *
 * One worker, one 1280x720 30 fps H.264 test-pattern camera (~1.5 Mbps), and
 * N media bots. A bot is a consumer on its own SRTP PlainTransport
 * (AES_CM_128_HMAC_SHA1_80) sending to a UDP socket in this process, so the
 * worker does the same per-viewer work as for a browser (RTP rewrite, SRTP
 * protect, send) minus ICE/DTLS keepalives. Worker CPU comes from
 * `worker.getResourceUsage()` (getrusage: ru_utime + ru_stime) over a fixed
 * window; bots' received packets are counted to check delivery.
 *
 * Usage: npm run bench:fanout [-- --steps 50,100,200,400 --seconds 10]
 * Bounded: at most 2000 bots per step, at most 60 s per step.
 */
import { createSocket, type Socket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Gateway } from '@vigil/gateway/internals';
import { parseConfig } from '@vigil/server';
import type { types } from 'mediasoup';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '50,100,200,400' }, seconds: { type: 'string', default: '10' } } });
const steps = values.steps.split(',').map(Number).filter((n) => n > 0 && n <= 2000);
const seconds = Math.min(60, Math.max(2, Number(values.seconds)));

const config = parseConfig({
  workers: { count: 1 },
  webrtc: { port: 0 },
  cameras: [{ id: 'bench', codec: 'H264', source: { kind: 'test-pattern', width: 1280, height: 720, fps: 30, gopFrames: 30, bitrate: 1_500_000 } }],
});
const gateway = await Gateway.start({ config, logger: pino({ level: 'warn' }) });
const camera = gateway.camera('bench')!;
const slot = gateway.workers.slots[0]!;
const router = slot.router;

for (let i = 0; i < 100 && camera.state !== 'live'; i++) await new Promise((r) => setTimeout(r, 100));
if (camera.state !== 'live') throw new Error('camera did not go live');

interface Bot { transport: types.PlainTransport; socket: Socket; packets: number }
const bots: Bot[] = [];

async function addBot(): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const bot: Bot = { transport: undefined as unknown as types.PlainTransport, socket, packets: 0 };
  // Count RTP only: RTCP packet types 200-204 share the port (rtcp-mux, RFC 5761 §4).
  socket.on('message', (msg) => {
    if (msg.length > 1 && (msg[1]! < 200 || msg[1]! > 204)) bot.packets++;
  });
  const transport = await router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
    rtcpMux: true,
    comedia: false,
    enableSrtp: true,
    srtpCryptoSuite: 'AES_CM_128_HMAC_SHA1_80',
  });
  // The bot never decrypts; the key only has to be well-formed for connect().
  await transport.connect({ ip: '127.0.0.1', port: socket.address().port, srtpParameters: transport.srtpParameters! });
  const consumer = await transport.consume({ producerId: camera.producer.id, rtpCapabilities: router.rtpCapabilities, paused: false });
  await consumer.requestKeyFrame();
  bot.transport = transport;
  bots.push(bot);
}

async function cpuMs(): Promise<number> {
  const ru = await slot.worker.getResourceUsage();
  return ru.ru_utime + ru.ru_stime;
}

const rows: string[] = [];
console.log(`fan-out benchmark: 1 worker, 1 camera 1280x720 30 fps H.264 ~1.5 Mbps, SRTP PlainTransport bots, ${seconds} s per step`);
for (const target of steps) {
  while (bots.length < target) await addBot();
  await new Promise((r) => setTimeout(r, 1000)); // settle
  for (const b of bots) b.packets = 0;
  const c0 = await cpuMs();
  const t0 = Date.now();
  const ingest0 = (await camera.producer.getStats())[0]?.packetCount ?? 0;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = Date.now() - t0;
  const cpu = (await cpuMs()) - c0;
  const ingested = ((await camera.producer.getStats())[0]?.packetCount ?? 0) - ingest0;
  const received = bots.reduce((n, b) => n + b.packets, 0);
  const egressBytes = (await Promise.all(bots.map((b) => b.transport.getStats()))).reduce((n, [s]) => n + (s?.sendBitrate ?? 0), 0);
  const cpuPct = (100 * cpu) / elapsed;
  const delivered = (100 * received) / Math.max(1, ingested * bots.length);
  const row = `${String(bots.length).padStart(5)} consumers | worker CPU ${cpuPct.toFixed(1).padStart(5)} % of a core | ${((cpuPct * 10) / bots.length).toFixed(2).padStart(5)} ms CPU/s per consumer | egress ${(egressBytes / 1e6).toFixed(0).padStart(4)} Mbps | delivered ${delivered.toFixed(1)} %`;
  rows.push(row);
  console.log(row);
}
const per = rows.length ? rows[rows.length - 1] : '';
console.log(per ? `\nsummary (largest step): ${per.trim()}` : '');
for (const b of bots) b.socket.close();
await gateway.close();
process.exit(0);
