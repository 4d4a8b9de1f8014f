/**
 * Size budget of the SDK bundles (built fresh by esbuild into a temp dir):
 * minified bytes and gzip (level 9) bytes of the one-file <script> build and
 * the ESM build. Most of it is mediasoup-client (~200 KB minified); the
 * budget leaves ~5 % headroom over the measured size, so a change that bloats
 * the bundle shows up here. README's "Bundle sizes" table must show the sizes
 * this build has (a change to the SDK updates README in the same commit).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSdk } from '../build.ts';

/** Budgets, bytes. */
const BUDGET = { minified: 265_000, gzip: 50_000 };

const dir = mkdtempSync(join(tmpdir(), 'vigil-sdk-'));
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The README table row of a bundle: [minified, gzip] bytes as written there ("254 885 B"). */
function readmeRow(name: string): [number, number] | undefined {
  const row = README.split('\n').find((l) => l.startsWith(`| \`${name}\``));
  const cells = row?.match(/\| ([\d ]+) B \| ([\d ]+) B \|$/);
  return cells ? [Number(cells[1]!.replaceAll(' ', '')), Number(cells[2]!.replaceAll(' ', ''))] : undefined;
}
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SDK bundle size', () => {
  it(`vigil.js and vigil.esm.js stay under ${BUDGET.minified} B minified and ${BUDGET.gzip} B gzip`, async () => {
    const out = await buildSdk(dir);
    for (const [name, path] of [['vigil.js', out.iife], ['vigil.esm.js', out.esm]] as const) {
      const code = readFileSync(path);
      const gz = gzipSync(code, { level: 9 }).length;
      console.log(`[size] ${name}: ${code.length} B minified, ${gz} B gzip`);
      expect(code.length).toBeLessThan(BUDGET.minified);
      expect(gz).toBeLessThan(BUDGET.gzip);
      expect(readmeRow(name), `README's ${name} row shows this build's sizes`).toEqual([code.length, gz]);
    }
    // The IIFE exposes the global the README uses; the element registers itself.
    const iife = readFileSync(out.iife, 'utf8');
    expect(/^("use strict";)?var Vigil=/.test(iife)).toBe(true);
    expect(iife.includes('"vigil-feed"')).toBe(true);
  });
});
