/**
 * CameraStateWatch: per-session, reference-counted watching of the cameras a
 * session consumes, over ONE 'statechange' listener per camera whatever the
 * number of sessions. A plain EventEmitter stands in for the media API's camera view
 * (only `id`, `on`, `off` and the event are used); the notifications against a
 * real camera are tested in test/e2e/signaling-recovery.test.ts.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { CameraView } from '@vigil/gateway';
import { CameraStateWatch, liveState, type CameraChange } from '../src/signaling/camera-state-watch.ts';

const said = (c: CameraChange): string => (c.kind === 'state' ? c.state : `degraded=${c.degraded?.reason ?? 'none'}`);

function standInCamera(id: string): CameraView & EventEmitter {
  return Object.assign(new EventEmitter(), { id }) as unknown as CameraView & EventEmitter;
}

describe('CameraStateWatch', () => {
  it('one listener per camera for many sessions; each session hears each change once; none after the last consumer', () => {
    const cam = standInCamera('cam-1');
    const heard: string[][] = [[], [], []];
    const watches = heard.map((h) => new CameraStateWatch((id, change) => h.push(`${id}:${said(change)}`)));
    for (const w of watches) w.add(cam);
    watches[0]!.add(cam); // a second consumer in session 0
    expect(cam.listenerCount('statechange')).toBe(1);
    expect(cam.listenerCount('degradedchange')).toBe(1);

    cam.emit('statechange', { state: 'stalled', at: 1 });
    expect(heard).toEqual([['cam-1:stalled'], ['cam-1:stalled'], ['cam-1:stalled']]);

    watches[0]!.remove(cam); // session 0 still has one consumer
    watches[1]!.remove(cam);
    cam.emit('statechange', { state: 'offline', at: 2 });
    expect(heard.map((h) => h.length)).toEqual([2, 1, 2]);

    watches[0]!.remove(cam);
    watches[2]!.close();
    expect(cam.listenerCount('statechange')).toBe(0);
    expect(cam.listenerCount('degradedchange')).toBe(0);
    cam.emit('statechange', { state: 'live', at: 3 });
    expect(heard.map((h) => h.length)).toEqual([2, 1, 2]);
  });

  it('does not forward `closed` (clients learn it as consumerClosed / camera_gone)', () => {
    const cam = standInCamera('cam-2');
    const heard: string[] = [];
    new CameraStateWatch((_id, change) => heard.push(said(change))).add(cam);
    cam.emit('statechange', { state: 'closed', at: 1 });
    expect(heard).toEqual([]);
    expect(liveState('closed')).toBeUndefined();
    expect(liveState('stalled')).toBe('stalled');
  });
});

describe('CameraStateWatch: degradation', () => {
  it('tells the reason only (never the operator message), and null on recovery', () => {
    const cam = standInCamera('cam-3');
    const heard: CameraChange[] = [];
    new CameraStateWatch((_id, change) => heard.push(change)).add(cam);
    cam.emit('degradedchange', { reason: 'b_frames', message: 'set transcode: "h264" on its source', since: 1, quality: 'high' });
    cam.emit('degradedchange', undefined);
    expect(heard).toEqual([
      { kind: 'degraded', degraded: { reason: 'b_frames' } },
      { kind: 'degraded', degraded: null },
    ]);
  });
});
