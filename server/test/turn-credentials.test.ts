import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { turnCredentials } from '../src/auth/turn-credentials.ts';

describe('TURN REST API credentials', () => {
  it('username is "<expiry unix s>:<user>", credential base64(HMAC-SHA1(secret, username))', () => {
    const now = Date.UTC(2030, 0, 1);
    const { iceServer, expiresAt } = turnCredentials({ urls: ['turn:turn.example:3478'], secret: 'coturn-static-auth-secret', ttlSec: 600 }, 'user-42', now);
    expect(iceServer.username).toBe(`${now / 1000 + 600}:user-42`);
    expect(expiresAt).toBe(now + 600_000);
    expect(iceServer.urls).toEqual(['turn:turn.example:3478']);
    // Known-answer check of the construction (independent of the module's code path).
    expect(iceServer.credential).toBe(createHmac('sha1', 'coturn-static-auth-secret').update(`${now / 1000 + 600}:user-42`).digest('base64'));
    expect(Buffer.from(iceServer.credential, 'base64')).toHaveLength(20);
  });
});
