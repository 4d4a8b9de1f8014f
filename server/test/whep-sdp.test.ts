/**
 * WHEP SDP: reading a real Chromium offer (test/fixtures) and a Firefox-style
 * one, writing the answer from media API parameters, reading trickle ICE
 * fragments (RFC 8840). The end-to-end behaviour is in test/e2e/whep*.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as sdpTransform from 'sdp-transform';
import { buildAnswer, parseOffer, parseTrickle, restartFragment, WhepError } from '../src/whep/whep-sdp.ts';

const OFFER = readFileSync(new URL('../../test/fixtures/whep-offer-chromium.sdp', import.meta.url), 'utf8');

const transport = {
  iceParameters: { usernameFragment: 'srvufrag', password: 'srvpassword', iceLite: true },
  iceCandidates: [
    { foundation: 'udpcandidate', priority: 1076302079, address: '127.0.0.1', protocol: 'udp', port: 40000, type: 'host' },
    { foundation: 'tcpcandidate', priority: 1076276479, address: '127.0.0.1', protocol: 'tcp', port: 40000, type: 'host', tcpType: 'passive' },
  ],
  dtlsParameters: { role: 'auto', fingerprints: [{ algorithm: 'sha-256', value: 'AA:BB' }, { algorithm: 'sha-512', value: 'CC:DD' }] },
};

function rtpParameters(pt: number) {
  return {
    codecs: [{ mimeType: 'video/H264', payloadType: pt, clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' }, rtcpFeedback: [{ type: 'nack', parameter: '' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] }],
    headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:toffset', id: 1 }],
    encodings: [{ ssrc: 12345678 }],
    rtcp: { cname: 'camcname', reducedSize: true },
  };
}

describe('parseOffer', () => {
  it('reads a Chromium offer: the video section, capabilities at its payload types, DTLS client role, ICE credentials', () => {
    const o = parseOffer(OFFER);
    expect(o.videoIndex).toBe(0);
    const codecs = (o.rtpCapabilities as { codecs: { mimeType: string; preferredPayloadType: number }[] }).codecs;
    const vp8 = Number(/a=rtpmap:(\d+) VP8\/90000/.exec(OFFER)![1]);
    expect(codecs).toContainEqual(expect.objectContaining({ mimeType: 'video/VP8', preferredPayloadType: vp8 }));
    expect(o.dtlsParameters.role).toBe('client');
    expect(o.dtlsParameters.fingerprints[0]!.value).toMatch(/^([0-9A-F]{2}:)+[0-9A-F]{2}$/);
    expect(o.ice.ufrag).toBe(/a=ice-ufrag:(\S+)/.exec(OFFER)![1]);
  });

  it('upper-cases a lower-case fingerprint (mediasoup compares upper-case hex)', () => {
    const lower = OFFER.replace(/(a=fingerprint:sha-256 )(\S+)/, (_m, a: string, b: string) => a + b.toLowerCase());
    expect(parseOffer(lower).dtlsParameters.fingerprints[0]!.value).toBe(/a=fingerprint:sha-256 (\S+)/.exec(OFFER)![1]);
  });

  it('a passive offer makes the player the DTLS server', () => {
    expect(parseOffer(OFFER.replaceAll('a=setup:actpass', 'a=setup:passive')).dtlsParameters.role).toBe('server');
  });

  it.each([
    ['empty', ''],
    ['not SDP', 'hello'],
    ['no video section', OFFER.replace(/m=video[\s\S]*?(?=m=audio)/, '')],
    ['video sendonly (nothing to receive on)', OFFER.replace('a=recvonly', 'a=sendonly').replace(/(m=audio[\s\S]*)a=recvonly/, '$1a=recvonly')],
    ['no ICE credentials', OFFER.replace(/a=ice-ufrag:.*\r\n/g, '')],
    ['no fingerprint', OFFER.replace(/a=fingerprint:.*\r\n/g, '')],
    ['holdconn setup', OFFER.replaceAll('a=setup:actpass', 'a=setup:holdconn')],
    ['too long', 'v=0\r\n' + 'a=x\r\n'.repeat(10_000)],
  ])('refuses %s with 400 bad_sdp', (_name, text) => {
    expect(() => parseOffer(text)).toThrow(WhepError);
    try {
      parseOffer(text);
    } catch (err) {
      expect(err).toMatchObject({ status: 400, code: 'bad_sdp' });
    }
  });
});

describe('buildAnswer', () => {
  const offer = parseOffer(OFFER);
  const pt = Number(/a=rtpmap:(\d+) H264\/90000/.exec(OFFER)![1]);
  const answer = buildAnswer({ offer, transport, rtpParameters: rtpParameters(pt), streamId: 'vigil-cam', trackId: 'consumer-1' });
  const parsed = sdpTransform.parse(answer);

  it('is an ICE-lite answer with the sha-256 fingerprint and one BUNDLE group of the audio/video mids', () => {
    expect(parsed.icelite).toBe('ice-lite');
    expect(parsed.fingerprint).toEqual({ type: 'sha-256', hash: 'AA:BB' });
    expect(parsed.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
    expect(answer.endsWith('\r\n')).toBe(true);
  });

  it('answers the video section sendonly, passive, at the consumer payload type with its SSRC, msid and candidates', () => {
    const v = parsed.media[0]!;
    expect(String(v.mid)).toBe('0');
    expect(v).toMatchObject({ type: 'video', direction: 'sendonly', setup: 'passive', payloads: pt, iceUfrag: 'srvufrag', icePwd: 'srvpassword' });
    expect(v.rtp).toEqual([{ payload: pt, codec: 'H264', rate: 90000 }]);
    expect(v.fmtp).toEqual([{ payload: pt, config: 'packetization-mode=1;profile-level-id=42e01f' }]);
    expect(v.rtcpFb).toEqual([
      { payload: pt, type: 'nack' },
      { payload: pt, type: 'nack', subtype: 'pli' },
      { payload: pt, type: 'ccm', subtype: 'fir' },
    ]);
    expect(v.ext).toEqual([{ value: 1, uri: 'urn:ietf:params:rtp-hdrext:toffset' }]);
    expect(v.ssrcs).toEqual([
      { id: 12345678, attribute: 'cname', value: 'camcname' },
      { id: 12345678, attribute: 'msid', value: 'vigil-cam consumer-1' },
    ]);
    expect(answer).toContain('a=msid:vigil-cam consumer-1');
    expect(v.candidates).toEqual([
      expect.objectContaining({ transport: 'udp', ip: '127.0.0.1', port: 40000, type: 'host' }),
      expect.objectContaining({ transport: 'tcp', ip: '127.0.0.1', port: 40000, type: 'host', tcptype: 'passive' }),
    ]);
    expect(v.endOfCandidates).toBe('end-of-candidates');
  });

  it('answers the other audio/video sections inactive with an offered codec; rejects a data channel (port 0, out of BUNDLE)', () => {
    const a = parsed.media[1]!;
    expect(String(a.mid)).toBe('1');
    expect(a).toMatchObject({ type: 'audio', direction: 'inactive' });
    expect(OFFER).toContain(`a=rtpmap:${a.rtp[0]!.payload} ${a.rtp[0]!.codec}/`);
    const withData = OFFER.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0 1 2') + 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000\r\n';
    const o2 = parseOffer(withData);
    const p2 = sdpTransform.parse(buildAnswer({ offer: o2, transport, rtpParameters: rtpParameters(pt), streamId: 's', trackId: 't' }));
    expect(p2.media[2]).toMatchObject({ type: 'application', port: 0 });
    expect(String(p2.media[2]!.mid)).toBe('2');
    expect(p2.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
  });
});

describe('trickle ICE fragments (RFC 8840)', () => {
  it('reads credentials and counts candidates', () => {
    const f = parseTrickle('a=ice-ufrag:abcd\r\na=ice-pwd:efghijklmnopqrstuvwxyz12\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\na=candidate:1 1 udp 1 192.0.2.1 5000 typ host\r\na=candidate:2 1 udp 1 192.0.2.2 5000 typ host\r\na=end-of-candidates\r\n');
    expect(f).toEqual({ ufrag: 'abcd', pwd: 'efghijklmnopqrstuvwxyz12', candidates: 2 });
  });

  it('refuses a fragment without credentials', () => {
    expect(() => parseTrickle('a=candidate:1 1 udp 1 192.0.2.1 5000 typ host\r\n')).toThrow(expect.objectContaining({ status: 400, code: 'bad_sdpfrag' }));
  });

  it('the ICE restart fragment carries the new credentials and the candidates', () => {
    const text = restartFragment(parseOffer(OFFER), { usernameFragment: 'new', password: 'newpwd' }, transport.iceCandidates);
    expect(text).toContain('a=ice-ufrag:new\r\na=ice-pwd:newpwd\r\n');
    expect(text).toContain('a=mid:0\r\n');
    expect(text).toContain('a=candidate:udpcandidate 1 udp 1076302079 127.0.0.1 40000 typ host\r\n');
    expect(text).toContain('a=candidate:tcpcandidate 1 tcp 1076276479 127.0.0.1 40000 typ host tcptype passive\r\n');
    expect(text.endsWith('a=end-of-candidates\r\n')).toBe(true);
  });
});
