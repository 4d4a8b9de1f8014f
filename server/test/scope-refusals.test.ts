/**
 * Scope refusals as an operator sees them (a config group, or a token's
 * `cameras` claim in the server log): a ScopeError whose message names the
 * rule broken, and never the entry.
 */
import { describe, expect, it } from 'vitest';
import { MAX_ENTRIES, MAX_GLOB_ENTRIES, ScopeError, compileScope } from '../src/auth/scope.ts';

function refusal(entries: string[]): ScopeError {
  try {
    compileScope(entries);
  } catch (err) {
    expect(err).toBeInstanceOf(ScopeError);
    return err as ScopeError;
  }
  throw new Error('expected a refusal');
}

describe('scope refusals', () => {
  it('name the rule broken', () => {
    expect(refusal(Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => `c${i}`)).message).toBe(`too many scope entries (at most ${MAX_ENTRIES})`);
    expect(refusal(['cam 1']).message).toBe('scope entry is not a camera id, glob or site');
    expect(refusal(['site:a b']).message).toBe('scope entry has an invalid site name');
    // The whole name must fit the site grammar, not only its start or its end.
    expect(refusal(['site:!lobby']).message).toBe('scope entry has an invalid site name');
    expect(refusal(['site:lobby!']).message).toBe('scope entry has an invalid site name');
    expect(refusal(['site:']).message).toBe('scope entry has an invalid site name');
    expect(refusal(Array.from({ length: MAX_GLOB_ENTRIES + 1 }, (_, i) => `c${i}-*`)).message).toBe(
      `too many wildcard scope entries (at most ${MAX_GLOB_ENTRIES})`,
    );
  });

  it('are ScopeErrors by name too (what a log line shows), and never echo the entry', () => {
    const err = refusal(['secret-token-looking-entry!']);
    expect(err.name).toBe('ScopeError');
    expect(String(err)).toBe('ScopeError: scope entry is not a camera id, glob or site');
  });
});
