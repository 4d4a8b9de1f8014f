/**
 * Where oversight learns who watches which camera: this node's own viewers
 * ({@link LocalWatch}, single node) or every node's, read from the shared
 * audit trail ({@link ClusterWatch}). One small interface, two
 * implementations chosen by config, as for the audit store.
 */

export interface WatchSource {
  /** Who watches `cameraId` now: distinct sessions (`viewers`) and their viewings (`consumers`). O(1). */
  watching(cameraId: string): { viewers: number; consumers: number };
  /** When `cameraId` was last being watched (a viewing started or ended), ms since epoch; undefined: not since this source began. */
  lastWatchedAt(cameraId: string): number | undefined;
  /** Drops what it keeps about cameras not in `present` that nobody watches. */
  forget(present: ReadonlySet<string>): void;
  /** True when this node exports the cluster-wide oversight gauges (single node: always). */
  readonly leader: boolean;
  /** Stops listening / polling. */
  close(): void;
}
