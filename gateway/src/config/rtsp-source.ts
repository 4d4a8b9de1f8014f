/**
 * The `rtsp` camera source's config schema (TypeBox / JSON Schema). The
 * helpers that act on it live in ../ingest/rtsp/.
 *
 * Sources: RTSP 1.0 (RFC 2326), URL syntax and userinfo (RFC 3986 §3.2.1).
 */
import { Type, type Static } from '@sinclair/typebox';

/**
 * `rtsp://host[:port][/path][?query]` without userinfo: credentials go in
 * `username`/`password`, so the URL can be logged and shown as is.
 */
const RtspUrl = Type.String({
  maxLength: 2048,
  pattern: '^rtsp://[^/?#@\\s]+([/?#][^\\s]*)?$',
  description: 'an rtsp:// URL without credentials (put them in username/password)',
});

/**
 * The camera is pulled over RTSP by a relay (ffmpeg) that feeds the camera's
 * PlainTransport. Credentials are used for Basic or Digest auth, whichever the
 * camera asks for (ffmpeg answers both).
 */
export const RtspSourceSchema = Type.Object(
  {
    kind: Type.Literal('rtsp'),
    url: RtspUrl,
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    password: Type.Optional(Type.String({ maxLength: 256 })),
    /** RTP over the RTSP TCP connection (interleaved, RFC 2326 §10.12; default) or over UDP. */
    transport: Type.Union([Type.Literal('tcp'), Type.Literal('udp')], { default: 'tcp' }),
    /**
     * `h264`: transcode video with libx264 (constrained baseline, no B-frames)
     * when the source cannot pass through (H.265, B-frames, other profiles or
     * codecs). Absent: such a camera is refused with a clear reason.
     */
    transcode: Type.Optional(Type.Literal('h264')),
    /** Target bitrate when transcoding, bps (default: from frame size and rate, 0.3-8 Mbps). */
    transcodeBitrate: Type.Optional(Type.Integer({ minimum: 100_000, maximum: 20_000_000 })),
    /**
     * `off` (default): no audio. `passthrough`: G.711 (PCMU/PCMA) and Opus pass
     * through, other audio is dropped. `opus`: like passthrough, and other audio
     * (AAC) is transcoded to Opus.
     */
    audio: Type.Union([Type.Literal('off'), Type.Literal('passthrough'), Type.Literal('opus')], { default: 'off' }),
    /** Socket I/O timeout for the probe and the relay, ms: a camera silent this long is given up. */
    ioTimeoutMs: Type.Integer({ minimum: 500, maximum: 60_000, default: 5000 }),
    /** Upper bound on one probe (connect, DESCRIBE, PLAY, first frames), ms. */
    probeTimeoutMs: Type.Integer({ minimum: 1000, maximum: 120_000, default: 10_000 }),
  },
  // JSON Schema draft-07 `dependencies`: a password needs a username.
  { additionalProperties: false, dependencies: { password: ['username'] } },
);

export type RtspSource = Static<typeof RtspSourceSchema>;

/** The fields the RTSP helpers read; optional ones take the schema defaults. */
export type RtspSourceInput = Pick<RtspSource, 'url'> &
  Partial<Omit<RtspSource, 'kind' | 'url'>>;

