/**
 * The layout's rules, checked over the real import graph of every source file
 * (protocol, gateway, server, client-sdk, loadtest), read with TypeScript's
 * own `ts.preProcessFile` (static, dynamic and type-only imports):
 *
 * - only gateway/ imports mediasoup or the gateway's internals: everything
 *   else goes through the media API (`@vigil/gateway`); benchmarks that
 *   measure mediasoup directly (loadtest/bench) and tests may;
 * - no import cycles, type-only imports included (a cycle is a module pair
 *   that cannot be read, changed or tested apart);
 * - the gateway's config is a leaf (the schema never imports what it configures),
 *   so is the media API contract (no implementation behind it leaks in), and
 *   no concept folder imports the composition root above it;
 * - the gateway's public entry exports the media API and the config schema only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE_DIRS = ['protocol/src', 'gateway/src', 'server/src', 'client-sdk/src', 'loadtest'];
/** May import mediasoup and the gateway's internals: they observe or measure the worker itself. */
const MEDIASOUP_ALLOWED = ['gateway/', 'loadtest/bench/'];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)))
    .filter((f) => !f.includes('node_modules') && !f.includes('/dist/'));
}

/** `@vigil/<pkg>[/sub]` -> file, from each workspace package's `exports`. */
function workspaceExports(): Map<string, string> {
  const out = new Map<string, string>();
  for (const dir of ['protocol', 'gateway', 'server', 'client-sdk']) {
    const pkg = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as { name: string; exports: Record<string, string> };
    for (const [key, target] of Object.entries(pkg.exports)) {
      if (!target.endsWith('.ts')) continue;
      out.set(key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`, join(dir, target));
    }
  }
  return out;
}

interface Edge {
  from: string;
  specifier: string;
  /** The imported source file (repo-relative), or undefined for an outside package. */
  to: string | undefined;
}

function importGraph(): { files: string[]; edges: Edge[] } {
  const exportsMap = workspaceExports();
  const files = SOURCE_DIRS.flatMap(sourceFiles);
  const edges: Edge[] = [];
  for (const from of files) {
    const info = ts.preProcessFile(readFileSync(join(ROOT, from), 'utf8'), true, true);
    for (const { fileName: specifier } of info.importedFiles) {
      let to: string | undefined;
      if (specifier.startsWith('.')) to = relative(ROOT, resolve(ROOT, dirname(from), specifier));
      else to = exportsMap.get(specifier);
      edges.push({ from, specifier, to });
    }
  }
  return { files, edges };
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function cycles(files: string[], edges: Edge[]): string[][] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) if (e.to && next.has(e.to)) next.get(e.from)!.push(e.to);
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || next.get(v)!.includes(v)) found.push(scc.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) visit(f);
  return found;
}

const graph = importGraph();

describe('architecture', () => {
  it('reads a real graph (every workspace import resolves to a source file)', () => {
    expect(graph.files.length).toBeGreaterThan(80);
    const unresolved = graph.edges.filter((e) => e.specifier.startsWith('@vigil/') && !e.to);
    expect(unresolved).toEqual([]);
    const missing = graph.edges.filter((e) => e.to && !graph.files.includes(e.to) && SOURCE_DIRS.some((d) => e.to!.startsWith(d)));
    expect(missing).toEqual([]);
  });

  it('only gateway/ (and benchmarks of mediasoup itself) imports mediasoup or the gateway internals', () => {
    const leaks = graph.edges
      .filter((e) => !MEDIASOUP_ALLOWED.some((p) => e.from.startsWith(p)))
      .filter(
        (e) =>
          e.specifier === 'mediasoup' ||
          e.specifier.startsWith('mediasoup/') ||
          e.specifier === '@vigil/gateway/internals' ||
          (e.to?.startsWith('gateway/src/') && e.to !== 'gateway/src/index.ts'),
      )
      .map((e) => `${e.from} -> ${e.specifier}`);
    expect(leaks).toEqual([]);
  });

  it('has no import cycles (type-only imports included)', () => {
    expect(cycles(graph.files, graph.edges)).toEqual([]);
  });

  it("keeps the gateway's config a leaf: it imports no gateway module outside config/", () => {
    const upward = graph.edges
      .filter((e) => e.from.startsWith('gateway/src/config/') && e.to?.startsWith('gateway/src/') && !e.to.startsWith('gateway/src/config/'))
      .map((e) => `${e.from} -> ${e.specifier}`);
    expect(upward).toEqual([]);
  });

  it('keeps the media API contract (media-types.ts) apart from any implementation: it imports only config types and the protocol', () => {
    const deps = graph.edges.filter((e) => e.from === 'gateway/src/media/media-types.ts').map((e) => e.to ?? e.specifier);
    expect(deps.sort()).toEqual(['gateway/src/config/schema.ts', 'protocol/src/index.ts']);
  });

  it('no concept folder imports its package root (server/src/*.ts: the composition root; gateway/src/index.ts, internals.ts)', () => {
    const roots = ['server/src/vigil.ts', 'server/src/main.ts', 'server/src/index.ts', 'server/src/lifecycle.ts', 'gateway/src/index.ts', 'gateway/src/internals.ts'];
    const upward = graph.edges
      .filter((e) => /^(server|gateway)\/src\/[^/]+\//.test(e.from) && e.to && roots.includes(e.to) && e.to.split('/')[0] === e.from.split('/')[0])
      .map((e) => `${e.from} -> ${e.specifier}`);
    expect(upward).toEqual([]);
  });

  it("exposes only the media API and the config schema from the gateway's public entry", () => {
    const api = [
      'gateway/src/media/media-types.ts',
      'gateway/src/media/local-media.ts',
      'gateway/src/cluster/cluster-media.ts',
      'gateway/src/cluster/cluster-types.ts' /* its options, types */,
      'gateway/src/gateway.ts' /* GatewayOptions, a type */,
    ];
    const fromIndex = graph.edges.filter((e) => e.from === 'gateway/src/index.ts').map((e) => e.to ?? e.specifier);
    expect(fromIndex.filter((to) => !api.includes(to) && !to.startsWith('gateway/src/config/'))).toEqual([]);
    expect(fromIndex).toEqual(expect.arrayContaining(api));
  });
});
