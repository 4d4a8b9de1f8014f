/**
 * Camera lifecycle with real parts: a mediasoup worker, RTP from ffmpeg
 * (pushed by an outside process, and from the built-in relay), cameras that
 * stop, die and come back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Gateway, testPatternArgs, type CameraTransition, type RelayDriver } from '@vigil/gateway/internals';
import { parseConfig } from '@vigil/server';
import { testCamera, waitFor } from '../helpers/vigil.ts';

let gateway: Gateway;
const pushers: ChildProcess[] = [];
const SSRC = 424242;

beforeAll(async () => {
  const config = parseConfig({
    workers: { count: 1 },
    webrtc: { port: 0 },
    ingest: { stallTimeoutMs: 1500, offlineTimeoutMs: 1000, retryMinMs: 200, retryMaxMs: 1000 },
    cameras: [
      { id: 'push', codec: 'VP8', source: { kind: 'rtp-push', port: 0, ssrc: SSRC, payloadType: 101 } },
      testCamera('relay', 'H264'),
      testCamera('bystander', 'VP8'),
      { id: 'pinned', codec: 'VP8', source: { kind: 'rtp-push', port: 0, ssrc: SSRC, payloadType: 101, sourceIp: '127.0.0.2' } },
    ],
  });
  gateway = await Gateway.start({ config, logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  for (const p of pushers) p.kill('SIGKILL');
  await gateway?.close();
});

/** Starts an outside RTP sender (a "camera") into a push camera's ports, from a fresh source port on `fromIp`. */
function startPusher(id = 'push', fromIp = '127.0.0.1'): ChildProcess {
  const cam = gateway.camera(id)!;
  const args = testPatternArgs(
    { id, codec: 'VP8', h264Profile: 'baseline' },
    { kind: 'test-pattern', width: 320, height: 240, fps: 25, gopFrames: 25, bitrate: 300_000 },
    { host: '127.0.0.1', ...cam.ports, ssrc: SSRC, payloadType: 101 },
  );
  // ffmpeg's rtp protocol: `localaddr` picks the source address.
  args[args.length - 1] += `&localaddr=${fromIp}`;
  const p = spawn('ffmpeg', args, { stdio: 'ignore' });
  pushers.push(p);
  return p;
}

function transitionsSince(id: string, t0: number): CameraTransition[] {
  return gateway.camera(id)!.history.filter((t) => t.at >= t0);
}

async function packets(id: string): Promise<number> {
  return (await gateway.camera(id)!.producer.getStats()).reduce((n, s) => n + s.packetCount, 0);
}

describe('camera lifecycle', () => {
  it('connecting -> live -> stalled -> offline -> live, each transition timestamped, back within 2 s of the camera returning', async () => {
    const cam = gateway.camera('push')!;
    expect(cam.state).toBe('connecting');
    const first = startPusher();
    await waitFor(() => cam.state === 'live', 10_000);

    const latchedProducer = cam.producer.id;
    const killedAt = Date.now();
    first.kill('SIGKILL');
    await waitFor(() => cam.state === 'stalled', 5000);
    const stalledAfter = cam.stateSince - killedAt;
    await waitFor(() => cam.state === 'offline', 5000);
    const offlineAfter = cam.stateSince - killedAt;
    expect(stalledAfter).toBeGreaterThanOrEqual(1400);
    expect(offlineAfter - stalledAfter).toBeGreaterThanOrEqual(900);
    expect(cam.reason).toMatch(/no RTP/);

    // The camera "reboots" and sends from a different source port: its push
    // gate takes it back on the same port and producer (viewers keep their consumers).
    const returnedAt = Date.now();
    startPusher();
    await waitFor(() => cam.state === 'live', 5000);
    const backIn = cam.stateSince - returnedAt;
    console.log(`[lifecycle] rtp-push: stalled after ${stalledAfter} ms, offline after ${offlineAfter} ms, live ${backIn} ms after the camera returned`);
    expect(backIn).toBeLessThanOrEqual(2000);
    expect(cam.producer.id).toBe(latchedProducer);
    expect(transitionsSince('push', killedAt).map((t) => t.state)).toEqual(['stalled', 'offline', 'live']);
    expect(transitionsSince('push', killedAt).every((t) => typeof t.at === 'number')).toBe(true);
  });

  it('a killed relay is restarted and the camera is live again within 2 s, on the same producer', async () => {
    const cam = gateway.camera('relay')!;
    await waitFor(() => cam.state === 'live', 10_000);
    const producerId = cam.producer.id;
    const pid = (cam.stream('high').driver as RelayDriver).pid!;
    const before = await packets('relay');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => (await packets('relay')) > before + 30 && (cam.stream('high').driver as RelayDriver).pid !== pid, 5000);
    const resumedIn = Date.now() - killedAt;
    console.log(`[lifecycle] relay killed: RTP flowing again after ${resumedIn} ms`);
    expect(resumedIn).toBeLessThanOrEqual(2000);
    expect(cam.producer.id).toBe(producerId);
    expect(cam.state).toBe('live');
  });

  it('a relay whose fixed local ports another socket took moves to new ports, and the camera plays again', async () => {
    // The relay's ports are chosen free, then released until it binds them: a later
    // PlainTransport (mediasoup's port range) or any other socket can take them meanwhile.
    const cam = gateway.camera('relay')!;
    await waitFor(() => cam.state === 'live', 10_000);
    const stream = cam.stream('high');
    const taken = stream.ingestTransport.tuple.remotePort!;
    const squatter = createSocket('udp4');
    try {
      const killedAt = Date.now();
      process.kill((stream.driver as RelayDriver).pid!, 'SIGKILL');
      // Take the relay's RTP port the moment its process is gone, before its restart (retryMinMs 200).
      for (;;) {
        const bound = await new Promise<boolean>((resolve) => {
          squatter.once('error', () => resolve(false));
          squatter.bind(taken, '127.0.0.1', () => resolve(true));
        });
        if (bound) break;
        if (Date.now() - killedAt > 150) throw new Error('the relay\'s port did not come free before its restart');
        await new Promise((r) => setTimeout(r, 2));
      }
      await waitFor(async () => stream.ingestTransport.tuple.remotePort !== taken && (await packets('relay')) > 30, 10_000);
      await waitFor(() => cam.state === 'live', 5000);
      console.log(`[lifecycle] relay ports taken: moved from ${taken} to ${stream.ingestTransport.tuple.remotePort}, RTP again after ${Date.now() - killedAt} ms`);
    } finally {
      squatter.close();
    }
  });

  it('one camera failing never disturbs another', async () => {
    const bystander = gateway.camera('bystander')!;
    await waitFor(() => bystander.state === 'live', 10_000);
    const t0 = Date.now();
    const before = await packets('bystander');
    await gateway.removeCamera('push');
    process.kill((gateway.camera('relay')!.stream('high').driver as RelayDriver).pid!, 'SIGKILL');
    await waitFor(async () => (await packets('bystander')) > before + 50, 5000);
    expect(transitionsSince('bystander', t0)).toEqual([]);
  });

  it('an RTP-push camera pinned to a source address refuses RTP from another address', async () => {
    const cam = gateway.camera('pinned')!;
    const intruder = startPusher('pinned', '127.0.0.1');
    await new Promise((r) => setTimeout(r, 1500));
    expect(cam.state).not.toBe('live');
    intruder.kill('SIGKILL');
    startPusher('pinned', '127.0.0.2');
    await waitFor(() => cam.state === 'live', 5000);
  });
});
