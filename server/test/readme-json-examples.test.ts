/**
 * Every ```json block in README.md is something Vigil accepts, as written:
 * - a whole config file: parsed by the config loader (`parseConfig`, the same
 *   ajv schema and key-naming messages as at start);
 * - a config fragment (`"turn": { ... }`): wrapped in braces, then parsed;
 * - a camera source (an object with `kind`): parsed as the source of a camera;
 * - a camera entry (an object with `id` and `source`): parsed as a config's only camera;
 * - a JWT header + claims example (one JSON object per line with `alg`, then
 *   the claims): each line parses, and the claims carry what a viewer token
 *   needs (`sub`, `cameras`, `exp`).
 * A new block that is none of these fails here until it is given a rule.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Every json block with the line it starts on. */
function jsonBlocks(): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  const re = /```json\n([\s\S]*?)```/g;
  for (let m = re.exec(README); m; m = re.exec(README)) {
    out.push({ line: README.slice(0, m.index).split('\n').length, text: m[1]! });
  }
  return out;
}

type Kind = 'config' | 'fragment' | 'source' | 'camera' | 'jwt';

/** Classifies and checks one block; throws (with the loader's message) when Vigil would refuse it. */
function check(text: string): Kind {
  const trimmed = text.trim();
  if (trimmed.startsWith('"')) {
    parseConfig(JSON.parse(`{${trimmed}}`) as Record<string, unknown>);
    return 'fragment';
  }
  const lines = trimmed.split('\n');
  if (lines[0]!.includes('"alg"')) {
    const header = JSON.parse(lines[0]!) as Record<string, unknown>;
    const claims = JSON.parse(lines.slice(1).join('\n')) as Record<string, unknown>;
    expect(header['alg']).toMatch(/^(HS256|RS256|ES256)$/);
    expect(claims).toMatchObject({ sub: expect.any(String), cameras: expect.any(Array), exp: expect.any(Number) });
    return 'jwt';
  }
  const value = JSON.parse(trimmed) as Record<string, unknown>;
  if (typeof value['kind'] === 'string') {
    parseConfig({ cameras: [{ id: 'readme-example', codec: 'H264', source: value }] });
    return 'source';
  }
  if (typeof value['id'] === 'string' && typeof value['source'] === 'object') {
    parseConfig({ cameras: [value] });
    return 'camera';
  }
  parseConfig(value);
  return 'config';
}

describe('README json examples', () => {
  const blocks = jsonBlocks();

  it('has json examples to check', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
  });

  for (const { line, text } of blocks) {
    it(`README.md:${line} is accepted as written`, () => {
      expect(['config', 'fragment', 'source', 'camera', 'jwt']).toContain(check(text));
    });
  }
});
