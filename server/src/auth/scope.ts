/**
 * Camera scope of a viewer token: which cameras the bearer may see.
 *
 * A scope is a list of entries, each one of
 * - an exact camera id: `gate-3`
 * - a glob over camera ids: `*` matches any run of characters except `/`,
 *   `**` any run including `/`, `?` exactly one character except `/`;
 *   the whole id must match (`site-a/*` matches `site-a/cam-1`, not `site-a/x/cam-1`)
 * - a site: `site:<name>` matches every camera whose config has that `site`
 *   (every entry starting with `site:` is a site entry).
 * Entries outside this grammar are invalid and make the whole token invalid
 * (no partial grants).
 *
 * Scopes come from untrusted text (tokens) and from config and the admin
 * API, so matching never builds a regular expression from an entry: globs
 * use the linear-time matcher in ./glob.ts, and entries are bounded in
 * length and count (the constants below).
 */

import { Glob } from './glob.ts';

/** Longest id/glob entry, characters (camera ids are at most 128 too). */
export const MAX_ENTRY_LENGTH = 128;
/** Most entries in one scope (a token's `cameras` claim, one config group). */
export const MAX_ENTRIES = 256;
/** Most wildcard entries in one scope: bounds the matching work per camera check (each glob is O(entry × id length)). */
export const MAX_GLOB_ENTRIES = 64;

/** Allowed characters in an id/glob entry: camera id charset plus the wildcards (length checked apart). */
const GLOB_RE = /^[A-Za-z0-9._:/*?-]+$/;
/** A site name, after the `site:` prefix. */
const SITE_NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
const SITE_PREFIX = 'site:';

/** A camera as scope matching sees it. */
export interface ScopedCamera {
  id: string;
  site?: string | undefined;
}

/** A compiled, immutable scope. */
export interface Scope {
  /** True if the camera is inside the scope. */
  allows(camera: ScopedCamera): boolean;
  /** The entries it was compiled from. */
  readonly entries: readonly string[];
}

/** Thrown for an entry outside the grammar. */
export class ScopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScopeError';
  }
}

/**
 * Compiles scope entries.
 * @param entries the token's `cameras` claim, or a config group: at most
 *   {@link MAX_ENTRIES} entries of at most {@link MAX_ENTRY_LENGTH} characters,
 *   at most {@link MAX_GLOB_ENTRIES} of them with wildcards
 * @throws ScopeError if there are too many entries or one is outside the grammar
 */
export function compileScope(entries: readonly string[]): Scope {
  if (entries.length > MAX_ENTRIES) throw new ScopeError(`too many scope entries (at most ${MAX_ENTRIES})`);
  const exact = new Set<string>();
  const sites = new Set<string>();
  const globs: Glob[] = [];
  for (const entry of entries) {
    if (entry.startsWith(SITE_PREFIX)) {
      const site = entry.slice(SITE_PREFIX.length);
      if (!SITE_NAME_RE.test(site)) throw new ScopeError('scope entry has an invalid site name');
      sites.add(site);
    } else if (entry.length > MAX_ENTRY_LENGTH || !GLOB_RE.test(entry)) {
      throw new ScopeError('scope entry is not a camera id, glob or site');
    } else if (entry.includes('*') || entry.includes('?')) {
      if (globs.length >= MAX_GLOB_ENTRIES) throw new ScopeError(`too many wildcard scope entries (at most ${MAX_GLOB_ENTRIES})`);
      globs.push(new Glob(entry));
    } else {
      exact.add(entry);
    }
  }
  return {
    entries: Object.freeze([...entries]),
    allows(camera: ScopedCamera): boolean {
      if (exact.has(camera.id)) return true;
      if (camera.site !== undefined && sites.has(camera.site)) return true;
      return globs.some((g) => g.matches(camera.id));
    },
  };
}

/**
 * A scope allowing what any of `scopes` allows (a token's own entries plus
 * the groups it names).
 */
export function unionScope(scopes: readonly Scope[]): Scope {
  return {
    entries: Object.freeze(scopes.flatMap((s) => s.entries)),
    allows: (camera) => scopes.some((s) => s.allows(camera)),
  };
}
