/**
 * Starts a real Vigil (mediasoup worker, ffmpeg test-pattern cameras, fastify,
 * ws) on free loopback ports for a test file.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { LocalMedia, type Gateway } from '@vigil/gateway/internals';
import { parseConfig, startVigil, signViewerToken, type Vigil, type VigilConfig } from '@vigil/server';

export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnop';
export const TEST_ADMIN_KEY = 'test-admin-key-0123456789-abcdefghijklmn';

/** A small, cheap test-pattern camera (640x360, 30 fps, 1 s GOP). */
export function testCamera(id: string, codec: 'H264' | 'VP8', extra: Record<string, unknown> = {}) {
  return {
    id,
    codec,
    source: { kind: 'test-pattern', width: 640, height: 360, fps: 30, gopFrames: 30, bitrate: 600_000 },
    ...extra,
  };
}

export interface TestVigil extends Vigil {
  config: VigilConfig;
  /**
   * The mediasoup side behind the media API (workers, cameras' producers),
   * for tests that observe what the gateway really does. Vigil's own code
   * goes through `vigil.media` only.
   */
  gateway: Gateway;
  /** Calls the admin API in-process (fastify inject) with the test admin key. */
  admin(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Signs a viewer token with the test secret. */
  token(cameras: string[], opts?: { ttlSec?: number; subject?: string }): string;
}

/** The loopback, free-port test config with `overrides` merged over it (raw, before validation). */
export function testConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    http: { host: '127.0.0.1', port: 0 },
    webrtc: { listenIp: '127.0.0.1', port: 0 },
    workers: { count: 1 },
    auth: { secret: TEST_SECRET },
    admin: { apiKey: TEST_ADMIN_KEY },
    demo: { enabled: false },
    log: { level: 'warn' },
    // A fresh audit trail per instance, outside the worktree.
    audit: { path: join(mkdtempSync(join(tmpdir(), 'vigil-audit-')), 'audit.sqlite') },
    // Each test Vigil keeps its deny list in its own temporary directory.
    revocations: { file: join(mkdtempSync(join(tmpdir(), 'vigil-test-')), 'revocations.json') },
    ...overrides,
  };
}

/**
 * Starts Vigil with `overrides` merged over the test config.
 * @param configPath the file the config came from (enables camera reload)
 */
export async function startTestVigil(overrides: Record<string, unknown> = {}, configPath?: string): Promise<TestVigil> {
  const config = parseConfig(testConfig(overrides));
  const logger = pino({ level: process.env['VIGIL_TEST_LOG'] ?? 'error' });
  const vigil = await startVigil(config, logger, { configPath });
  if (!(vigil.media instanceof LocalMedia)) throw new Error('test Vigil runs the local media implementation');
  return Object.assign(vigil, {
    config,
    gateway: vigil.media.gateway,
    async admin(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown) {
      const res = await vigil.app.inject({
        method,
        url: `/admin/v1${path}`,
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
    },
    token(cameras: string[], opts: { ttlSec?: number; subject?: string } = {}) {
      return signViewerToken(
        TEST_SECRET,
        { subject: opts.subject ?? 'tester', cameras, ttlSec: opts.ttlSec ?? 300 },
        { issuer: config.auth.issuer, audience: config.auth.audience },
      );
    },
  });
}

/** Resolves when `predicate` returns true, polling every `intervalMs`; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
