/**
 * The media API: the one surface the rest of Vigil (signaling sessions, the
 * admin API, metrics, readiness) calls to reach cameras and viewers' media.
 * It hands out ids, JSON parameters for the browser and small handles, never
 * mediasoup objects, and names a camera's incarnation by an epoch instead of
 * by object identity.
 *
 * Written for two implementations, as LiveKit's `pkg/routing` has a local and
 * a Redis-backed `Router`:
 *
 * - {@link ../media/local-media.ts LocalMedia}: this process's mediasoup
 *   workers, cameras ingested here (the single-node mode);
 * - a cluster implementation (to come): a camera ingested on another node,
 *   piped here over a PipeTransport, its state replicated through Redis.
 *
 * So everything that touches media is async (a remote implementation does
 * RPC). Reads of the camera directory (`cameras()`, `camera(id)`, a view's
 * state) are synchronous snapshots: a remote implementation keeps a local
 * replica of the directory by subscription, as it must to check a viewer's
 * scope on every `consume` without a round trip.
 *
 * Ownership is a tree, as in mediasoup: media → viewer transports → viewer
 * consumers (video plus its paired audio). `close()` cascades from owner to
 * owned; each handle says why it closed in its `close` event.
 */
import type { Quality } from '@vigil/protocol';
import type { CameraConfig } from '../config/schema.ts';

/** Every camera state, in lifecycle order (for metrics that enumerate them). */
export const CAMERA_STATES = ['connecting', 'live', 'stalled', 'offline', 'closed'] as const;
/** A camera's lifecycle state (see gateway/src/cameras/camera.ts for the machine). */
export type CameraState = (typeof CAMERA_STATES)[number];

/** One lifecycle transition. */
export interface CameraTransition {
  state: CameraState;
  /** ms since epoch */
  at: number;
  reason?: string | undefined;
}

/** JSON-shaped mediasoup parameters handed to the browser as they are (mediasoup-client reads them). */
export type MediaJson = Record<string, unknown>;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** One overload per event of `E`: `(event: K, listener: (...args: E[K]) => void) => unknown`. */
type Listen<E extends Record<keyof E, unknown[]>> = UnionToIntersection<
  { [K in keyof E & string]: (event: K, listener: (...args: E[K]) => void) => unknown }[keyof E & string]
>;

/**
 * A minimal typed event source (the event map is a type, so a misspelt event
 * name fails to compile; node:events' `EventEmitter<Events>` satisfies it).
 */
export interface TypedEvents<E extends Record<keyof E, unknown[]>> {
  on: Listen<E>;
  once: Listen<E>;
  off: Listen<E>;
}

/** Why a camera that plays does not play well (one of its streams); `reason` is a closed set for metrics. */
export interface CameraDegradation {
  reason: 'b_frames';
  /** In words, safe to show operators (no addresses, no credentials). */
  message: string;
  /** ms since epoch */
  since: number;
  quality: Quality;
}

/** Ingest counters of a stream, or summed over a camera's streams (admin API, metrics). */
export interface IngestCounters {
  /** Packets from senders other than the camera (RTP push), dropped. */
  foreignPackets: number;
  /** Times an RTP-push camera's stream restarted (new source port or sequence). */
  restarts: number;
  /** Frames received out of timestamp order (RTP push). */
  reorderedFrames: number;
  /** Datagrams the kernel dropped on the ingest sockets (receive buffer full), since they opened. */
  socketDrops: number;
}

/** Events of a {@link CameraView}. */
export interface CameraViewEvents {
  /** The camera changed state (also `closed` when it is removed or replaced). */
  statechange: [transition: CameraTransition];
  /** A stream became degraded or recovered. */
  degradedchange: [degraded: CameraDegradation | undefined];
}

/**
 * A read-only, live view of one camera incarnation. A camera replaced by a
 * config update is a new view with a higher `epoch`; the old one ends `closed`.
 */
export interface CameraView extends TypedEvents<CameraViewEvents> {
  readonly id: string;
  /**
   * The incarnation: unique and increasing per process (a cluster
   * implementation draws it from Redis), new on every add and config update.
   * Re-ingesting the same camera (restart, worker replaced) keeps it.
   */
  readonly epoch: number;
  readonly config: CameraConfig;
  readonly state: CameraState;
  /** When the current state began, ms since epoch. */
  readonly stateSince: number;
  /** Why the camera is in its state (offline/stalled), safe to show. */
  readonly reason: string | undefined;
  /** The last transitions, oldest first (at most 20). */
  readonly history: readonly CameraTransition[];
  /** Times the camera went offline and its source was restarted. */
  readonly recoveries: number;
  /** Streams the camera offers (`high` always, `low` with a sub stream). */
  readonly qualities: Quality[];
  /** Id of the main stream's current ingest (changes when it is re-ingested; undefined while there is none). */
  readonly ingestId: string | undefined;
  /** Last keyframe seen on the main stream, ms since epoch. */
  readonly lastKeyframeAt: number | undefined;
  /** The first degraded stream (main first) with why, or undefined when every stream plays well. */
  readonly degraded: CameraDegradation | undefined;
  /** Frame size of a stream, px (test patterns know it; otherwise the config's, for `high`). */
  frameSize(quality?: Quality): { width?: number; height?: number };
}

