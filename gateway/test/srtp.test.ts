/**
 * SRTP pieces checked against the RFC and their error paths; the receive
 * path against a real sender (ffmpeg's SRTP) is in test/e2e/push-security.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pushSourceIssues } from '../src/config/push-source-checks.ts';
import type { CameraConfig } from '../src/config/schema.ts';
import { loadSrtpMasterKey, SrtpKeyError } from '../src/ingest/srtp-key.ts';
import { sessionKeys } from '../src/ingest/srtp.ts';

const dir = mkdtempSync(join(tmpdir(), 'vigil-srtp-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SRTP key derivation (RFC 3711 §4.3)', () => {
  it('matches the test vectors of Appendix B.3', () => {
    const k = sessionKeys(Buffer.from('E1F97A0D3E018BE0D64FA32C06DE4139', 'hex'), Buffer.from('0EC675AD498AFEEBB6960B3AABE6', 'hex'), false);
    expect(k.encKey.toString('hex').toUpperCase()).toBe('C61E7A93744F39EE10734AFE3FF7A087');
    expect(k.salt.toString('hex').toUpperCase()).toBe('30CBBC08863D8C85D49DB34A9AE1');
    expect(k.authKey.toString('hex').toUpperCase()).toBe('CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  });
});

describe('SRTP keys from config', () => {
  const secret = Buffer.alloc(30, 7).toString('base64');

  it('reads the base64 key from a file or a variable', async () => {
    const file = join(dir, 'ok.key');
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    expect((await loadSrtpMasterKey({ cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyFile: file }, 'p')).equals(Buffer.alloc(30, 7))).toBe(true);
    process.env['VIGIL_TEST_SRTP_KEY'] = secret;
    expect((await loadSrtpMasterKey({ cryptoSuite: 'AES_CM_128_HMAC_SHA1_32', keyEnv: 'VIGIL_TEST_SRTP_KEY' }, 'p')).length).toBe(30);
  });

  it('refuses a missing, short or non-base64 key, naming the reference and never the content', async () => {
    const short = join(dir, 'short.key');
    writeFileSync(short, Buffer.alloc(29, 1).toString('base64'));
    const junk = join(dir, 'junk.key');
    writeFileSync(junk, `${secret}!`);
    process.env['VIGIL_TEST_SRTP_JUNK'] = `${secret}#`;
    const cases: [Parameters<typeof loadSrtpMasterKey>[0], RegExp][] = [
      [{ cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyFile: join(dir, 'absent.key') }, /cam\.srtp\.keyFile \(.*absent\.key\): cannot read it \(ENOENT\)/],
      [{ cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyFile: short }, /not the base64 of a 30-byte master key and salt/],
      [{ cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyFile: junk }, /keyFile .* not the base64/],
      [{ cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyEnv: 'VIGIL_TEST_SRTP_UNSET' }, /keyEnv \(VIGIL_TEST_SRTP_UNSET\): the variable is not set/],
      [{ cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyEnv: 'VIGIL_TEST_SRTP_JUNK' }, /keyEnv \(VIGIL_TEST_SRTP_JUNK\): not the base64/],
    ];
    for (const [ref, message] of cases) {
      const err = await loadSrtpMasterKey(ref, 'cam.srtp').then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(SrtpKeyError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain(secret.slice(0, 8));
    }
  });

  it('the config names exactly one key reference', () => {
    const cam = (srtp: Record<string, unknown>) =>
      ({ id: 'c', codec: 'H264', source: { kind: 'rtp-push', port: 5004, ssrc: 1, payloadType: 96, srtp: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', ...srtp } } }) as unknown as CameraConfig;
    expect(pushSourceIssues(cam({ keyFile: '/k' }), '127.0.0.1')).toEqual([]);
    expect(pushSourceIssues(cam({}), '127.0.0.1')).toEqual(['camera.source.srtp: give exactly one of keyFile (a file holding the base64 key) or keyEnv (a variable holding it)']);
    expect(pushSourceIssues(cam({ keyFile: '/k', keyEnv: 'K' }), '127.0.0.1')).toHaveLength(1);
  });
});
