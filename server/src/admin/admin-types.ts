/**
 * What the admin API's route modules are given (one type, so no route module
 * imports the plugin that registers it).
 */
import type { MediaApi, ReconcileResult } from '@vigil/gateway';
import type { AccessControl } from '../auth/access-control.ts';
import type { AuditStore } from '../audit/audit-store.ts';
import type { Oversight } from '../oversight/oversight.ts';
import type { ViewerSession } from '../signaling/viewer-session.ts';

export interface AdminDeps {
  /** Cameras: list, stats, add, update, remove. */
  media: MediaApi;
  /** Live viewer sessions (joined or not). */
  sessions: ReadonlySet<ViewerSession>;
  /** Re-reads the config file and reconciles cameras; undefined when running on embedded defaults. */
  reloadCameras?: (() => Promise<ReconcileResult>) | undefined;
  /** The audit trail (undefined when `audit.enabled` is false). */
  audit?: AuditStore | undefined;
  /** Who watches what. */
  oversight: Oversight;
  /** Deny list, rate limits, stream quota. */
  access: AccessControl;
}
