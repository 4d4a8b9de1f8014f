/**
 * Concurrent streams per token subject, across all of its connections (the
 * token's `maxStreams` claim). A consume reserves a slot before the consumer
 * is created and releases it when the consumer closes, so two connections of
 * one subject cannot race past the limit.
 */
/**
 * The per-subject stream quota as access control uses it: this process's
 * {@link StreamQuota}, or one shared by every node of a cluster
 * (server/src/cluster/redis-stream-quota.ts), which answers asynchronously.
 */
export interface StreamSlots {
  /**
   * Reserves one stream for `subject`.
   * @param max the subject's limit; undefined = no limit (still counted)
   * @returns a release function (idempotent), or undefined when the limit is reached
   */
  acquire(subject: string, max: number | undefined): (() => void) | undefined | Promise<(() => void) | undefined>;
  /** Streams `subject` holds now (in a cluster: on every live node). */
  count(subject: string): number | Promise<number>;
}

export class StreamQuota implements StreamSlots {
  readonly #open = new Map<string, number>();

  /**
   * Reserves one stream for `subject`.
   * @param max the subject's limit; undefined = no limit (still counted)
   * @returns a release function (idempotent), or undefined when the limit is reached
   */
  acquire(subject: string, max: number | undefined): (() => void) | undefined {
    const n = this.#open.get(subject) ?? 0;
    if (max !== undefined && n >= max) return undefined;
    this.#open.set(subject, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#open.get(subject) ?? 1) - 1;
      // Stryker: the `if (false)` and `left < 0` mutants are equivalent for every answer (count() is 0 for a kept zero and for a deleted entry); deleting only bounds memory to subjects holding streams
      if (left <= 0) this.#open.delete(subject);
      else this.#open.set(subject, left);
    };
  }

  /** Streams `subject` holds now. */
  count(subject: string): number {
    return this.#open.get(subject) ?? 0;
  }
}
