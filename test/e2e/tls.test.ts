/**
 * HTTPS and WSS with configured certificate paths (`http.tls`): a
 * self-signed certificate made by Debian's openssl for 127.0.0.1, a real
 * fastify HTTPS server, and a wss client that verifies the certificate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '@vigil/protocol';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { WsClient } from '../helpers/ws-client.ts';

let vigil: TestVigil;
let ca: Buffer;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  ca = readFileSync(certFile);
  vigil = await startTestVigil({
    http: { host: '127.0.0.1', port: 0, tls: { certFile, keyFile } },
    cameras: [testCamera('tls/1', 'VP8')],
  });
  await waitFor(() => vigil.media.camera('tls/1')?.state === 'live', 15_000);
});

afterAll(async () => {
  await vigil?.close();
});

function httpsStatus(path: string, opts: { ca?: Buffer } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`${vigil.url}${path}`, opts, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('HTTPS / WSS', () => {
  it('serves HTTPS with the configured certificate', async () => {
    expect(vigil.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await httpsStatus('/healthz', { ca })).toBe(200);
    // A client that does not trust the certificate is refused by TLS itself.
    await expect(httpsStatus('/healthz')).rejects.toThrow(/self-signed|self signed/);
  });

  it('a viewer joins, gets a transport and consumes over WSS', async () => {
    const c = await WsClient.open(vigil.url, undefined, { ca });
    expect(c.ws.url).toMatch(/^wss:/);
    expect((await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: vigil.token(['tls/*']) })).ok).toBe(true);
    const t = await c.request({ type: 'createRecvTransport' });
    if (!t.ok) throw new Error('refused');
    const r = await c.request({
      type: 'consume',
      transportId: (t.data as { id: string }).id,
      cameraId: 'tls/1',
      rtpCapabilities: vigil.gateway.rtpCapabilities as unknown as Record<string, unknown>,
    });
    expect(r.ok).toBe(true);
    c.close();
  });

  it('plain ws:// to the TLS port does not get a WebSocket', async () => {
    const plain = new WebSocket(`${vigil.url.replace(/^https/, 'ws')}/ws`);
    const outcome = await new Promise<string>((resolve) => {
      plain.once('open', () => resolve('open'));
      plain.once('error', () => resolve('error'));
      plain.once('unexpected-response', () => resolve('error'));
    });
    plain.terminate();
    expect(outcome).toBe('error');
  });
});

// What turns this red: the server accepting TLS 1.0/1.1. Two things refuse
// them today: Vigil's own `minVersion: 'TLSv1.2'` (server/src/http/app.ts)
// and OpenSSL 3's default security level (TLS < 1.2 needs SECLEVEL=0 on the
// server). Lowering Vigil's minVersion alone keeps this green on OpenSSL 3;
// lowering it together with a server cipher string at SECLEVEL=0 turns it red
// (tried). The test holds the promise, whichever layer keeps it.
describe('TLS versions', () => {
  /** Handshakes with the server offering only `version`; resolves with the negotiated protocol or the error code. */
  function handshake(version: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'): Promise<string> {
    const { port } = new URL(vigil.url);
    return new Promise((resolve) => {
      // SECLEVEL=0 lets this client offer the old versions at all (OpenSSL 3 refuses them by default):
      // whatever is refused is then refused by the server.
      const socket = connect({ host: '127.0.0.1', port: Number(port), ca, minVersion: version, maxVersion: version, ciphers: 'DEFAULT:@SECLEVEL=0' }, () => {
        resolve(socket.getProtocol() ?? 'none');
        socket.end();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
  }

  it('refuses TLS 1.0 and 1.1, accepts 1.2 and 1.3 (TLS >= 1.2, as README says)', async () => {
    expect(await handshake('TLSv1.3')).toBe('TLSv1.3');
    expect(await handshake('TLSv1.2')).toBe('TLSv1.2');
    expect(await handshake('TLSv1.1')).toMatch(/ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/);
    expect(await handshake('TLSv1')).toMatch(/ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/);
  });
});
