/**
 * Readiness for /readyz: the process can take viewers when at least one
 * mediasoup worker is alive, the config was loaded (it was, or the process
 * would not have started), the audit trail is writable (when enabled) and no
 * shutdown has begun. Liveness (/healthz) is only "the process answers".
 */
import type { MediaApi } from '@vigil/gateway';

/** Result of one readiness check: overall verdict and each check by name. */
export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, boolean>;
}

export class Readiness {
  readonly #media: MediaApi;
  readonly #audit: (() => boolean) | undefined;
  #draining = false;

  /**
   * @param audit returns false while the audit store cannot write; omitted when audit is disabled
   */
  constructor(media: MediaApi, audit?: () => boolean) {
    this.#media = media;
    this.#audit = audit;
  }

  /** Marks the process as shutting down: /readyz answers 503 from now on. */
  drain(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Evaluates every check now (no I/O). */
  report(): ReadinessReport {
    const checks: Record<string, boolean> = {
      workers: this.#media.workerLoads().some((w) => w.alive),
      config: true,
      accepting: !this.#draining,
    };
    if (this.#audit) checks['audit'] = this.#audit();
    return { ready: Object.values(checks).every(Boolean), checks };
  }
}
