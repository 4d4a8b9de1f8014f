/**
 * Camera-set reconciliation (config reload, SIGHUP): the one algorithm every
 * media implementation uses. Cameras not wanted are removed, new ones added,
 * changed ones (any config key, deep comparison) updated, unchanged ones left
 * alone with their viewers. One camera failing to open is reported in
 * `failed` and does not stop the others.
 */
import { isDeepStrictEqual } from 'node:util';
import type { CameraConfig } from '../config/schema.ts';
import type { ReconcileResult } from '../media/media-types.ts';

/** What {@link reconcileCameras} acts through. */
export interface CameraSet {
  /** The config of the camera with this id now, or undefined. */
  current(id: string): { config: CameraConfig } | undefined;
  /** Ids of every camera now. */
  ids(): Iterable<string>;
  addCamera(config: CameraConfig): Promise<unknown>;
  updateCamera(config: CameraConfig): Promise<unknown>;
  removeCamera(id: string): Promise<unknown>;
}

/**
 * Brings `set` to `wanted`.
 * @returns what was done, by camera id (errors of add/update in `failed`, never thrown)
 * @throws whatever `removeCamera` throws (removal does not open anything, so it does not fail on camera input)
 */
export async function reconcileCameras(set: CameraSet, wanted: CameraConfig[]): Promise<ReconcileResult> {
  const result: ReconcileResult = { added: [], removed: [], updated: [], unchanged: [], failed: [] };
  const wantedIds = new Set(wanted.map((c) => c.id));
  for (const id of [...set.ids()]) {
    if (wantedIds.has(id)) continue;
    await set.removeCamera(id);
    result.removed.push(id);
  }
  for (const config of wanted) {
    const current = set.current(config.id);
    try {
      if (!current) {
        await set.addCamera(config);
        result.added.push(config.id);
      } else if (!isDeepStrictEqual(current.config, config)) {
        await set.updateCamera(config);
        result.updated.push(config.id);
      } else {
        result.unchanged.push(config.id);
      }
    } catch (err) {
      result.failed.push({ id: config.id, error: (err as Error).message });
    }
  }
  return result;
}
