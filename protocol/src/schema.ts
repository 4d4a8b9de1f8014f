/**
 * Messages between the Vigil client SDK and the signaling server, over one
 * WebSocket (JSON text frames, at most MAX_MESSAGE_BYTES each).
 *
 * Requests (client -> server) carry a client-chosen numeric `id`; the server
 * answers each with exactly one {@link Response} carrying the same `id`.
 * Notifications (server -> client) carry `notification` instead of `id`.
 *
 * Flow for one feed (mediasoup's receive-side flow, see
 * https://mediasoup.org/documentation/v3/communication-between-client-and-server/):
 *   join -> getRouterRtpCapabilities -> createRecvTransport -> connectTransport
 *   (DTLS parameters, RFC 8842) -> consume (paused) -> resumeConsumer -> ... -> closeConsumer.
 * `refresh` (a fresh token for the same subject) may be sent any time after join.
 *
 * Schemas are TypeBox (JSON Schema draft 2020-12 compatible); the server
 * validates every request against {@link RequestSchema}; types come from the same schemas.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ProtocolErrorBody } from './errors.ts';
import { DiscriminatedUnion } from './discriminated.ts';

export { DiscriminatedUnion };

/** Camera id: 1-128 chars of letters, digits and `. _ : / -`, starting with a letter or digit. */
export const CameraIdSchema = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$' });

/** mediasoup object id (UUID v4 text). */
const ObjectId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$' });

/**
 * RTP capabilities / parameters and DTLS parameters are mediasoup's own
 * shapes (RTCRtpCapabilities-like, RFC 3264 offer/answer semantics); only the
 * outer shape is checked here, mediasoup's ORTC validation checks the rest
 * and its TypeError becomes `bad_request`.
 */
const Opaque = Type.Object({}, { additionalProperties: true });

const RequestId = Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 });

export const JoinRequestSchema = Type.Object(
  {
    id: RequestId,
    type: Type.Literal('join'),
    /** Protocol version the client speaks (PROTOCOL_VERSION). */
    protocolVersion: Type.Integer({ minimum: 1, maximum: 1000 }),
    /** Viewer JWT (RFC 7519), compact serialization. */
    token: Type.String({ minLength: 1, maxLength: 8192 }),
  },
  { additionalProperties: false },
);

export const GetRouterRtpCapabilitiesRequestSchema = Type.Object(
  { id: RequestId, type: Type.Literal('getRouterRtpCapabilities') },
  { additionalProperties: false },
);

/** Stream of a camera: `high` = main stream, `low` = sub stream (falls back to main when the camera has none). */
export const QualitySchema = Type.Union([Type.Literal('high'), Type.Literal('low')]);

export const CreateRecvTransportRequestSchema = Type.Object(
  {
    id: RequestId,
    type: Type.Literal('createRecvTransport'),
    /** Placement hint: the camera the viewer will consume first (the transport goes near its producer). */
    cameraId: Type.Optional(CameraIdSchema),
  },
  { additionalProperties: false },
);

