/**
 * Gateway part of Vigil's configuration: workers, WebRTC listening, ingest and cameras.
 * TypeBox schemas (JSON Schema); defaults are filled in by the loader (ajv `useDefaults`).
 */
import { Type, type Static } from '@sinclair/typebox';
import { CameraIdSchema, DiscriminatedUnion } from '@vigil/protocol/schema';
import { RtspSourceSchema } from './rtsp-source.ts';

const Port = Type.Integer({ minimum: 0, maximum: 65535 });
/** An IPv4 or IPv6 literal. */
const Ip = (defaultIp: string) => Type.String({ minLength: 2, maxLength: 64, pattern: '^[0-9A-Fa-f.:]+$', description: 'an IPv4 or IPv6 address', default: defaultIp });

/**
 * Camera pushes RTP (RFC 3550) itself to Vigil's ingest port, where a push
 * gate (ingest/push-gate.ts) accepts only the camera's packets (its SSRC,
 * from `sourceIp`) and forwards them to the camera's PlainTransport.
 */
export const RtpPushSourceSchema = Type.Object(
  {
    kind: Type.Literal('rtp-push'),
    /** UDP port for RTP; RTCP uses port + 1 (RFC 3550 §11). 0 = any free port (tests). */
    port: Port,
    /** SSRC the camera sends with (mediasoup routes RTP to a producer by SSRC). */
    ssrc: Type.Integer({ minimum: 1, maximum: 0xffffffff }),
    /** RTP payload type the camera sends with (dynamic range, RFC 3551 §6). */
    payloadType: Type.Integer({ minimum: 96, maximum: 127, default: 96 }),
    /**
     * The camera's address: RTP and RTCP from any other address are dropped
     * and counted (any source port: a restarted camera may use a new one).
     * Required unless `ingest.listenIp` is a loopback address.
     */
    sourceIp: Type.Optional(Type.String({ minLength: 2, maxLength: 64, pattern: '^[0-9A-Fa-f.:]+$', description: 'an IPv4 or IPv6 address' })),
    /**
     * `h264`: decode the camera's H.264 and re-encode it (libx264 constrained
     * baseline, no B-frames, 1 s GOP at 25 fps) for cameras that send B-frames;
     * about half a core at 1080p. Absent: passed through as is.
     */
    transcode: Type.Optional(Type.Literal('h264')),
    /** Transcode bitrate, bps (default 3 Mbps). */
    transcodeBitrate: Type.Optional(Type.Integer({ minimum: 100_000, maximum: 20_000_000 })),
    /**
     * The camera sends SRTP (RFC 3711) with a preset key: every RTP and RTCP
     * packet must authenticate with it (ingest/srtp.ts). The key is given by
     * reference, never inline: `keyFile` (a file holding its base64) or
     * `keyEnv` (an environment variable holding it); exactly one.
     */
    srtp: Type.Optional(
      Type.Object(
        {
          cryptoSuite: Type.Union([Type.Literal('AES_CM_128_HMAC_SHA1_80'), Type.Literal('AES_CM_128_HMAC_SHA1_32')], {
            default: 'AES_CM_128_HMAC_SHA1_80',
          }),
          keyFile: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
          keyEnv: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z_][A-Za-z0-9_]*$' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/**
 * Built-in demo/test source: an ffmpeg test pattern with a burnt-in wall clock,
 * encoded as the camera's codec and sent as RTP to the camera's PlainTransport.
 */
export const TestPatternSourceSchema = Type.Object(
  {
    kind: Type.Literal('test-pattern'),
    width: Type.Integer({ minimum: 16, maximum: 3840, default: 1280 }),
    height: Type.Integer({ minimum: 16, maximum: 2160, default: 720 }),
    fps: Type.Integer({ minimum: 1, maximum: 60, default: 30 }),
    /** Keyframe interval in frames (GOP length). */
    gopFrames: Type.Integer({ minimum: 1, maximum: 600, default: 30 }),
    /** Encoder target bitrate, bps. */
    bitrate: Type.Integer({ minimum: 50_000, maximum: 20_000_000, default: 1_500_000 }),
  },
  { additionalProperties: false },
);

export const SourceSchema = DiscriminatedUnion('kind', [RtpPushSourceSchema, TestPatternSourceSchema, RtspSourceSchema]);

export const CameraConfigSchema = Type.Object(
  {
    id: CameraIdSchema,
    /** Site name, used by token scopes (`site:<name>`). */
    site: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' })),
    codec: Type.Union([Type.Literal('H264'), Type.Literal('VP8')], { default: 'H264' }),
    /** H.264 profile the camera sends (packetization-mode 1 only, RFC 6184 §5.8). */
    h264Profile: Type.Union([Type.Literal('baseline'), Type.Literal('main'), Type.Literal('high')], {
      default: 'baseline',
    }),
    /** Frame size announced to viewers (px); taken from the source for test patterns. */
    width: Type.Optional(Type.Integer({ minimum: 16, maximum: 7680 })),
    height: Type.Optional(Type.Integer({ minimum: 16, maximum: 4320 })),
    /** The main stream (quality `high`). */
    source: SourceSchema,
    /** Optional sub stream (quality `low`, e.g. 360p for wall tiles); same codec as the main stream. */
    subSource: Type.Optional(SourceSchema),
  },
  { additionalProperties: false },
);

export const GatewayConfigSchema = Type.Object(
  {
    workers: Type.Object(
      {
        /** mediasoup workers (one process each); `auto` = one per CPU core. */
        count: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 1, maximum: 256 })], { default: 'auto' }),
        logLevel: Type.Union([Type.Literal('debug'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('none')], {
          default: 'warn',
        }),
        /** Port range for PlainTransports (ingest) when no fixed port is given. */
        rtcMinPort: Type.Integer({ minimum: 1024, maximum: 65535, default: 41000 }),
        rtcMaxPort: Type.Integer({ minimum: 1024, maximum: 65535, default: 49999 }),
      },
      { additionalProperties: false, default: {} },
    ),
    webrtc: Type.Object(
      {
        /** Local IP the WebRtcServers bind (UDP + TCP). */
        listenIp: Ip('127.0.0.1'),
        /** Public IP or hostname announced in ICE candidates (behind NAT). */
        announcedAddress: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
        /**
         * First worker's ICE port (UDP and TCP); worker i uses port + i. 0 = any
         * free port. The default sits below the default rtcMinPort.
         */
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 40000 }),
        /**
         * Send buffer asked for each WebRtcServer socket, bytes: one keyframe goes to
         * every viewer of the worker at once. Capped by net.core.wmem_max (see README).
         */
        sendBufferSize: Type.Integer({ minimum: 65_536, maximum: 268_435_456, default: 4_194_304 }),
      },
      { additionalProperties: false, default: {} },
    ),
    ingest: Type.Object(
      {
        /** Local IP camera PlainTransports bind. */
        listenIp: Ip('127.0.0.1'),
        /** No RTP for this long -> `stalled`, ms (detected within +1 s: packet counts are polled). */
        stallTimeoutMs: Type.Integer({ minimum: 500, maximum: 600_000, default: 2000 }),
        /** Stalled (or never live) for this long -> `offline`, and the source is restarted, ms. */
        offlineTimeoutMs: Type.Integer({ minimum: 500, maximum: 3_600_000, default: 5000 }),
        /** Relay restart backoff: first retry, ms. */
        retryMinMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 300 }),
        /** Relay restart backoff cap, ms (a returning camera is live again within about this + 0.5 s). */
        retryMaxMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 1500 }),
        /**
         * Receive buffer asked for every ingest socket (push gate, PlainTransports), bytes.
         * A 1080p keyframe of a detailed scene is ~450 KB in ~380 packets arriving
         * in one burst; the kernel charges ~2.3 KB per queued packet, so the default
         * 208 KiB overflows (RcvbufErrors). Capped by net.core.rmem_max (see README).
         */
        recvBufferSize: Type.Integer({ minimum: 65_536, maximum: 268_435_456, default: 4_194_304 }),
      },
      { additionalProperties: false, default: {} },
    ),
    fanout: Type.Object(
      {
        /**
         * Soft budget of consumers per router: new viewer transports go to a
         * router under budget (the camera's own first, else the least loaded
         * by consumers and worker CPU), and the camera is piped there.
         */
        maxConsumersPerRouter: Type.Integer({ minimum: 1, maximum: 100_000, default: 500 }),
        /**
         * Instant start (fanout/gop-cache.ts, fanout/primer.ts): each camera
         * stream keeps its packets since the last keyframe, and a new viewer
         * is sent them first (paced, timestamps rewritten), then live packets,
         * until the camera's next keyframe reaches its live consumer.
         */
        instantStart: Type.Object(
          {
            enabled: Type.Boolean({ default: true }),
            /**
             * Cap per camera stream, bytes of RTP; a GOP that grows past it is not cached (viewers then wait
             * for a keyframe). With replayBps it bounds the fast-forward: 4 MiB at 40 Mbps replays in <= 0.84 s.
             */
            maxBytes: Type.Integer({ minimum: 65_536, maximum: 67_108_864, default: 4_194_304 }),
            /** Cap per camera stream, ms of media since the keyframe (RTP timestamps); a longer GOP is not cached past it. */
            maxAgeMs: Type.Integer({ minimum: 500, maximum: 60_000, default: 11_000 }),
            /** Pace of the replayed burst to one viewer, bps (the catch-up lasts cached bytes * 8 / replayBps). */
            replayBps: Type.Integer({ minimum: 1_000_000, maximum: 1_000_000_000, default: 40_000_000 }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    cameras: Type.Array(CameraConfigSchema, { default: [], maxItems: 10000 }),
  },
  { additionalProperties: false },
);

/**
 * Pipes between cluster nodes (`cluster.pipe`): where this node's mediasoup
 * PipeTransports listen when another node pulls a camera from it or it pulls
 * one (UDP, SRTP; mediasoup docs: Router.createPipeTransport). Their address
 * as other nodes see it is `cluster.announcedAddress`.
 */
export const ClusterPipeConfigSchema = Type.Object(
  {
    /** Local IP pipe transports bind (the interface other nodes reach). */
    listenIp: Ip('0.0.0.0'),
    /** UDP port range for pipe transports (one port per camera pulled or served per peer node). */
    portMin: Type.Integer({ minimum: 1024, maximum: 65535, default: 50000 }),
    portMax: Type.Integer({ minimum: 1024, maximum: 65535, default: 50999 }),
    /** How long a request to another node (open a pipe) may take, ms. */
    requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 2000 }),
  },
  { additionalProperties: false, default: {} },
);
export type ClusterPipeConfig = Static<typeof ClusterPipeConfigSchema>;

export type RtpPushSource = Static<typeof RtpPushSourceSchema>;
export type TestPatternSource = Static<typeof TestPatternSourceSchema>;
export type CameraConfig = Static<typeof CameraConfigSchema>;
export type GatewayConfig = Static<typeof GatewayConfigSchema>;
export type SourceConfig = Static<typeof SourceSchema>;
export type IngestConfig = GatewayConfig['ingest'];
export type InstantStartConfig = GatewayConfig['fanout']['instantStart'];
