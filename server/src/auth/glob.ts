/**
 * Camera-id globs matched in time linear in the input: no regular expression
 * is ever built from token, config or admin text.
 *
 * Grammar (see ./scope.ts): `*` any run of characters except `/` (within one
 * path segment), `**` any run including `/` (any depth), `?` exactly one
 * character except `/`; every other character matches itself and only
 * itself (`.` is a literal dot). The whole id must match.
 *
 * Matching simulates the pattern's NFA (Thompson; R. Cox, "Regular
 * Expression Matching Can Be Simple And Fast", 2007, the approach of RE2):
 * the set of pattern positions reachable after each input character is
 * carried forward at once, so the work is at most O(steps × input length)
 * whatever the pattern, with no backtracking. A run of wildcards collapses to
 * one step (`**` absorbs `*`), so `**a**a**a...` costs the same as `**a`.
 */

/** One step of a compiled glob. */
type Step =
  /** This exact character (UTF-16 code unit). */
  | { kind: 'char'; ch: number }
  /** `?`: one character other than `/`. */
  | { kind: 'one' }
  /** `*`: zero or more characters other than `/`. */
  | { kind: 'segment' }
  /** `**`: zero or more characters, `/` included. */
  | { kind: 'any' };

const SLASH = 0x2f;
const STAR = 0x2a;
const QUESTION = 0x3f;

/** A compiled glob; immutable. */
export class Glob {
  readonly #steps: readonly Step[];

  /**
   * @param pattern the glob, already checked against the entry grammar by the
   *   caller (length and characters); compiling is O(pattern length)
   */
  constructor(pattern: string) {
    const steps: Step[] = [];
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern.charCodeAt(i);
      let step: Step;
      if (c === STAR) {
        const double = pattern.charCodeAt(i + 1) === STAR;
        // Stryker: the `if (false)` mutant is equivalent: without the skip the second star of `**` is read again as `*` or `**`, which the run rule below drops
        if (double) i++;
        step = { kind: double ? 'any' : 'segment' };
        // A run of stars: `**` is read first and whatever follows it in the
        // run (`*` or `**`) adds nothing. A lone `*` is never followed by a
        // star (it would have been read as `**`), so the run ends there.
        if (steps[steps.length - 1]?.kind === 'any') continue;
      } else if (c === QUESTION) {
        step = { kind: 'one' };
      } else {
        step = { kind: 'char', ch: c };
      }
      steps.push(step);
    }
    this.#steps = steps;
  }

  /** Steps after compilation (a run of wildcards counts once). */
  get size(): number {
    return this.#steps.length;
  }

  /**
   * True when the whole of `input` matches.
   * Cost: at most (steps + 1) × input length state updates.
   */
  matches(input: string): boolean {
    const steps = this.#steps;
    const n = steps.length;
    let cur = new Uint8Array(n + 1);
    let next = new Uint8Array(n + 1);
    cur[0] = 1;
    close(steps, cur);
    for (let j = 0; j < input.length; j++) {
      const c = input.charCodeAt(j);
      next.fill(0);
      // Stryker disable next-line BooleanLiteral: equivalent, `alive` only ends the scan early; with no live state left the answer is false either way
      let alive = false;
      for (let i = 0; i < n; i++) {
        if (cur[i] === 0) continue;
        const step = steps[i]!;
        let to: number;
        switch (step.kind) {
          case 'char':
            if (c !== step.ch) continue;
            to = i + 1;
            break;
          case 'one':
            if (c === SLASH) continue;
            to = i + 1;
            break;
          case 'segment':
            if (c === SLASH) continue;
            to = i;
            break;
          case 'any':
            to = i;
            break;
        }
        next[to] = 1;
        alive = true;
      }
      // Stryker: the `if (false)` mutant is equivalent: this is an early exit (no live state means cur[n] stays 0 to the end)
      if (!alive) return false;
      close(steps, next);
      [cur, next] = [next, cur];
    }
    return cur[n] === 1;
  }
}

/**
 * Adds the positions reachable without consuming a character: past a
 * wildcard (which may match nothing). One forward pass suffices since these
 * moves only go forward.
 */
function close(steps: readonly Step[], set: Uint8Array): void {
  for (let i = 0; i < steps.length; i++) {
    if (set[i] === 1 && (steps[i]!.kind === 'segment' || steps[i]!.kind === 'any')) set[i + 1] = 1;
  }
}
