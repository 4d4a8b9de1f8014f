/**
 * What a viewer consumer does not negotiate: send-side bandwidth estimation.
 *
 * mediasoup creates a transport's congestion-control client (libwebrtc's
 * send-side BWE) for the first video consumer whose RTP parameters carry the
 * transport-wide-cc-01 header extension with `transport-cc` feedback, or
 * abs-send-time with `goog-remb` (worker/src/RTC/Transport.cpp, CONSUME). The
 * estimate only chooses simulcast/SVC layers, and to raise it the transport
 * sends probation packets (padding on SSRC 1234). Vigil's consumers have one
 * encoding each (a camera's main and sub streams are separate producers; the
 * SDK switches between them), so the estimate chooses nothing, while every
 * forwarded packet is still recorded in its send history and the browser's
 * feedback (RTCP transport-cc, draft-holmer-rmcat-transport-wide-cc-
 * extensions-01; REMB, draft-alvestrand-rmcat-remb-03) is parsed: the largest
 * per-consumer cost in the worker's profile after SRTP and the socket send
 * (`npm run bench:fanout`, variant option `:bwe`; README "Measured").
 *
 * Without those extensions and feedback types in the consumer's RTP
 * parameters the browser sends neither transport-cc feedback nor REMB, and
 * keeps NACK, PLI/FIR and receiver reports (RFC 4585, RFC 5104, RFC 3550).
 */
import type { types } from 'mediasoup';

/** Header extensions that carry send-side BWE: transport-wide sequence numbers, absolute send time. */
const BWE_HEADER_EXTENSIONS = new Set([
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
]);
/** RTCP feedback types that feed send-side BWE. */
const BWE_FEEDBACK = new Set(['transport-cc', 'goog-remb']);

/**
 * The viewer's RTP capabilities minus send-side bandwidth estimation (the
 * header extensions and RTCP feedback listed above); everything else as given.
 * Does not modify its argument.
 *
 * @param caps the browser's RTP capabilities (mediasoup RtpCapabilities shape)
 * @returns a copy without transport-cc / abs-send-time / goog-remb
 */
export function withoutBandwidthEstimation(caps: types.RtpCapabilities): types.RtpCapabilities {
  return {
    ...caps,
    codecs: caps.codecs?.map((c) => ({ ...c, rtcpFeedback: c.rtcpFeedback?.filter((fb) => !BWE_FEEDBACK.has(fb.type)) })),
    headerExtensions: caps.headerExtensions?.filter((h) => !BWE_HEADER_EXTENSIONS.has(h.uri)),
  };
}
