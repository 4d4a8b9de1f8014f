/**
 * An outside RTP sender (a "camera" pushing RTP, RFC 3550) for rtp-push
 * cameras: ffmpeg encoding a small test pattern into the camera's ingest ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { testPatternArgs, type Gateway } from '@vigil/gateway';
import { waitFor } from './vigil.ts';

export interface PushCamera {
  /** The camera's config entry for startTestVigil (rtp-push on a free port). */
  config: Record<string, unknown>;
  /**
   * Starts ffmpeg pushing 320x180 at 25 fps (1 s GOP) into the camera's ports
   * (its push gate: a camera that went offline is taken back from any source port).
   */
  start(gateway: Gateway): Promise<ChildProcess>;
  /** Kills every pusher started (SIGKILL: the camera just goes silent). */
  killAll(): void;
}

/** An rtp-push camera `id` (VP8, payload type 101) and the means to feed it. */
export function pushCamera(id: string, ssrc: number): PushCamera {
  const procs: ChildProcess[] = [];
  return {
    config: { id, codec: 'VP8', source: { kind: 'rtp-push', port: 0, ssrc, payloadType: 101 } },
    async start(gateway) {
      const cam = gateway.camera(id);
      if (!cam) throw new Error(`no camera ${id}`);
      await waitFor(() => !cam.producer.closed, 10_000, 50);
      const p = spawn(
        'ffmpeg',
        testPatternArgs(
          { id, codec: 'VP8', h264Profile: 'baseline' },
          { kind: 'test-pattern', width: 320, height: 180, fps: 25, gopFrames: 25, bitrate: 250_000 },
          { host: '127.0.0.1', ...cam.ports, ssrc, payloadType: 101 },
        ),
        { stdio: 'ignore' },
      );
      procs.push(p);
      return p;
    },
    killAll() {
      for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    },
  };
}
