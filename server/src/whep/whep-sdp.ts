/**
 * SDP for WHEP (draft-ietf-wish-whep, on the WHIP model of RFC 9725): reads
 * a player's offer, writes Vigil's answer, reads and writes trickle ICE
 * fragments (RFC 8840, `application/trickle-ice-sdpfrag`).
 *
 * Parsing and writing is sdp-transform's; RTP capabilities and DTLS
 * parameters are read from the offer by mediasoup-client's own
 * `extractRtpCapabilities` / `extractDtlsParameters` (the functions its
 * browser handlers use, so the capabilities have the shape mediasoup
 * validates). The answer is written here: mediasoup-client's
 * `RemoteAnswerMediaSection` always answers `recvonly` (it is written for a
 * client that sends), and a WHEP answer is `sendonly` with the consumer's
 * SSRC and msid.
 *
 * The answer (RFC 3264 §6, RFC 8829 §5.3): `a=ice-lite` (mediasoup is an
 * ICE-lite agent, RFC 8445 §2.5) with the WebRtcServer's host candidates and
 * `a=end-of-candidates`, the DTLS fingerprint, `a=setup:passive` to an
 * `actpass`/`active` offer (RFC 5763 §5), `a=rtcp-mux`, one BUNDLE group
 * (RFC 9143). The offer's first video section is answered `sendonly` with the
 * consumer's codec at the offer's payload type, the header extensions both
 * sides use (the offer's ids), `a=ssrc` cname/msid and `a=msid`; its other
 * audio/video sections `inactive`; any other section (data channel) is
 * rejected (port 0) and left out of the BUNDLE group.
 */
import { randomBytes } from 'node:crypto';
import * as sdpTransform from 'sdp-transform';
import { extractDtlsParameters, extractRtpCapabilities } from 'mediasoup-client/handlers/sdp/commonUtils';
import type { MediaJson } from '@vigil/gateway';

/** A WHEP request Vigil cannot serve, with its HTTP status (RFC 9110 §15). */
export class WhepError extends Error {
  readonly status: number;
  /** Machine-readable, as the SDK protocol's error codes. */
  readonly code: string;
  /** Seconds, for 429 and 503 (RFC 9110 §10.2.3). */
  readonly retryAfterSec: number | undefined;

  constructor(status: number, code: string, message: string, retryAfterSec?: number) {
    super(message);
    this.name = 'WhepError';
    this.status = status;
    this.code = code;
    this.retryAfterSec = retryAfterSec;
  }
}

/** What Vigil needs from a player's offer. */
export interface WhepOffer {
  /** The parsed offer (sdp-transform). */
  sdp: sdpTransform.SessionDescription;
  /** Index of the media section Vigil sends video in (the first video section the player can receive on). */
  videoIndex: number;
  /** The player's RTP capabilities: codecs at its payload types, header extensions at its ids. */
  rtpCapabilities: MediaJson;
  /** For `transport.connect()`: the player's fingerprints and DTLS role (RFC 5763). */
  dtlsParameters: { role: 'client' | 'server'; fingerprints: { algorithm: string; value: string }[] };
  /** The player's ICE credentials (RFC 8839 §5.4), to tell an ICE restart from trickled candidates. */
  ice: { ufrag: string; pwd: string };
}

/** Longest offer read, bytes (a browser's audio+video offer is 5-8 KB). */
export const MAX_SDP_BYTES = 32 * 1024;

/**
 * Reads a WHEP offer.
 * @param text the request body (`application/sdp`)
 * @throws WhepError 400 `bad_sdp` when it is not an SDP offer Vigil can answer
 *   (no video section to receive on, no ICE credentials, no fingerprint, a
 *   `holdconn` setup), with why in words
 */