/** Why a viewer transport closed. */
export type ViewerTransportCloseReason =
  /** its owner called close() (or the media API closed) */
  | 'closed'
  /** DTLS failed or was closed by the browser (RFC 6347) */
  | 'dtls_failed'
  /** its worker died; the client creates a new transport and consumes again */
  | 'worker_died';

export interface ViewerTransportEvents {
  close: [reason: ViewerTransportCloseReason];
}

/**
 * A viewer's receive transport (a WebRTC transport: ICE-lite, DTLS, SRTP;
 * RFC 8445 §2.5, RFC 5764) and the consumers on it.
 */
export interface ViewerTransport extends TypedEvents<ViewerTransportEvents> {
  readonly id: string;
  /** Who owns it (a session id): consumers of one owner count as one viewer. */
  readonly owner: string;
  /** `iceParameters`, `iceCandidates`, `dtlsParameters` for mediasoup-client `device.createRecvTransport()`. */
  readonly params: { iceParameters: MediaJson; iceCandidates: MediaJson[]; dtlsParameters: MediaJson };
  readonly closed: boolean;
  /**
   * Completes the DTLS handshake parameters from the browser.
   * @throws ProtocolError `bad_request` for invalid parameters or a second call
   */
  connect(dtlsParameters: MediaJson): Promise<void>;
  /**
   * New local ICE credentials (ICE restart, RFC 8445 §9); the previous ones
   * keep working until the client uses the new.
   * @returns the new `iceParameters`
   */
  restartIce(): Promise<MediaJson>;
  /**
   * Consumes a camera at a quality, paused (the client attaches the track,
   * then resumes), with the camera's audio paired when it has some.
   * @param cameraId must exist (the caller checked scope against `camera(id)`)
   * @param rtpCapabilities the browser's (mediasoup-client `device.rtpCapabilities`)
   * @throws ProtocolError `camera_offline` (closed or re-ingesting), `unsupported_codec`,
   *   `bad_request` (malformed capabilities), `not_found` (transport gone)
   */
  consume(o: { cameraId: string; quality: Quality; rtpCapabilities: MediaJson }): Promise<ViewerConsumer>;
  /** Closes the transport and its consumers (they close with `transport_closed`). Idempotent. */
  close(): void;
}

/** Why a viewer consumer closed. */
export type ViewerConsumerCloseReason =
  /** its owner called close() */
  | 'closed'
  /** the camera was removed */
  | 'camera_gone'
  /** the camera still exists but its stream was re-ingested (restart, worker replaced, config update): consume again */
  | 'resubscribe'
  /** its transport closed (owner, DTLS failure or worker death) */
  | 'transport_closed';

export interface ViewerConsumerEvents {
  close: [reason: ViewerConsumerCloseReason];
}

/** One viewing of one camera stream: a video consumer and, when the camera has audio, its paired audio consumer. */
export interface ViewerConsumer extends TypedEvents<ViewerConsumerEvents> {
  readonly id: string;
  readonly transportId: string;
  readonly cameraId: string;
  /** The camera incarnation consumed. */
  readonly epoch: number;
  /** The quality served (`low` falls back to `high` without a sub stream). */
  readonly quality: Quality;
  readonly producerId: string;
  readonly kind: 'audio' | 'video';
  /** For mediasoup-client `transport.consume()`. */
  readonly rtpParameters: MediaJson;
  /** The paired audio consumer (paused, resumed and closed with the video). */
  readonly audio: { id: string; producerId: string; rtpParameters: MediaJson } | undefined;
  /**
   * Instant start: a second video consumer (paused; resumed with this one)
   * that replays the camera's packets since its last keyframe, then relays
   * live packets until the camera's next keyframe reaches this consumer; the
   * client shows it until this consumer decodes a frame. Closed by the server
   * (about one GOP later, on pause, or with this consumer). Undefined when
   * instant start is off or nothing is cached.
   */
  readonly primer: { id: string; producerId: string; rtpParameters: MediaJson } | undefined;
  readonly closed: boolean;
  readonly paused: boolean;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Asks the camera for a keyframe (PLI/FIR upstream, RFC 4585 §6.3.1, RFC 5104 §4.3.1); sources may ignore it. */
  requestKeyFrame(): Promise<void>;
  /** Closes the viewing (video and audio). Idempotent. */
  close(): void;
}

/** One stream's ingest figures (admin API). */
export interface StreamStats extends IngestCounters {
  quality: Quality;
  source: CameraConfig['source']['kind'];
  /** Index of the worker the stream is ingested on (null when unknown). */
  workerIndex: number | null;
  /** bps */
  bitrate: number;
  packetCount: number;
  packetsLost: number;
  jitter: number;
  fps: number;
  msSinceKeyframe: number | null;
  keyframeIntervalMs: number | null;
  relayStarts: number;
}

