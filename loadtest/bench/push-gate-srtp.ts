/**
 * Benchmark (prints numbers, asserts nothing): what SRTP adds to the push
 * gate per packet in Node.js. Real packets: ffmpeg sends a 1280x720 25 fps
 * H.264 stream (~1 Mbps, 1200-byte RTP) as SRTP with a random key to a
 * local socket for 3 s; the captured packets are then authenticated and
 * decrypted by the gate's SrtpReceiver (node:crypto, OpenSSL) over and over,
 * a fresh receiver per pass (the replay window would refuse the second).
 *
 *   npm run bench:push-srtp [-- passes]
 *
 * For scale: the whole gate costs Node ~2 ms of CPU per second per 1 Mbps
 * camera (~155 packets/s, README "Ingest"), ~13 µs per packet.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { cpus, loadavg } from 'node:os';
import { SrtpReceiver, type SrtpCryptoSuite } from '@vigil/gateway/internals';

const passes = Number(process.argv[2] ?? 200);

async function capture(suite: SrtpCryptoSuite, keyBase64: string): Promise<Buffer[]> {
  const sock = createSocket('udp4');
  const packets: Buffer[] = [];
  sock.on('message', (m) => packets.push(Buffer.from(m)));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const port = sock.address().port;
  const ff = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-t', '3',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-b:v', '1M', '-bf', '0', '-g', '25', '-pix_fmt', 'yuv420p',
    '-an', '-payload_type', '96', '-ssrc', '4242', '-srtp_out_suite', suite, '-srtp_out_params', keyBase64,
    '-f', 'rtp', `srtp://127.0.0.1:${port}?rtcpport=${port + 1}&pkt_size=1200`,
  ], { stdio: 'ignore' });
  await new Promise((r) => ff.on('close', r));
  sock.close();
  return packets.filter((p) => p.length >= 12 && p[0]! >> 6 === 2 && p.readUInt32BE(8) === 4242);
}

console.log(`push gate SRTP cost, ${new Date().toISOString()}, ${cpus().length}x ${cpus()[0]?.model}, load ${loadavg()[0]!.toFixed(1)}, node ${process.version}`);
for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const) {
  const key = randomBytes(30);
  const packets = await capture(suite, key.toString('base64'));
  const bytes = packets.reduce((n, p) => n + p.length, 0);
  let ok = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < passes; i++) {
    const rx = new SrtpReceiver(suite, key);
    for (const p of packets) if (typeof rx.unprotectRtp(p) !== 'string') ok++;
  }
  const cpu = process.cpuUsage(t0);
  const n = packets.length * passes;
  const us = (cpu.user + cpu.system) / n;
  console.log(
    `${suite}: ${packets.length} packets (mean ${Math.round(bytes / packets.length)} bytes) x ${passes}: ${us.toFixed(2)} µs CPU per packet ` +
      `(${((us * 155) / 1000).toFixed(2)} ms/s for a 1 Mbps camera); authentic ${ok}/${n}`,
  );
}
