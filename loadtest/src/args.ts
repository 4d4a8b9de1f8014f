/** Command-line helpers of the load-test CLIs. */

/**
 * Parses a comma-separated list of numbers, each within [min, max].
 * @throws Error naming the bad entry
 */
export function parseList(text: string, min: number, max: number): number[] {
  return text.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`"${s}" must be a number in ${min}..${max}`);
    return n;
  });
}
