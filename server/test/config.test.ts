import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/config/load.ts';
import { configIssues } from './config-issues.ts';

const issues = configIssues;

describe('config', () => {
  it('embedded defaults: one H.264 demo test-pattern camera on loopback', async () => {
    const c = await loadConfig();
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8080, allowedOrigins: [], trustedProxies: [] });
    expect(c.webrtc.listenIp).toBe('127.0.0.1');
    expect(c.cameras).toHaveLength(1);
    expect(c.cameras[0]).toMatchObject({ id: 'demo-1', codec: 'H264', h264Profile: 'baseline', source: { kind: 'test-pattern', bitrate: 1_500_000 } });
  });

  it('an empty file is valid and fills defaults', () => {
    const c = parseConfig({});
    expect(c.workers.count).toBe('auto');
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
    expect(issues({ cameras: [{ id: 'a', source: { kind: 'onvif' } }] })).toEqual(['cameras[0].source.kind: is not one of the known kinds']);
    expect(issues({ cameras: [{ id: 'a', source: { kind: 'rtsp' } }] })).toEqual(['cameras[0].source.url: is required']);
    expect(issues({ webrtc: { listenIp: 'localhost' } })).toEqual(['webrtc.listenIp: must be an IPv4 or IPv6 address']);
    // A pattern failure says what the key must be, not the regular expression.
    expect(issues({ cameras: [{ id: 'a', source: { kind: 'rtsp', url: 'rtsp://admin:pw@10.0.0.9/stream' } }] })).toEqual([
      'cameras[0].source.url: must be an rtsp:// URL without credentials (put them in username/password)',
    ]);
    expect(issues({ cameras: [{ id: 'a', source: { kind: 'test-pattern', fps: 0 } }] })).toEqual(['cameras[0].source.fps: must be >= 1']);
  });

  it('semantic checks: duplicate camera ids, RS256 without a key', () => {
    const cam = { id: 'a', source: { kind: 'test-pattern' } };
    expect(issues({ cameras: [cam, cam] })).toEqual(['cameras[1].id: duplicate camera id "a"']);
    expect(issues({ auth: { algorithm: 'RS256' } })).toEqual(['auth.publicKeyFile: is required for RS256 (or auth.jwks)']);
  });

  it('security keys: key source per algorithm, JWKS file xor url, group scopes, TLS pair, TURN URIs', () => {
    expect(issues({ auth: { algorithm: 'RS256', jwks: { url: 'https://idp.example/jwks', file: '/k' } } })).toEqual([
      'auth.jwks: give exactly one of file or url',
    ]);
    expect(issues({ auth: { algorithm: 'RS256', jwks: {} } })).toEqual(['auth.jwks: give exactly one of file or url']);
    expect(issues({ auth: { algorithm: 'RS256', publicKeyFile: '/k', jwks: { url: 'https://idp.example/jwks' } } })).toEqual([
      'auth.jwks: give either auth.publicKeyFile or auth.jwks, not both',
    ]);
    expect(issues({ auth: { jwks: { url: 'https://idp.example/jwks' } } })).toEqual(['auth.jwks: only valid with RS256 or ES256']);
    expect(issues({ auth: { algorithm: 'RS256', jwks: { url: 'ftp://idp.example/jwks' } } })[0]).toMatch(/^auth\.jwks\.url: /);
    expect(issues({ auth: { groups: { ops: ['site:*'] } } })).toEqual(['auth.groups.ops: scope entry has an invalid site name']);
    expect(issues({ http: { tls: { certFile: '/c' } } })).toEqual(['http.tls.keyFile: is required']);
    expect(issues({ turn: { urls: ['stun:x.example'], secret: '0123456789abcdef' } })[0]).toMatch(/^turn\.urls\[0\]: /);
    const ok = parseConfig({ turn: { urls: ['turn:127.0.0.1:3478'], secret: '0123456789abcdef' } });
    expect(ok.turn?.ttlSec).toBe(3600);
    expect(ok.rateLimits.joinPerIp).toEqual({ burst: 60, perSec: 2 });
    expect(ok.revocations.file).toBe('.vigil/revocations.json');
  });

  it('reports unreadable files and bad JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "http": ');
    await expect(loadConfig(bad)).rejects.toThrow(/not valid JSON/);
    await expect(loadConfig(join(dir, 'missing.json'))).rejects.toThrow(/cannot read file: ENOENT/);
  });
});

