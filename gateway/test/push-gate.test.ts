/**
 * The push gate with real UDP sockets on loopback and hand-made RTP packets
 * (RFC 3550 fixed header): who gets through, how a restart is stitched into
 * one continuous stream, and how reordered frames are counted.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { PushGate } from '@vigil/gateway';

const SSRC = 0x11223344;

function rtp(seq: number, ts: number, ssrc = SSRC): Buffer {
  const b = Buffer.alloc(20);
  b[0] = 0x80; // V=2
  b[1] = 96;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

function bind(ip = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, ip, () => resolve(s));
    open.push(s);
  });
}

/** A gate forwarding to a local "PlainTransport" socket that records what it receives. */
async function setup(sourceIp?: string) {
  const gate = await PushGate.open({
    listenIp: '127.0.0.1',
    port: 0,
    ssrc: SSRC,
    sourceIp,
    forwardIp: '127.0.0.1',
    recvBufferSize: 1 << 20,
    sendBufferSize: 1 << 18,
    logger: pino({ level: 'silent' }),
  });
  open.push(gate);
  const sink = await bind();
  const got: { seq: number; ts: number }[] = [];
  sink.on('message', (m) => got.push({ seq: m.readUInt16BE(2), ts: m.readUInt32BE(4) }));
  gate.retarget({ rtpPort: sink.address().port, rtcpPort: sink.address().port + 1 });
  const send = (s: Socket, b: Buffer) => new Promise<void>((r) => s.send(b, gate.ports.rtpPort, '127.0.0.1', () => r()));
  const settle = () => new Promise((r) => setTimeout(r, 50));
  return { gate, got, send, settle };
}

describe('push gate', () => {
  it('forwards the camera, drops and counts other SSRCs and other addresses', async () => {
    const { gate, got, send, settle } = await setup('127.0.0.2');
    const camera = await bind('127.0.0.2');
    const stranger = await bind('127.0.0.1');
    await send(camera, rtp(1, 1000));
    await send(stranger, rtp(2, 4000)); // right SSRC, wrong address
    await send(camera, rtp(3, 4000, 0x99)); // right address, wrong SSRC
    await send(camera, Buffer.from('hello')); // not RTP
    await send(camera, rtp(2, 4600));
    await settle();
    expect(got.map((p) => p.seq)).toEqual([1, 2]);
    expect(gate.stats).toMatchObject({ packets: 2, foreignPackets: 3, restarts: 0 });
  });

  it('a restart from a new port continues the sequence and timeline; a second sender while the camera runs is dropped', async () => {
    const { gate, got, send, settle } = await setup();
    const first = await bind();
    for (let i = 0; i < 5; i++) await send(first, rtp(60000 + i, 3000 * i));
    const intruder = await bind();
    await send(intruder, rtp(7, 7)); // the camera is still sending: not a restart
    await settle();
    expect(gate.stats).toMatchObject({ restarts: 0, foreignPackets: 1 });
    await new Promise((r) => setTimeout(r, 200)); // the old stream falls silent
    const restarted = await bind();
    await send(restarted, rtp(100, 900_000));
    await send(restarted, rtp(101, 903_000));
    await settle();
    expect(gate.stats.restarts).toBe(1);
    const seqs = got.map((p) => p.seq);
    expect(seqs).toEqual([60000, 60001, 60002, 60003, 60004, 60005, 60006]);
    const [, , , , last, next, after] = got.map((p) => p.ts);
    // The gap (~250 ms) at 90 kHz, then the camera's own 3000-tick step.
    expect(next! - last!).toBeGreaterThan(0.2 * 90_000);
    expect(next! - last!).toBeLessThan(2 * 90_000);
    expect(after! - next!).toBe(3000);
  });

  it('counts frames whose timestamp goes back in arrival order (B-frames), not packets of one frame', async () => {
    const { gate, send, settle } = await setup();
    const camera = await bind();
    // I P B B P B B in decode order: presentation timestamps 0, 9, 3, 6, 18, 12, 15 (x 1000); two packets per frame.
    let seq = 0;
    for (const t of [0, 9, 3, 6, 18, 12, 15]) {
      await send(camera, rtp(seq++, t * 1000));
      await send(camera, rtp(seq++, t * 1000));
    }
    await settle();
    expect(gate.stats.reorderedFrames).toBe(4);
  });
});