export function parseOffer(text: string): WhepOffer {
  if (text.length === 0 || text.length > MAX_SDP_BYTES) throw badSdp(`the offer must be 1 to ${MAX_SDP_BYTES} bytes of SDP`);
  if (!text.startsWith('v=0')) throw badSdp('the offer is not SDP (it must start with v=0)');
  let sdp: sdpTransform.SessionDescription;
  try {
    sdp = sdpTransform.parse(text);
  } catch {
    throw badSdp('the offer is not valid SDP');
  }
  const media = sdp.media ?? [];
  const videoIndex = media.findIndex((m) => m.type === 'video' && m.port !== 0 && (m.direction === 'recvonly' || m.direction === 'sendrecv' || m.direction === undefined));
  if (videoIndex < 0) throw badSdp('the offer has no video section to receive on (m=video, recvonly)');
  const video = media[videoIndex]!;
  if (!Array.isArray(video.rtp) || video.rtp.length === 0) throw badSdp('the video section lists no codec');
  const ufrag = video.iceUfrag ?? sdp.iceUfrag;
  const pwd = video.icePwd ?? sdp.icePwd;
  if (!ufrag || !pwd) throw badSdp('the offer has no ICE credentials (a=ice-ufrag, a=ice-pwd)');
  let rtpCapabilities: MediaJson;
  let dtls: { role?: string; fingerprints: { algorithm: string; value: string }[] };
  try {
    rtpCapabilities = extractRtpCapabilities({ sdpObject: sdp }) as unknown as MediaJson;
    dtls = extractDtlsParameters({ sdpObject: sdp }) as unknown as typeof dtls;
  } catch {
    throw badSdp('the offer cannot be read (codecs, a=setup or a=fingerprint)');
  }
  const setup = video.setup ?? sdp.setup;
  // actpass/active offer: Vigil answers passive, so the player is the DTLS client (RFC 5763 §5).
  let role: 'client' | 'server';
  if (setup === 'actpass' || setup === 'active') role = 'client';
  else if (setup === 'passive') role = 'server';
  else throw badSdp('the offer has no usable a=setup (actpass, active or passive)');
  // mediasoup compares fingerprints as upper-case hex (RFC 8122 §5 allows either case).
  const fingerprints = dtls.fingerprints.map((f) => ({ algorithm: f.algorithm.toLowerCase(), value: f.value.toUpperCase() }));
  return { sdp, videoIndex, rtpCapabilities, dtlsParameters: { role, fingerprints }, ice: { ufrag, pwd } };
}

/** What the answer is written from: the transport's and the consumer's parameters (media API JSON). */
export interface AnswerInput {
  offer: WhepOffer;
  /** `ViewerTransport.params` */
  transport: { iceParameters: MediaJson; iceCandidates: MediaJson[]; dtlsParameters: MediaJson };
  /** `ViewerConsumer.rtpParameters` (codecs at the offer's payload types) */
  rtpParameters: MediaJson;
  /** The msid stream id (RFC 8830), e.g. the camera id. */
  streamId: string;
  /** The msid track id, e.g. the consumer id. */
  trackId: string;
}

interface RtpCodec {
  mimeType: string;
  payloadType: number;
  clockRate: number;
  channels?: number;
  parameters?: Record<string, unknown>;
  rtcpFeedback?: { type: string; parameter?: string }[];
}

interface Candidate {
  foundation: string;
  priority: number;
  address?: string;
  ip?: string;
  protocol: 'udp' | 'tcp';
  port: number;
  type: string;
  tcpType?: string;
}

/**
 * Writes the SDP answer to `input.offer` (see the file head for its shape).
 * @returns SDP text with CRLF line ends
 */
