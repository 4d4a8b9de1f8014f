/**
 * What a viewer consumer does not negotiate: bandwidth estimation.
 *
 * mediasoup creates a transport's congestion-control client (libwebrtc's
 * send-side BWE, with its pacer and probation padding on SSRC 1234) for the
 * first video consumer whose RTP parameters carry the transport-wide-cc-01
 * header extension with `transport-cc` feedback, or abs-send-time with
 * `goog-remb` (mediasoup worker/src/RTC/Transport.cpp, CONSUME). Its estimate
 * only chooses simulcast/SVC layers, and a Vigil consumer has one encoding (a
 * camera's main and sub streams are separate producers; the SDK's `auto`
 * quality switches between them), so the estimate chooses nothing, while the
 * worker records every forwarded packet in a send history
 * (`webrtc::SendTimeHistory::AddNewPacket`, 13-15 % of the worker's profile),
 * parses the browser's feedback (transport-cc:
 * draft-holmer-rmcat-transport-wide-cc-extensions-01; REMB:
 * draft-alvestrand-rmcat-remb-03) and probes every viewer with padding.
 *
 * Without those header extensions and feedback types the browser sends
 * neither transport-cc feedback nor REMB; NACK, PLI/FIR and receiver reports
 * stay (RFC 4585, RFC 5104, RFC 3550). The browser then runs its own
 * receive-side estimate (libwebrtc RemoteBitrateEstimatorSingleStream, from
 * RTP timestamps) and reports it as `availableIncomingBitrate`; the SDK's
 * `auto` policy knows that estimate cannot rise far above what is received
 * (client-sdk/src/auto-quality.ts).
 */
import type { types } from 'mediasoup';

const TRANSPORT_CC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const ABS_SEND_TIME_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';

/**
 * The viewer's RTP capabilities without bandwidth estimation: no
 * transport-wide-cc-01 or abs-send-time header extension, no `transport-cc`
 * or `goog-remb` RTCP feedback; everything else (codecs, NACK, PLI/FIR, the
 * other header extensions) as given. Does not modify its argument.
 *
 * @param caps RTP capabilities in mediasoup's RtpCapabilities shape (a browser's, or a router's)
 * @returns a copy without them; mediasoup then runs no congestion-control client for the transport
 */
export function withoutBandwidthEstimation(caps: types.RtpCapabilities): types.RtpCapabilities {
  return strip(caps, [TRANSPORT_CC_URI, ABS_SEND_TIME_URI], ['transport-cc', 'goog-remb']);
}

/**
 * The capabilities without transport-cc only (abs-send-time and `goog-remb`
 * stay): the browser estimates receive-side and sends REMB, and mediasoup
 * runs its congestion-control client in REMB mode. Not what Vigil's viewers
 * negotiate; a lever `npm run bench:fanout` measures (`:remb`).
 *
 * @param caps RTP capabilities in mediasoup's RtpCapabilities shape
 * @returns a copy without the transport-wide-cc-01 extension and `transport-cc` feedback
 */
export function withoutTransportCc(caps: types.RtpCapabilities): types.RtpCapabilities {
  return strip(caps, [TRANSPORT_CC_URI], ['transport-cc']);
}

/** Malformed parts (not arrays, not objects) are passed through for mediasoup's own validation to refuse. */
function strip(caps: types.RtpCapabilities, uris: string[], feedback: string[]): types.RtpCapabilities {
  if (typeof caps !== 'object' || caps === null) return caps;
  const { codecs, headerExtensions } = caps;
  return {
    ...caps,
    codecs: Array.isArray(codecs)
      ? codecs.map((c) => (c && Array.isArray(c.rtcpFeedback) ? { ...c, rtcpFeedback: c.rtcpFeedback.filter((fb) => !feedback.includes(fb?.type)) } : c))
      : codecs,
    headerExtensions: Array.isArray(headerExtensions) ? headerExtensions.filter((h) => !uris.includes(h?.uri)) : headerExtensions,
  };
}
