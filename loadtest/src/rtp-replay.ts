/**
 * Many cameras from one process: records a few seconds of one RTP stream
 * (ffmpeg replaying a clip, see ./feed.ts) and then replays it in a loop, in
 * real time, to every given port, as if each were its own camera. Loop
 * boundaries stay continuous: sequence numbers and timestamps (RFC 3550 §5.1)
 * carry on across loops. Runs until killed; prints `ready` once recorded.
 *
 *   node loadtest/src/rtp-replay.ts --clip <file.ts> --ports 5004,5006 [--record-seconds 4]
 *
 * Sends only to 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { FEED_PAYLOAD_TYPE, FEED_SSRC } from './feed.ts';

const { values } = parseArgs({ options: { clip: { type: 'string' }, ports: { type: 'string' }, 'record-seconds': { type: 'string', default: '4' } } });
if (!values.clip || !values.ports) throw new Error('--clip and --ports are required');
const ports = values.ports.split(',').map(Number);
const recordMs = Math.min(30, Math.max(1, Number(values['record-seconds']))) * 1000;

const socket = createSocket('udp4');
await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
const recvPort = socket.address().port;
const packets: { t: number; data: Buffer }[] = [];
let t0 = 0;
socket.on('message', (msg) => {
  // RTP only (RTCP packet types 200-204 share nothing here: ffmpeg sends RTCP to port + 1).
  if (msg.length < 12 || (msg[1]! & 0x7f) !== FEED_PAYLOAD_TYPE) return;
  const now = performance.now();
  if (!t0) t0 = now;
  packets.push({ t: now - t0, data: Buffer.from(msg) });
});
const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-nostats', '-loglevel', 'error', '-re', '-i', values.clip, '-map', '0:v', '-c', 'copy',
  '-ssrc', String(FEED_SSRC), '-payload_type', String(FEED_PAYLOAD_TYPE), '-f', 'rtp', `rtp://127.0.0.1:${recvPort}?pkt_size=1200`], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, recordMs + 500));
ffmpeg.kill('SIGKILL');
socket.removeAllListeners('message');
if (packets.length < 10) throw new Error(`recorded only ${packets.length} RTP packets`);

const first = packets[0]!.data;
const seq0 = first.readUInt16BE(2);
const ts0 = first.readUInt32BE(4);
const last = packets.at(-1)!;
// One loop lasts the recording plus one frame interval (the clip's 30 fps: 3000 ticks at 90 kHz).
const loopMs = last.t + 1000 / 30;
const loopTicks = ((last.data.readUInt32BE(4) - ts0) >>> 0) + 3000;
console.log(`ready ${packets.length} packets, ${loopMs.toFixed(0)} ms loop, ${ports.length} ports`);

const start = performance.now();
let loop = 0;
let i = 0;
function pump(): void {
  const now = performance.now() - start;
  while (loop * loopMs + packets[i]!.t <= now) {
    const p = Buffer.from(packets[i]!.data);
    p.writeUInt16BE((seq0 + loop * packets.length + i) & 0xffff, 2);
    p.writeUInt32BE((p.readUInt32BE(4) + loop * loopTicks) >>> 0, 4);
    for (const port of ports) socket.send(p, port, '127.0.0.1');
    if (++i === packets.length) {
      i = 0;
      loop++;
    }
  }
  setTimeout(pump, 2);
}
pump();
