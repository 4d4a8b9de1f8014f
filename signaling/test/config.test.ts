import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../src/config/load.ts';

function issues(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

describe('config', () => {
  it('embedded defaults: one H.264 demo test-pattern camera on loopback', async () => {
    const c = await loadConfig();
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8080, allowedOrigins: [] });
    expect(c.webrtc.listenIp).toBe('127.0.0.1');
    expect(c.cameras).toHaveLength(1);
    expect(c.cameras[0]).toMatchObject({ id: 'demo-1', codec: 'H264', h264Profile: 'baseline', source: { kind: 'test-pattern', bitrate: 1_500_000 } });
  });

  it('an empty file is valid and fills defaults', () => {
    const c = parseConfig({});
    expect(c.workers.count).toBe(1);
    expect(c.auth).toMatchObject({ algorithm: 'HS256', issuer: 'vigil', audience: 'vigil-viewer', clockToleranceSec: 5 });
    expect(c.cameras).toEqual([]);
  });

  it('errors name the bad key', () => {
    expect(issues({ http: { port: 'x' } })).toEqual(['http.port: must be integer']);
    expect(issues({ htpp: {} })).toEqual(['htpp: unknown key']);
    const codec = issues({ cameras: [{ id: 'a', codec: 'H265', source: { kind: 'test-pattern' } }] });
    expect(codec.length).toBeGreaterThan(0);
    expect(codec.every((i) => i.startsWith('cameras[0].codec: '))).toBe(true);
    expect(issues({ cameras: [{ id: 'a', source: { kind: 'rtp-push', port: 5004 } }] })).toEqual(['cameras[0].source.ssrc: is required']);
    expect(issues({ cameras: [{ id: 'a', source: { kind: 'rtsp' } }] })).toEqual(['cameras[0].source.kind: is not one of the known kinds']);
    expect(issues({ cameras: [{ id: 'a', source: { kind: 'test-pattern', fps: 0 } }] })).toEqual(['cameras[0].source.fps: must be >= 1']);
  });

  it('semantic checks: duplicate camera ids, RS256 without a key', () => {
    const cam = { id: 'a', source: { kind: 'test-pattern' } };
    expect(issues({ cameras: [cam, cam] })).toEqual(['cameras[1].id: duplicate camera id "a"']);
    expect(issues({ auth: { algorithm: 'RS256' } })).toEqual(['auth.publicKeyFile: is required for RS256 (or auth.jwks)']);
  });

  it('reports unreadable files and bad JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "http": ');
    await expect(loadConfig(bad)).rejects.toThrow(/not valid JSON/);
    await expect(loadConfig(join(dir, 'missing.json'))).rejects.toThrow(/cannot read file: ENOENT/);
  });
});
