/**
 * The composition root's lifecycle: what was started closes in reverse
 * order, once, whether the start failed half-way or the process shuts down;
 * a failing close step does not leave the others open.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Lifecycle, startOwned } from '../src/lifecycle.ts';

const logger = pino({ level: 'silent' });

describe('Lifecycle', () => {
  it('closes last-started first, each step once, however often close() is called', async () => {
    const closed: string[] = [];
    const life = new Lifecycle(logger);
    for (const name of ['deny list', 'audit', 'media', 'http', 'signaling']) life.own(name, name, (n) => void closed.push(n));
    await Promise.all([life.close(), life.close()]);
    await life.close();
    expect(closed).toEqual(['signaling', 'http', 'media', 'audit', 'deny list']);
    expect(() => life.own('late', 1, () => {})).toThrow(/shutting down/);
  });

  it('runs every step even when one fails, then rejects with the first error', async () => {
    const closed: string[] = [];
    const life = new Lifecycle(logger);
    life.own('a', 'a', (n) => void closed.push(n));
    life.own('b', 'b', async () => {
      throw new Error('b failed');
    });
    life.own('c', 'c', (n) => void closed.push(n));
    await expect(life.close()).rejects.toThrow('b failed');
    expect(closed).toEqual(['c', 'a']);
  });

  it('a failed start closes exactly what it had started, in reverse, and rethrows', async () => {
    const closed: string[] = [];
    const started = startOwned(logger, async (life) => {
      life.own('workers', 'workers', (n) => void closed.push(n));
      life.own('http', 'http', (n) => void closed.push(n));
      throw new Error('port in use');
    });
    await expect(started).rejects.toThrow('port in use');
    expect(closed).toEqual(['http', 'workers']);
  });
});
