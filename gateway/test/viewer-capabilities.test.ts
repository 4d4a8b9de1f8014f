/**
 * What viewer consumers negotiate (gateway/src/fanout/viewer-capabilities.ts):
 * a browser's RTP capabilities minus bandwidth estimation, everything else
 * kept, malformed input left for mediasoup to refuse. The browser-side proof
 * (no congestion-control client, no probation padding) is
 * test/e2e/fanout-browser.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { types } from 'mediasoup';
import { withoutBandwidthEstimation, withoutTransportCc } from '../src/fanout/viewer-capabilities.ts';

const TCC = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const AST = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';
const MID = 'urn:ietf:params:rtp-hdrext:sdes:mid';

/** As Chromium offers them through mediasoup-client (abridged). */
const browser = (): types.RtpCapabilities => ({
  codecs: [
    {
      kind: 'video',
      mimeType: 'video/H264',
      clockRate: 90000,
      preferredPayloadType: 102,
      parameters: { 'packetization-mode': 1 },
      rtcpFeedback: [{ type: 'goog-remb' }, { type: 'transport-cc' }, { type: 'ccm', parameter: 'fir' }, { type: 'nack' }, { type: 'nack', parameter: 'pli' }],
    },
    { kind: 'video', mimeType: 'video/rtx', clockRate: 90000, preferredPayloadType: 103, parameters: { apt: 102 } },
    { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 111, rtcpFeedback: [{ type: 'transport-cc' }] },
  ],
  headerExtensions: [
    { kind: 'video', uri: MID, preferredId: 1 },
    { kind: 'video', uri: AST, preferredId: 2 },
    { kind: 'video', uri: TCC, preferredId: 3 },
    { kind: 'audio', uri: TCC, preferredId: 3 },
  ] as types.RtpHeaderExtension[],
});

const feedback = (caps: types.RtpCapabilities, mime: string) =>
  caps.codecs!.find((c) => c.mimeType === mime)!.rtcpFeedback?.map((fb) => `${fb.type} ${fb.parameter ?? ''}`.trim());

describe('withoutBandwidthEstimation', () => {
  it('drops transport-cc, abs-send-time and REMB for video and audio; keeps NACK, PLI, FIR, codecs and mid', () => {
    const given = browser();
    const out = withoutBandwidthEstimation(given);
    expect(feedback(out, 'video/H264')).toEqual(['ccm fir', 'nack', 'nack pli']);
    expect(feedback(out, 'audio/opus')).toEqual([]);
    expect(out.codecs!.map((c) => c.preferredPayloadType)).toEqual([102, 103, 111]);
    expect(out.headerExtensions!.map((h) => h.uri)).toEqual([MID]);
    expect(given).toEqual(browser()); // the argument is not modified
  });

  it('leaves malformed parts as they are, for mediasoup to refuse', () => {
    const odd = { codecs: 'no', headerExtensions: 7 } as unknown as types.RtpCapabilities;
    expect(withoutBandwidthEstimation(odd)).toEqual(odd);
    expect(withoutBandwidthEstimation(null as unknown as types.RtpCapabilities)).toBeNull();
  });
});

describe('withoutTransportCc (a benchmark lever)', () => {
  it('keeps abs-send-time and REMB', () => {
    const out = withoutTransportCc(browser());
    expect(feedback(out, 'video/H264')).toEqual(['goog-remb', 'ccm fir', 'nack', 'nack pli']);
    expect(out.headerExtensions!.map((h) => h.uri)).toEqual([MID, AST]);
  });
});