/** Main-stream ingest counters (metrics), of ingest `ingestId`. */
export interface IngestStats {
  ingestId: string;
  /** bps (mediasoup RtpStreamRecvStats.bitrate) */
  bitrateBps: number;
  packets: number;
  /** RFC 3550 §6.4.1 cumulative lost, negatives clamped to 0 */
  packetsLost: number;
}

/** One worker's load (counters kept from observer events; no IPC). */
export interface WorkerLoad {
  index: number;
  alive: boolean;
  routers: number;
  webRtcTransports: number;
  pipeTransports: number;
  consumers: number;
}

/** What a camera reconciliation did, by camera id. */
export interface ReconcileResult {
  added: string[];
  removed: string[];
  updated: string[];
  unchanged: string[];
  /** Cameras that failed to open, with the reason. */
  failed: { id: string; error: string }[];
}

/** Events of the media API (for outside watchers). */
export interface MediaEvents {
  /** A camera incarnation was opened (added, updated, or at start). */
  cameraopen: [camera: CameraView];
}

/** The media API. */
export interface MediaApi extends TypedEvents<MediaEvents> {
  /** Router RTP capabilities, for mediasoup-client `device.load()`. */
  routerRtpCapabilities(): Promise<MediaJson>;

  /** Every camera (current incarnations). */
  cameras(): CameraView[];
  /** A camera's current incarnation, or undefined. */
  camera(id: string): CameraView | undefined;

  /**
   * Opens a receive transport for a viewer.
   * @param owner the viewer session's id
   * @param nearCameraId placement hint: a camera the viewer is about to watch
   * @param clientRtpCapabilities set when the client dictates the payload types
   *   (it sent the SDP offer, as a WHEP player does: draft-ietf-wish-whep,
   *   RFC 3264 §6.1): RTP capabilities extracted from its offer (codecs with the
   *   offer's payload types as `preferredPayloadType`, header extensions with
   *   its ids). Consumers on this transport then carry those payload types;
   *   `nearCameraId` is required and is the camera it can consume (mediasoup
   *   assigns payload types per router, not per consumer, so the local
   *   implementation gives such a transport a router of its own and pipes the
   *   camera into it). Omitted: the router's payload types (the SDK's case).
   * @throws Error when no worker is alive; ProtocolError `unsupported_codec`
   *   when no offered codec can carry the camera, `camera_offline` when it has no stream
   */
  createViewerTransport(o: {
    owner: string;
    nearCameraId?: string | undefined;
    clientRtpCapabilities?: MediaJson | undefined;
  }): Promise<ViewerTransport>;

  /**
   * Per-stream stats of a camera (producer stats, fps over `fpsWindowMs` of RTP, keyframes).
   * @returns undefined for an unknown camera
   */
  streamStats(cameraId: string, fpsWindowMs: number): Promise<StreamStats[] | undefined>;
  /**
   * Main-stream ingest counters, reused from the ingest's own activity poll
   * when at most `maxAgeMs` old, else read within `timeoutMs`.
   * @returns undefined when the camera has no open ingest or the read timed out
   */
  ingestStats(cameraId: string, o: { maxAgeMs: number; timeoutMs: number }): Promise<IngestStats | undefined>;
  /**
   * Measures the main stream's frame rate over `windowMs` (distinct RTP timestamps per second).
   * @returns frames per second, or undefined for an unknown camera
   */
  measureFps(cameraId: string, windowMs: number): Promise<number | undefined>;
  /** Ingest counters of every open camera, summed over its streams (one read of the kernel's socket table). */
  ingestCounters(): Promise<Map<string, IngestCounters>>;

  /** Every worker's load, by index. */
  workerLoads(): WorkerLoad[];
  /** CPU time of every live worker, s, by index; a worker that does not answer in `timeoutMs` is left out. */
  workerCpu(timeoutMs: number): Promise<Map<number, { user: number; system: number }>>;

  /**
   * Adds a camera.
   * @throws CameraConflictError if the id is in use; Error if the ingest cannot open
   */
  addCamera(config: CameraConfig): Promise<CameraView>;
  /**
   * Replaces a camera's config (a new incarnation); its viewers' consumers close with `resubscribe`.
   * @throws CameraConflictError if there is no such camera; Error if the new ingest cannot open
   */
  updateCamera(config: CameraConfig): Promise<CameraView>;
  /**
   * Removes a camera; its viewers' consumers close with `camera_gone`.
   * @returns false if there was no such camera
   */
  removeCamera(id: string): Promise<boolean>;
  /** Brings the camera set to `wanted`; unchanged cameras keep their viewers. */
  reconcile(wanted: CameraConfig[]): Promise<ReconcileResult>;

  /** Closes every transport, camera and worker. Idempotent. */
  close(): Promise<void>;
}

/** A camera with this id already exists / does not exist. */
export class CameraConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CameraConflictError';
  }
}
