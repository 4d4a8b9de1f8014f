/**
 * WHEP (draft-ietf-wish-whep on RFC 9725) against a real Vigil: real
 * mediasoup worker, ffmpeg test-pattern cameras, and players nobody here
 * wrote:
 * - aiortc (Python; libvpx and FFmpeg through PyAV) POSTs its own offer and
 *   DECODES frames, VP8 and H.264, each at the payload types it offered;
 * - the HTTP contract with a Chromium offer from a file (the README's curl
 *   example): 201 + Location + ETag, PATCH trickle / ICE restart / stale
 *   If-Match, DELETE, CORS preflight, and every typed refusal;
 * - a WHEP session is a viewer session: quota, revocation, expiry and the
 *   audit trail behave as for a WebSocket viewer.
 * The third-party browser player (@eyevinn/webrtc-player in Chromium and
 * Firefox) is in whep-player.test.ts.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import { startTestVigil, testCamera, TEST_SECRET, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { runAiortc } from '../helpers/aiortc.ts';

const OFFER = readFileSync(new URL('../fixtures/whep-offer-chromium.sdp', import.meta.url), 'utf8');

let vigil: TestVigil;

beforeAll(async () => {
  vigil = await startTestVigil({
    // Sessions end at exp exactly (no clock tolerance), for the expiry case.
    auth: { secret: TEST_SECRET, clockToleranceSec: 0 },
    http: { host: '127.0.0.1', port: 0, allowedOrigins: ['https://ops.example'] },
    cameras: [testCamera('gate-vp8', 'VP8'), testCamera('gate-h264', 'H264'), testCamera('vault', 'VP8')],
  });
  await waitFor(() => vigil.media.cameras().every((c) => c.state === 'live'), 15_000);
});

afterAll(async () => {
  await vigil?.close();
});

function token(claims: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub: 'whep-viewer', cameras: ['gate-*'], iss: vigil.config.auth.issuer, aud: vigil.config.auth.audience, exp: now + 300, jti: randomUUID(), ...claims };
  return jwt.sign(payload, TEST_SECRET, { algorithm: 'HS256' });
}

function post(camera: string, o: { token?: string; body?: string; type?: string; origin?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': o.type ?? 'application/sdp' };
  if (o.token !== undefined) headers['authorization'] = `Bearer ${o.token}`;
  if (o.origin) headers['origin'] = o.origin;
  return fetch(`${vigil.url}/whep/${camera}`, { method: 'POST', headers, body: o.body ?? OFFER });
}

async function errorOf(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

describe('aiortc plays a camera over WHEP and decodes it', () => {
  it.each([
    ['VP8', 'gate-vp8'],
    ['H264', 'gate-h264'],
  ])('%s: frames decoded at the size sent, at the payload type aiortc offered', async (codec, camera) => {
    const r = await runAiortc('whep_client.py', [`${vigil.url}/whep/${camera}`, token(), '--frames', '15', '--timeout', '35', '--codec', codec], 50_000);
    expect(r.error).toBeNull();
    expect(r.status).toBe(201);
    expect(r.codec).toBe(`video/${codec}`);
    expect(r.frames).toBeGreaterThanOrEqual(15);
    expect({ width: r.width, height: r.height }).toEqual({ width: 640, height: 360 });
    expect(r.exitCode).toBe(0);
    expect(r['deleted']).toBe(200);
    // The client DELETEd its session: it is gone from the registry and the audit row ended 'left'.
    await waitFor(() => vigil.whep.size === 0, 5_000);
    const rows = await vigil.audit!.query({ camera, subject: 'whep-viewer', limit: 10 });
    expect(rows.at(-1)).toMatchObject({ camera, subject: 'whep-viewer', endReason: 'left' });
  });

  it('an offer without the camera codec is refused 406 (no common codec)', async () => {
    const r = await runAiortc('whep_client.py', [`${vigil.url}/whep/gate-h264`, token(), '--codec', 'VP8', '--timeout', '5']);
    expect(r.status).toBe(406);
    expect(r.frames).toBe(0);
  });
});

describe('the HTTP contract (a Chromium offer from a file)', () => {
  it('201 with an sendonly ICE-lite answer at the offer payload type, Location and ETag; DELETE ends it', async () => {
    // H.264: Chromium's H.264 payload types are not the ones the shared router gives H.264.
    const res = await post('gate-h264', { token: token() });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/sdp/);
    const location = res.headers.get('location')!;
    expect(location).toMatch(/^\/whep-sessions\/[A-Za-z0-9_-]{22}$/);
    expect(res.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(res.headers.get('accept-patch')).toBe('application/trickle-ice-sdpfrag');
    const answer = await res.text();
    const video = answer.split(/\r\nm=/)[1]!;
    const pt = /^video 9 UDP\/TLS\/RTP\/SAVPF (\d+)\r\n/.exec(video)![1]!;
    // The offer's own payload type for H.264, with the offer's parameters for it (RFC 3264 §6.1).
    expect(OFFER).toContain(`a=rtpmap:${pt} H264/90000`);
    expect(video).toContain(`a=rtpmap:${pt} H264/90000`);
    const offered = new RegExp(`a=fmtp:${pt} (.*)`).exec(OFFER)![1]!.split(';');
    const answered = new RegExp(`a=fmtp:${pt} (.*)`).exec(video)![1]!.split(';');
    expect(answered.find((p) => p.startsWith('packetization-mode'))).toBe(offered.find((p) => p.startsWith('packetization-mode')));
    // Same profile: profile_idc and constraint flags, the first 4 hex digits (RFC 6184 §8.1).
    expect(answered.find((p) => p.startsWith('profile-level-id'))?.slice(0, 21)).toBe(offered.find((p) => p.startsWith('profile-level-id'))?.slice(0, 21));
    expect(video).toContain('a=sendonly');
    expect(video).toContain('a=setup:passive');
    expect(video).toMatch(/a=ssrc:\d+ cname:\S+/);
    expect(video).toMatch(/a=ssrc:\d+ msid:\S+ \S+/);
    expect(video).toMatch(/a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/);
    expect(video).toContain('a=end-of-candidates');
    expect(answer).toContain('a=ice-lite');
    expect(answer).toMatch(/a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    expect(answer).toContain('a=group:BUNDLE 0 1');
    expect(answer.split(/\r\nm=/)[2]).toContain('a=inactive');
    // Every payload type in the answer is one the offer gave that codec (RFC 3264 §6.1).
    for (const [, pt, name] of answer.matchAll(/a=rtpmap:(\d+) ([\w-]+)\//g)) expect(OFFER).toContain(`a=rtpmap:${pt} ${name}/`);
    const session = vigil.whep.get(location.split('/').at(-1)!)!;
    expect([...vigil.signaling.sessions].some((s) => s.id === session.sessionId)).toBe(true);
    const del = await fetch(vigil.url + location, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect([...vigil.signaling.sessions].some((s) => s.id === session.sessionId)).toBe(false);
    expect((await fetch(vigil.url + location, { method: 'DELETE' })).status).toBe(404);
  });

  it('PATCH: trickled candidates 204, ICE restart 200 with new credentials and ETag, a stale If-Match 412', async () => {
    const res = await post('gate-vp8', { token: token() });
    const location = vigil.url + res.headers.get('location');
    const etag = res.headers.get('etag')!;
    const serverUfrag = /a=ice-ufrag:(\S+)/.exec(await res.text())![1];
    const ufrag = /a=ice-ufrag:(\S+)/.exec(OFFER)![1];
    const pwd = /a=ice-pwd:(\S+)/.exec(OFFER)![1];
    const frag = (u: string, p: string) => `a=ice-ufrag:${u}\r\na=ice-pwd:${p}\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2113937151 192.0.2.1 5000 typ host\r\na=end-of-candidates\r\n`;
    const patch = (body: string, ifMatch?: string, type = 'application/trickle-ice-sdpfrag') =>
      fetch(location, { method: 'PATCH', headers: { 'content-type': type, ...(ifMatch ? { 'if-match': ifMatch } : {}) }, body });
    expect((await patch(frag(ufrag!, pwd!), etag)).status).toBe(204);
    expect((await patch(frag(ufrag!, pwd!), undefined, 'application/sdp')).status).toBe(415);
    expect((await patch('a=candidate:1 1 udp 1 192.0.2.1 5000 typ host\r\n', etag)).status).toBe(400);
    const restart = await patch(frag('newufrag', 'newpassword0123456789012'), '*');
    expect(restart.status).toBe(200);
    const body = await restart.text();
    expect(body).toMatch(/a=ice-ufrag:\S+/);
    expect(body).not.toContain(`a=ice-ufrag:${serverUfrag}`);
    expect(body).toMatch(/a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/);
    const newEtag = restart.headers.get('etag');
    expect(newEtag).not.toBe(etag);
    expect((await patch(frag('newufrag', 'newpassword0123456789012'), etag)).status).toBe(412);
    expect((await patch(frag('newufrag', 'newpassword0123456789012'), newEtag!)).status).toBe(204);
    await fetch(location, { method: 'DELETE' });
    for (const s of vigil.whep.values()) s.close();
  });

  it('typed refusals: 415, 401, 404 (unknown or out of scope alike), 400, 403 origin, 429 quota', async () => {
    expect((await post('gate-vp8', { token: token(), type: 'application/json', body: '{}' })).status).toBe(415);
    const noToken = await post('gate-vp8');
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await post('gate-vp8', { token: 'not.a.jwt' })).status).toBe(401);
    expect((await post('gate-vp8', { token: token({ exp: Math.floor(Date.now() / 1000) - 10 }) })).status).toBe(401);
    const unknown = await post('no-such-camera', { token: token({ cameras: ['*'] }) });
    const outOfScope = await post('vault', { token: token() });
    expect([unknown.status, outOfScope.status]).toEqual([404, 404]);
    expect(await errorOf(unknown)).toBe(await errorOf(outOfScope));
    const bad = await post('gate-vp8', { token: token(), body: 'v=0\r\nthis is not an offer\r\n' });
    expect(bad.status).toBe(400);
    expect(await errorOf(bad)).toBe('bad_sdp');
    expect((await post('gate-vp8', { token: token(), body: OFFER.replace(/m=video[\s\S]*?(?=m=audio)/, '') })).status).toBe(400);
    expect((await post('gate-vp8', { token: token(), origin: 'https://evil.example' })).status).toBe(403);
    // maxStreams 1: a second viewing of the subject is over quota, as on the WebSocket.
    const quota = token({ sub: 'one-stream', maxStreams: 1 });
    const first = await post('gate-vp8', { token: quota });
    expect(first.status).toBe(201);
    const second = await post('gate-h264', { token: quota });
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('1');
    await fetch(vigil.url + first.headers.get('location'), { method: 'DELETE' });
    expect((await post('gate-h264', { token: quota })).status).toBe(201);
    for (const s of vigil.whep.values()) s.close();
    expect(vigil.whep.size).toBe(0);
  });

  it('CORS: the preflight of an allowed origin names the methods and headers; a refused origin gets none', async () => {
    const pre = await fetch(`${vigil.url}/whep/gate-vp8`, {
      method: 'OPTIONS',
      headers: { origin: 'https://ops.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://ops.example');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect(pre.headers.get('access-control-expose-headers')).toMatch(/Location/);
    expect(pre.headers.get('accept-post')).toBe('application/sdp');
    const refused = await fetch(`${vigil.url}/whep/gate-vp8`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('a WHEP session is a viewer session', () => {
  it('revoking its token ends it; the audit row ends revoked', async () => {
    const jti = randomUUID();
    const res = await post('gate-vp8', { token: token({ sub: 'to-revoke', jti }) });
    expect(res.status).toBe(201);
    const id = res.headers.get('location')!.split('/').at(-1)!;
    const sessionId = vigil.whep.get(id)!.sessionId;
    expect((await vigil.admin('POST', '/revocations', { jti })).status).toBe(201);
    await waitFor(() => !vigil.whep.has(id), 5_000);
    expect([...vigil.signaling.sessions].some((s) => s.id === sessionId)).toBe(false);
    expect((await fetch(vigil.url + res.headers.get('location'), { method: 'DELETE' })).status).toBe(404);
    const row = (await vigil.audit!.query({ subject: 'to-revoke', limit: 5 })).at(-1);
    expect(row).toMatchObject({ sessionId, camera: 'gate-vp8', endReason: 'revoked' });
  });

  it('removing its camera ends it (the player POSTs again); the audit row says camera_gone', async () => {
    expect((await vigil.admin('POST', '/cameras', testCamera('gate-temp', 'VP8'))).status).toBe(201);
    await waitFor(() => vigil.media.camera('gate-temp')?.state === 'live', 15_000);
    const res = await post('gate-temp', { token: token({ sub: 'temp-viewer' }) });
    expect(res.status).toBe(201);
    const id = res.headers.get('location')!.split('/').at(-1)!;
    expect((await vigil.admin('DELETE', '/cameras/gate-temp')).status).toBe(204);
    await waitFor(() => !vigil.whep.has(id), 5_000);
    expect((await vigil.audit!.query({ subject: 'temp-viewer', limit: 5 })).at(-1)).toMatchObject({ camera: 'gate-temp', endDetail: 'camera_gone' });
  });

  it('it ends when its token expires', async () => {
    const res = await post('gate-vp8', { token: token({ sub: 'short', exp: Math.floor(Date.now() / 1000) + 2 }) });
    expect(res.status).toBe(201);
    const id = res.headers.get('location')!.split('/').at(-1)!;
    expect(vigil.whep.has(id)).toBe(true);
    await waitFor(() => !vigil.whep.has(id), 6_000);
    const row = (await vigil.audit!.query({ subject: 'short', limit: 5 })).at(-1);
    expect(row?.endedAt).not.toBeNull();
    expect(row?.endDetail ?? row?.endReason).toMatch(/expired/);
  });
});
