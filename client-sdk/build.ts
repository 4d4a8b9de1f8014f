/**
 * Bundles the SDK with esbuild into client-sdk/dist:
 *   vigil.esm.js  ESM, for bundlers and <script type="module">
 *   vigil.js      one file for a plain <script> tag (global `Vigil`)
 * Both minified, with source maps. Run: `node client-sdk/build.ts`.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Builds both bundles into `outDir` (default client-sdk/dist).
 * @returns the paths written
 * @throws esbuild's error when the sources do not compile
 */
export async function buildSdk(outDir = `${root}dist`): Promise<{ iife: string; esm: string }> {
  const common = {
    entryPoints: [`${root}src/index.ts`],
    bundle: true,
    minify: true,
    sourcemap: true,
    target: ['chrome100', 'safari15', 'firefox100'],
    platform: 'browser' as const,
    legalComments: 'none' as const,
    logLevel: 'warning' as const,
  };
  const out = { iife: `${outDir}/vigil.js`, esm: `${outDir}/vigil.esm.js` };
  await Promise.all([
    build({ ...common, format: 'esm', outfile: out.esm }),
    build({ ...common, format: 'iife', globalName: 'Vigil', outfile: out.iife }),
  ]);
  return out;
}

if (import.meta.main) await buildSdk();