describe('config: security bounds', () => {
  const rs = (jwks: Record<string, unknown>) => ({ auth: { algorithm: 'RS256', jwks } });

  it('auth.jwks.url: https anywhere, plain http only to a loopback host', () => {
    expect(issues(rs({ url: 'https://idp.example/jwks' }))).toEqual([]);
    for (const url of ['http://127.0.0.1:9/jwks', 'http://127.9.9.9/jwks', 'http://localhost/jwks', 'http://[::1]:8/jwks']) {
      expect(issues(rs({ url })), url).toEqual([]);
    }
    for (const url of ['http://idp.example/jwks', 'http://10.0.0.1/jwks', 'http://127.0.0.1.evil.example/jwks', 'http://128.0.0.1/jwks', 'http://[::2]/jwks']) {
      expect(issues(rs({ url })), url).toEqual([
        'auth.jwks.url: must be https:// (plain http only to a loopback host): anyone on the path could substitute the keys',
      ]);
    }
  });

  it('auth.jwks.minRefetchIntervalSec: 5 accepted, 4 refused', () => {
    expect(issues(rs({ url: 'https://idp.example/jwks', minRefetchIntervalSec: 5 }))).toEqual([]);
    expect(issues(rs({ url: 'https://idp.example/jwks', minRefetchIntervalSec: 4 }))).toEqual(['auth.jwks.minRefetchIntervalSec: must be >= 5']);
    expect(issues(rs({ url: 'https://idp.example/jwks', minRefetchIntervalSec: 0 }))).toEqual(['auth.jwks.minRefetchIntervalSec: must be >= 5']);
  });

  it('auth.maxTokenLifetimeSec: default 4 h, 60 s to 30 days; the demo token fits in it', () => {
    expect(parseConfig({}).auth.maxTokenLifetimeSec).toBe(14_400);
    expect(issues({ auth: { maxTokenLifetimeSec: 60 }, demo: { enabled: false } })).toEqual([]);
    expect(issues({ auth: { maxTokenLifetimeSec: 60 } })).toEqual(['demo.tokenTtlSec: must be <= auth.maxTokenLifetimeSec']);
    expect(issues({ auth: { maxTokenLifetimeSec: 59 } })).toEqual(['auth.maxTokenLifetimeSec: must be >= 60']);
    expect(issues({ auth: { maxTokenLifetimeSec: 2_592_000 } })).toEqual([]);
    expect(issues({ auth: { maxTokenLifetimeSec: 2_592_001 } })).toEqual(['auth.maxTokenLifetimeSec: must be <= 2592000']);
    expect(issues({ auth: { maxTokenLifetimeSec: 600 }, demo: { tokenTtlSec: 600 } })).toEqual([]);
    expect(issues({ auth: { maxTokenLifetimeSec: 600 }, demo: { tokenTtlSec: 601 } })).toEqual(['demo.tokenTtlSec: must be <= auth.maxTokenLifetimeSec']);
    expect(issues({ auth: { maxTokenLifetimeSec: 600 }, demo: { enabled: false, tokenTtlSec: 601 } })).toEqual([]);
  });

  it('audit.postgres: a libpq URI, defaults, and a node timeout of at least two heartbeats', () => {
    const url = 'postgresql://vigil:secret@db.internal:5432/vigil';
    expect(parseConfig({ audit: { postgres: { url } } }).audit).toMatchObject({
      queueMax: 10_000,
      postgres: { url, nodeTimeoutSec: 15, pollMs: 1000, connectTimeoutMs: 2000 },
    });
    expect(parseConfig({}).audit.postgres).toBeUndefined();
    expect(issues({ audit: { postgres: { url: 'mysql://db/vigil' } } })).toEqual(['audit.postgres.url: must be a postgresql:// connection URI']);
    expect(issues({ audit: { heartbeatSec: 5, postgres: { url, nodeTimeoutSec: 10 } } })).toEqual([]);
    expect(issues({ audit: { heartbeatSec: 5, postgres: { url, nodeTimeoutSec: 9 } } })).toEqual([
      'audit.postgres.nodeTimeoutSec: must be at least 2 × audit.heartbeatSec (live nodes would be taken for dead)',
    ]);
    expect(issues({ audit: { postgres: { url, nodeId: 'bad id' } } })).toEqual(['audit.postgres.nodeId: must be letters, digits, ".", "_", ":" and "-" only']);
  });

  it('auth.groups: scopes bounded like tokens (entry length, wildcard count)', () => {
    expect(issues({ auth: { groups: { g: ['a/**'.padEnd(128, 'x')] } } })).toEqual([]);
    expect(issues({ auth: { groups: { g: ['a/**'.padEnd(129, 'x')] } } })).toEqual(['auth.groups.g[0]: must NOT have more than 128 characters']);
    expect(issues({ auth: { groups: { g: Array.from({ length: 65 }, (_, i) => `g${i}/*`) } } })).toEqual([
      'auth.groups.g: too many wildcard scope entries (at most 64)',
    ]);
  });
  it('cluster: absent by default; redis URL, announced IP and heartbeat bound checked', () => {
    expect(parseConfig({}).cluster).toBeUndefined();
    const ok = parseConfig({ cluster: { redisUrl: 'redis://10.0.0.5:6379/0', nodeId: 'node-a', announcedAddress: '10.0.0.7' } }).cluster;
    expect(ok).toEqual({
      redisUrl: 'redis://10.0.0.5:6379/0',
      nodeId: 'node-a',
      announcedAddress: '10.0.0.7',
      heartbeatMs: 1000,
      nodeTimeoutMs: 3000,
      pipe: { listenIp: '0.0.0.0', portMin: 50000, portMax: 50999, requestTimeoutMs: 2000 },
    });
    expect(issues({ cluster: { redisUrl: 'redis://r:6379', announcedAddress: '::1', pipe: { portMin: 50010, portMax: 50000 } } })).toEqual([
      'cluster.pipe.portMax: must be at least cluster.pipe.portMin',
    ]);
    expect(issues({ cluster: { redisUrl: 'http://x:1', announcedAddress: '10.0.0.7' } })).toEqual(['cluster.redisUrl: must be a redis:// or rediss:// URL']);
    expect(issues({ cluster: { redisUrl: 'redis://r:6379', announcedAddress: 'node-a.local' } })).toEqual([
      'cluster.announcedAddress: must be an IPv4 or IPv6 address',
    ]);
    expect(issues({ cluster: { redisUrl: 'redis://r:6379', announcedAddress: '::1', heartbeatMs: 2000 } })).toEqual([
      'cluster.nodeTimeoutMs: must be at least twice cluster.heartbeatMs',
    ]);
    expect(issues({ cluster: { redisUrl: 'redis://r:6379', announcedAddress: '::1', nodeId: 'a b' } })).toEqual([
      'cluster.nodeId: must be letters, digits, ".", "_" and "-" only',
    ]);
  });

  it('http.trustedProxies: IPs and CIDRs (v4, v6) accepted; anything else named by index', () => {
    expect(parseConfig({ http: { trustedProxies: ['10.0.0.0/8', '192.0.2.7', 'fd00::/8', '::1'] } }).http.trustedProxies).toHaveLength(4);
    expect(issues({ http: { trustedProxies: ['10.0.0.0/8', 'lb.example', '10.0.0.0/33'] } })).toEqual([
      'http.trustedProxies[1]: not an IP address or CIDR',
      'http.trustedProxies[2]: not an IP address or CIDR',
    ]);
  });

  it('{ "$env": NAME } takes a value from the environment (secrets, per-pod address); unset is a config error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-env-'));
    const file = join(dir, 'c.json');
    writeFileSync(
      file,
      JSON.stringify({
        auth: { secret: { $env: 'VIGIL_TEST_SECRET_X' } },
        cluster: { redisUrl: 'redis://r:6379', nodeId: { $env: 'VIGIL_TEST_POD' }, announcedAddress: { $env: 'VIGIL_TEST_POD_IP' } },
      }),
    );
    process.env['VIGIL_TEST_SECRET_X'] = 's'.repeat(40);
    process.env['VIGIL_TEST_POD'] = 'vigil-2';
    process.env['VIGIL_TEST_POD_IP'] = '10.1.2.3';
    try {
      const c = await loadConfig(file);
      expect(c.auth.secret).toBe('s'.repeat(40));
      expect([c.cluster?.nodeId, c.cluster?.announcedAddress]).toEqual(['vigil-2', '10.1.2.3']);
      delete process.env['VIGIL_TEST_POD_IP'];
      const err = (await loadConfig(file).then(
        () => undefined,
        (e: unknown) => e,
      )) as { issues: string[]; message: string };
      expect(err.issues).toEqual(['cluster.announcedAddress: environment variable VIGIL_TEST_POD_IP is not set']);
      expect(err.message).not.toContain('s'.repeat(40));
    } finally {
      delete process.env['VIGIL_TEST_SECRET_X'];
      delete process.env['VIGIL_TEST_POD'];
      delete process.env['VIGIL_TEST_POD_IP'];
    }
  });
});
