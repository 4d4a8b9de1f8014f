/** Defaults and validation of the `metrics`, `audit` and `shutdown` config keys. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { configIssues } from './config-issues.ts';

const issues = configIssues;

describe('observability config', () => {
  it('has defaults: metrics on (5 min unwatched threshold), audit in .vigil/, 10 s shutdown bound', () => {
    const c = parseConfig({});
    expect(c.metrics).toEqual({
      enabled: true,
      unwatchedAfterSec: 300,
      statsConcurrency: 32,
      statsBudgetMs: 2000,
      fpsSampleCameras: 8,
      fpsSampleWindowMs: 1000,
    });
    expect(c.audit).toEqual({ enabled: true, path: '.vigil/audit.sqlite', heartbeatSec: 5, retentionDays: 400, maxSizeMb: 2000, queueMax: 10_000 });
    expect(c.shutdown).toEqual({ drainDelayMs: 0, socketGraceMs: 2000, timeoutMs: 10_000 });
  });

  it('names bad keys', () => {
    expect(issues({ metrics: { unwatchedAfterSec: 0 } })).toEqual(['metrics.unwatchedAfterSec: must be >= 1']);
    expect(issues({ metrics: { bearerToken: 'short' } })).toEqual(['metrics.bearerToken: must NOT have fewer than 32 characters']);
    expect(issues({ audit: { path: '' } })).toEqual(['audit.path: must NOT have fewer than 1 characters']);
    expect(issues({ shutdown: { timeoutMs: 10 } })).toEqual(['shutdown.timeoutMs: must be >= 1000']);
    expect(issues({ audit: { file: 'x' } })).toEqual(['audit.file: unknown key']);
  });
});