export function buildAnswer(input: AnswerInput): string {
  const { offer, transport } = input;
  const ice = transport.iceParameters as { usernameFragment: string; password: string };
  const dtls = transport.dtlsParameters as { fingerprints: { algorithm: string; value: string }[] };
  const fingerprint = dtls.fingerprints.find((f) => f.algorithm === 'sha-256') ?? dtls.fingerprints[0]!;
  const setup = offer.dtlsParameters.role === 'client' ? 'passive' : 'active';
  const rtp = input.rtpParameters as {
    codecs: RtpCodec[];
    headerExtensions?: { uri: string; id: number }[];
    encodings?: { ssrc?: number }[];
    rtcp?: { cname?: string };
  };
  const candidates = (transport.iceCandidates as unknown as Candidate[]).map((c) => ({
    foundation: c.foundation,
    component: 1,
    transport: c.protocol,
    priority: c.priority,
    ip: c.address ?? c.ip ?? '',
    port: c.port,
    type: c.type,
    ...(c.protocol === 'tcp' ? { tcptype: c.tcpType ?? 'passive' } : {}),
  }));
  const bundled: string[] = [];
  const media = (offer.sdp.media ?? []).map((m, index) => {
    const mid = m.mid === undefined ? String(index) : String(m.mid);
    if (m.type !== 'audio' && m.type !== 'video') {
      // Rejected (RFC 3264 §6): port 0, out of the BUNDLE group (RFC 9143 §7.3.3).
      return { type: m.type, port: 0, protocol: m.protocol, payloads: m.payloads, mid } as sdpTransform.MediaDescription;
    }
    bundled.push(mid);
    const common = {
      type: m.type,
      port: 9,
      protocol: m.protocol,
      connection: { version: 4, ip: '0.0.0.0' },
      rtcp: { port: 9, netType: 'IN', ipVer: 4, address: '0.0.0.0' },
      mid,
      iceUfrag: ice.usernameFragment,
      icePwd: ice.password,
      setup,
      rtcpMux: 'rtcp-mux',
      candidates,
      endOfCandidates: 'end-of-candidates',
    };
    if (index !== offer.videoIndex) {
      // Another audio/video section: nothing is sent in it; answered with the offer's first codec.
      const first = m.rtp[0]!;
      return {
        ...common,
        payloads: String(first.payload),
        direction: 'inactive',
        rtp: [first],
        fmtp: (m.fmtp ?? []).filter((f) => f.payload === first.payload),
      } as sdpTransform.MediaDescription;
    }
    const codecs = rtp.codecs;
    const ssrc = rtp.encodings?.[0]?.ssrc;
    const cname = rtp.rtcp?.cname ?? input.streamId;
    const msid = `${input.streamId} ${input.trackId}`;
    return {
      ...common,
      payloads: codecs.map((c) => c.payloadType).join(' '),
      direction: 'sendonly',
      rtcpRsize: 'rtcp-rsize',
      rtp: codecs.map((c) => ({
        payload: c.payloadType,
        codec: c.mimeType.split('/')[1]!,
        rate: c.clockRate,
        ...(c.channels && c.channels > 1 ? { encoding: c.channels } : {}),
      })),
      fmtp: codecs
        .filter((c) => c.parameters && Object.keys(c.parameters).length > 0)
        .map((c) => ({ payload: c.payloadType, config: Object.entries(c.parameters!).map(([k, v]) => `${k}=${String(v)}`).join(';') })),
      rtcpFb: codecs.flatMap((c) =>
        (c.rtcpFeedback ?? []).map((fb) => ({ payload: c.payloadType, type: fb.type, ...(fb.parameter ? { subtype: fb.parameter } : {}) })),
      ),
      ext: (rtp.headerExtensions ?? []).map((e) => ({ value: e.id, uri: e.uri })),
      msid: [{ id: input.streamId, appdata: input.trackId }],
      ...(ssrc === undefined
        ? {}
        : {
            ssrcs: [
              { id: ssrc, attribute: 'cname', value: cname },
              { id: ssrc, attribute: 'msid', value: msid },
            ],
          }),
    } as unknown as sdpTransform.MediaDescription;
  });
  const answer = {
    version: 0,
    origin: { username: '-', sessionId: BigInt(`0x${randomBytes(7).toString('hex')}`).toString(), sessionVersion: 2, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    fingerprint: { type: fingerprint.algorithm, hash: fingerprint.value },
    msidSemantic: { semantic: 'WMS', token: '*' },
    groups: [{ type: 'BUNDLE', mids: bundled.join(' ') }],
    media,
  } as unknown as sdpTransform.SessionDescription;
  return sdpTransform.write(answer);
}

/** What a trickle ICE fragment (RFC 8840 §9.2) carries that Vigil acts on. */
export interface TrickleFragment {
  /** The player's ICE credentials in the fragment (RFC 8840 §4.4: always present). */
  ufrag: string;
  pwd: string;
  /** Candidate lines (Vigil is ICE-lite: it answers checks from any address, so these only count). */
  candidates: number;
}

/**
 * Reads a PATCH body (`application/trickle-ice-sdpfrag`).
 * @throws WhepError 400 `bad_sdpfrag` when it has no ICE credentials or is too long
 */
export function parseTrickle(text: string): TrickleFragment {
  if (text.length > MAX_SDP_BYTES) throw new WhepError(400, 'bad_sdpfrag', `the fragment must be at most ${MAX_SDP_BYTES} bytes`);
  let ufrag: string | undefined;
  let pwd: string | undefined;
  let candidates = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('a=ice-ufrag:')) ufrag ??= line.slice('a=ice-ufrag:'.length);
    else if (line.startsWith('a=ice-pwd:')) pwd ??= line.slice('a=ice-pwd:'.length);
    else if (line.startsWith('a=candidate:')) candidates++;
  }
  if (!ufrag || !pwd) throw new WhepError(400, 'bad_sdpfrag', 'the fragment has no a=ice-ufrag / a=ice-pwd (RFC 8840 §4.4)');
  return { ufrag, pwd, candidates };
}

/**
 * The fragment answering an ICE restart (RFC 9725 §4.3.2): Vigil's new ICE
 * credentials and its candidates, for each bundled section of the offer.
 */
export function restartFragment(offer: WhepOffer, iceParameters: MediaJson, iceCandidates: MediaJson[]): string {
  const ice = iceParameters as { usernameFragment: string; password: string };
  const lines = ['a=ice-lite', `a=ice-ufrag:${ice.usernameFragment}`, `a=ice-pwd:${ice.password}`];
  const video = offer.sdp.media[offer.videoIndex]!;
  lines.push(`m=${video.type} 9 ${video.protocol} ${video.rtp[0]!.payload}`, `a=mid:${video.mid ?? offer.videoIndex}`);
  for (const c of iceCandidates as unknown as Candidate[]) {
    const tcp = c.protocol === 'tcp' ? ` tcptype ${c.tcpType ?? 'passive'}` : '';
    lines.push(`a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.address ?? c.ip} ${c.port} typ ${c.type}${tcp}`);
  }
  lines.push('a=end-of-candidates');
  return lines.join('\r\n') + '\r\n';
}

function badSdp(message: string): WhepError {
  return new WhepError(400, 'bad_sdp', message);
}
