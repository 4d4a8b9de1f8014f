/**
 * ICE supervision timing (the restart itself is proven end to end in
 * test/e2e/sdk-recovery.test.ts): a stand-in transport emits the
 * connection states mediasoup-client would emit; timers are vitest's fake ones.
 */
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { types } from 'mediasoup-client';
import { superviseIce } from '../src/ice-supervisor.ts';

class StandInTransport extends EventEmitter {
  connectionState: types.ConnectionState = 'connected';
  set(state: types.ConnectionState): void {
    this.connectionState = state;
    this.emit('connectionstatechange', state);
  }
}

function setup(restartWorks = false) {
  const t = new StandInTransport();
  const log: string[] = [];
  const stop = superviseIce(t as unknown as types.Transport, {
    restart: async () => {
      log.push('restart');
      if (restartWorks) queueMicrotask(() => t.set('connected'));
    },
    giveUp: () => log.push('giveUp'),
    onTrouble: (trouble) => log.push(trouble ? 'trouble' : 'ok'),
  });
  return { t, log, stop };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('superviseIce', () => {
  it('lets a short disconnection heal by itself (no restart within 2 s)', async () => {
    const { t, log } = setup();
    t.set('disconnected');
    await vi.advanceTimersByTimeAsync(1500);
    t.set('connected');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(log).toEqual(['trouble', 'ok']);
  });

  it('restarts ICE after 2 s disconnected, and at once on failed', async () => {
    const a = setup(true);
    a.t.set('disconnected');
    await vi.advanceTimersByTimeAsync(2000);
    expect(a.log).toEqual(['trouble', 'restart', 'ok']);
    const b = setup(true);
    b.t.set('failed');
    await vi.advanceTimersByTimeAsync(0);
    expect(b.log).toEqual(['trouble', 'restart', 'ok']);
  });

  it('tries again when a restart does not connect within 8 s; gives up after 3 tries', async () => {
    const { t, log } = setup(false);
    t.set('failed');
    await vi.advanceTimersByTimeAsync(0);
    expect(log).toEqual(['trouble', 'restart']);
    await vi.advanceTimersByTimeAsync(8000);
    expect(log).toEqual(['trouble', 'restart', 'restart']);
    await vi.advanceTimersByTimeAsync(16_000);
    expect(log).toEqual(['trouble', 'restart', 'restart', 'restart', 'giveUp']);
    t.set('failed');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(log.filter((x) => x === 'restart')).toHaveLength(3);
  });

  it('stops on close', async () => {
    const { t, log } = setup();
    t.set('closed');
    t.set('failed');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(log).toEqual([]);
  });
});
