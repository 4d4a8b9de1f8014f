/**
 * The root logger never writes a planted secret: key-based redaction
 * (token, secret, password, apiKey, authorization) and pattern scrubbing of
 * URL credentials (RTSP), JWTs and bearer credentials anywhere in a line.
 */
import { Writable } from 'node:stream';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log/logger.ts';
import { scrubString } from '../src/log/scrub.ts';

const PASSWORD = 'Pl4nted-Passw0rd';
const JWT = jwt.sign({ sub: 'u', cameras: ['*'] }, 'planted-hs256-secret-0123456789abcdef', { expiresIn: 60 });
const API_KEY = 'planted-admin-key-0123456789-abcdefghijk';

function capture(level: 'trace' | 'info' = 'trace') {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  // pino writes to a DestinationStream (an object with write(string)).
  const logger = createLogger(level, { write: (s: string) => void dest.write(s) });
  return { logger, text: () => lines.join('') };
}

describe('log redaction', () => {
  it('scrubs URL credentials, JWTs and bearer credentials by pattern', () => {
    expect(scrubString(`rtsp://admin:${PASSWORD}@10.0.0.5:554/stream1`)).toBe('rtsp://[redacted]@10.0.0.5:554/stream1');
    expect(scrubString(`token=${JWT}&x=1`)).toBe('token=[redacted-jwt]&x=1');
    expect(scrubString(`Authorization: Bearer ${API_KEY}`)).toBe('Authorization: Bearer [redacted]');
    // No match across JSON fields, no change to plain text or e-mail addresses.
    const json = '{"url":"http://cam.local/x","user":"bob@example.com"}';
    expect(scrubString(json)).toBe(json);
  });

  it('writes no planted secret whatever field or message it is in', () => {
    const { logger, text } = capture();
    const rtsp = `rtsp://admin:${PASSWORD}@10.0.0.5:554/Streaming/Channels/101`;
    const child = logger.child({ component: 'relay', source: rtsp });
    child.info({ url: rtsp }, 'camera source');
    child.warn(`cannot open ${rtsp}`);
    child.error(new Error(`ffmpeg failed on ${rtsp}`));
    logger.info({ token: JWT, nested: { token: JWT, password: PASSWORD, apiKey: API_KEY } }, 'join');
    logger.info({ headers: { authorization: `Bearer ${API_KEY}` } }, 'request');
    logger.debug({ frame: JSON.stringify({ type: 'join', token: JWT }) }, 'raw frame');
    logger.info('viewer used %s', JWT);
    const out = text();
    expect(out.split('\n').filter(Boolean)).toHaveLength(7);
    for (const secret of [PASSWORD, JWT, JWT.split('.')[2]!, API_KEY]) expect(out).not.toContain(secret);
    expect(out).toContain('rtsp://[redacted]@10.0.0.5:554/Streaming/Channels/101');
    expect(out).toContain('[redacted-jwt]');
    // Still structured JSON, one event per line.
    for (const line of out.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });
});
