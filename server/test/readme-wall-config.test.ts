/** README's wall config (several small test-pattern cameras) is a valid Vigil config, as written. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';

describe('README wall config', () => {
  it('parses, with every camera a test pattern of at most 640x360 (2 cores: one ffmpeg encoder per stream)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const m = /### Wall and phone demo\n[\s\S]*?```json\n([\s\S]*?)```/.exec(readme);
    if (!m) throw new Error('README has no json block under "### Wall and phone demo"');
    const config = parseConfig(JSON.parse(m[1]!));
    expect(config.cameras.map((c) => c.id)).toEqual(['wall-1', 'wall-2', 'wall-3']);
    for (const c of config.cameras) {
      for (const s of [c.source, c.subSource]) {
        if (!s) continue;
        expect(s.kind).toBe('test-pattern');
        if (s.kind === 'test-pattern') expect(s.width * s.height).toBeLessThanOrEqual(640 * 360);
      }
    }
  });
});