export const ConnectTransportRequestSchema = Type.Object(
  {
    id: RequestId,
    type: Type.Literal('connectTransport'),
    transportId: ObjectId,
    /** Client DTLS role + certificate fingerprints (RFC 8842, RFC 8122). */
    dtlsParameters: Type.Object(
      { fingerprints: Type.Array(Opaque, { minItems: 1, maxItems: 8 }), role: Type.Optional(Type.String({ maxLength: 16 })) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const ConsumeRequestSchema = Type.Object(
  {
    id: RequestId,
    type: Type.Literal('consume'),
    transportId: ObjectId,
    cameraId: CameraIdSchema,
    /** The browser device's RTP capabilities (mediasoup-client `device.rtpCapabilities`). */
    rtpCapabilities: Opaque,
    /** Which stream (default `high`). */
    quality: Type.Optional(QualitySchema),
  },
  { additionalProperties: false },
);

/**
 * Switch a feed to the camera's other stream without reconnecting: the server
 * answers with a NEW paused consumer (same shape as `consume`); the client
 * resumes it, shows it once it has decoded a frame, then closes the old one.
 */
export const SetQualityRequestSchema = Type.Object(
  {
    id: RequestId,
    type: Type.Literal('setQuality'),
    consumerId: ObjectId,
    quality: QualitySchema,
    rtpCapabilities: Opaque,
  },
  { additionalProperties: false },
);

export const PauseConsumerRequestSchema = Type.Object(
  { id: RequestId, type: Type.Literal('pauseConsumer'), consumerId: ObjectId },
  { additionalProperties: false },
);

export const ResumeConsumerRequestSchema = Type.Object(
  { id: RequestId, type: Type.Literal('resumeConsumer'), consumerId: ObjectId },
  { additionalProperties: false },
);

/**
 * Restart ICE on a receive transport (RFC 8445 §9) after the browser's ICE
 * connection failed or stayed disconnected (network change, NAT rebinding):
 * the server answers with new ICE parameters (mediasoup `transport.restartIce()`),
 * the client applies them (mediasoup-client `transport.restartIce({ iceParameters })`);
 * consumers and DTLS stay as they are.
 */
export const RestartIceRequestSchema = Type.Object(
  { id: RequestId, type: Type.Literal('restartIce'), transportId: ObjectId },
  { additionalProperties: false },
);

export const CloseConsumerRequestSchema = Type.Object(
  { id: RequestId, type: Type.Literal('closeConsumer'), consumerId: ObjectId },
  { additionalProperties: false },
);

/**
 * Client-measured time to first frame of one consumer: from `play()` to the
 * first decoded frame (the SDK sends it once per consumer; the server keeps it
 * in a histogram, never per viewer).
 */
export const ReportTtffRequestSchema = Type.Object(
  { id: RequestId, type: Type.Literal('reportTtff'), consumerId: ObjectId, ttffMs: Type.Integer({ minimum: 0, maximum: 600_000 }) },
  { additionalProperties: false },
);

/**
 * A fresh token for the same subject, sent before the current one expires.
 * The session keeps its transports and consumers; its scope, stream quota
 * and expiry become the new token's. Without one, the session ends at the
 * old token's `exp` (+ clock tolerance).
 */
export const RefreshRequestSchema = Type.Object(
  {
    id: RequestId,
    type: Type.Literal('refresh'),
    /** Viewer JWT (RFC 7519), compact serialization. */
    token: Type.String({ minLength: 1, maxLength: 8192 }),
  },
  { additionalProperties: false },
);

export const LeaveRequestSchema = Type.Object(
  { id: RequestId, type: Type.Literal('leave') },
  { additionalProperties: false },
);

/** Any client -> server request. Discriminated by `type`. */
export const RequestSchema = DiscriminatedUnion('type', [
  JoinRequestSchema,
  GetRouterRtpCapabilitiesRequestSchema,
  CreateRecvTransportRequestSchema,
  ConnectTransportRequestSchema,
  ConsumeRequestSchema,
  SetQualityRequestSchema,
  PauseConsumerRequestSchema,
  ResumeConsumerRequestSchema,
  RestartIceRequestSchema,
  CloseConsumerRequestSchema,
  ReportTtffRequestSchema,
  RefreshRequestSchema,
  LeaveRequestSchema,
]);

export type Request = Static<typeof RequestSchema>;
export type RequestType = Request['type'];
export type RequestOf<T extends RequestType> = Extract<Request, { type: T }>;

/** Every request type, for dispatch tables and fuzzers. */
export const REQUEST_TYPES = [
  'join',
  'getRouterRtpCapabilities',
  'createRecvTransport',
  'connectTransport',
  'consume',
  'setQuality',
  'pauseConsumer',
  'resumeConsumer',
  'restartIce',
  'closeConsumer',
  'reportTtff',
  'refresh',
  'leave',
] as const satisfies readonly RequestType[];

/** Opaque mediasoup shapes (typed as the library types at each end). */
export type RtpCapabilitiesJson = Record<string, unknown>;
export type RtpParametersJson = Record<string, unknown>;

export type Quality = Static<typeof QualitySchema>;

/**
 * A camera's state as viewers see it (the gateway's lifecycle without
 * `closed`, which viewers learn as `consumerClosed` / `camera_gone`):
 * `connecting` (no RTP yet), `live`, `stalled` (RTP stopped briefly),
 * `offline` (RTP gone; the gateway keeps trying to get it back).
 */
export type CameraLiveState = 'connecting' | 'live' | 'stalled' | 'offline';

/**
 * Why a camera that plays does not play well, as viewers are told it (a
 * closed set; the SDK words it, the server never sends camera internals such
 * as addresses or its config): `b_frames`: the camera sends H.264 B-frames
 * over RTP push, frames arrive out of order and WebRTC receivers play them
 * as freezes (a few frames per second).
 */
export type CameraDegradedReason = 'b_frames';

/** A camera's degradation as viewers see it. */
export interface CameraDegradedInfo {
  reason: CameraDegradedReason;
}

/** A consumer as the client needs it to receive one camera stream. */
export interface ConsumeData {
  consumerId: string;
  producerId: string;
  kind: 'audio' | 'video';
  rtpParameters: RtpParametersJson;
  /** The stream this consumer carries. */
  quality: Quality;
  /** Streams the camera offers (`['high']` or `['high', 'low']`). */
  qualities: Quality[];
  /** Frame size of this stream (px), when known. */
  width?: number;
  height?: number;
  /**
   * The camera's audio, when it has some and the browser can receive it: a
   * consumer paired with this one (the server resumes, pauses and closes it
   * with the video consumer).
   */
  audio?: { consumerId: string; producerId: string; rtpParameters: RtpParametersJson };
  /**
   * Instant start: a second video consumer, resumed with this one, that
   * replays the camera's picture since its last keyframe and then the live
   * stream until this consumer's first frame (about one GOP); show it until
   * then. The server closes it (the client just drops it); never paused,
   * resumed or closed by the client.
   */
  primer?: { consumerId: string; producerId: string; rtpParameters: RtpParametersJson };
  /** The camera's state when the consumer was created; later changes come as `cameraState` notifications. */
  cameraState?: CameraLiveState;
  /** Present while the camera plays badly when the consumer was created; later changes come as `cameraDegraded` notifications. */
  degraded?: CameraDegradedInfo;
}

/** An RTCIceServer (W3C webrtc-pc §4.2.1) with TURN long-term credentials. */
export interface IceServerJson {
  urls: string[];
  username: string;
  credential: string;
}

/** Successful response payload per request type. */
export interface ResponseData {
  join: { sessionId: string; protocolVersion: number; /** Token expiry, ms since epoch. */ expiresAt: number };
  getRouterRtpCapabilities: { rtpCapabilities: RtpCapabilitiesJson };
  createRecvTransport: {
    id: string;
    /** ICE-lite server parameters (RFC 8445 §2.5). */
    iceParameters: Record<string, unknown>;
    iceCandidates: Record<string, unknown>[];
    dtlsParameters: Record<string, unknown>;
    /**
     * TURN servers with time-limited credentials (TURN REST API convention,
     * draft-uberti-behave-turn-rest-00) for this viewer, expiring no later
     * than the token; absent when none are configured.
     */
    iceServers?: IceServerJson[];
  };
  connectTransport: Record<string, never>;
  consume: ConsumeData;
  setQuality: ConsumeData;
  pauseConsumer: Record<string, never>;
  resumeConsumer: Record<string, never>;
  /** New ICE parameters of the server side (usernameFragment, password, iceLite). */
  restartIce: { iceParameters: Record<string, unknown> };
  closeConsumer: Record<string, never>;
  reportTtff: Record<string, never>;
  /**
   * The new token's expiry, ms since epoch, and (when TURN is configured)
   * TURN credentials valid until it: the client applies them to its live
   * receive transports (RTCPeerConnection.setConfiguration), with an ICE
   * restart where media flows through TURN, before the old ones lapse.
   */
  refresh: { expiresAt: number; iceServers?: IceServerJson[] };
  leave: Record<string, never>;
}

export type Response<T extends RequestType = RequestType> =
  | { id: number; ok: true; data: ResponseData[T] }
  /** `id` is null when the request was too malformed to carry one. */
  | { id: number | null; ok: false; error: ProtocolErrorBody };

/** Server -> client notifications (no reply expected). */
export type Notification =
  | {
      notification: 'consumerClosed';
      consumerId: string;
      /** Why the server closed it. */
      /**
       * `camera_gone`: camera removed; `resubscribe`: the camera's stream was
       * re-ingested (camera restart, worker replaced): consume it again;
       * `scope_changed`: a refreshed token no longer covers the camera;
       * `transport_closed` / `server_shutdown`: as named.
       */
      reason: 'camera_gone' | 'resubscribe' | 'transport_closed' | 'server_shutdown' | 'scope_changed';
    }
  | {
      /** A receive transport died with its worker: create a new one and consume again. */
      notification: 'transportClosed';
      transportId: string;
    }
  | {
      /**
       * A camera this session consumes changed state (sent once per session
       * and camera, however many consumers it has). Consumers stay open: when
       * the camera is `live` again its media flows to them by itself.
       */
      notification: 'cameraState';
      cameraId: string;
      state: CameraLiveState;
    }
  | {
      /**
       * A camera this session consumes became degraded (it plays, but badly:
       * `degraded` says why) or recovered (`degraded` null); sent once per
       * session and camera, like `cameraState`. Clients that do not know it ignore it.
       */
      notification: 'cameraDegraded';
      cameraId: string;
      degraded: CameraDegradedInfo | null;
    }
  | { notification: 'sessionClosed'; reason: 'token_expired' | 'server_shutdown' | 'left' | 'revoked' | 'kicked' };

/** Anything the server sends. */
export type ServerMessage = Response | Notification;
