/**
 * A camera as the gateway sees it: its config, its ingest (PlainTransport +
 * producer on one router), the relay process feeding it (for test patterns),
 * and its state.
 *
 * State machine (v0): `connecting` (ingest open, no RTP yet) -> `live` (RTP
 * arrived) -> `closed`. Stall/offline detection and RTSP come with the
 * camera-lifecycle work (issue 3).
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { CameraConfig } from '../config/schema.ts';
import { openPlainIngest, type PlainIngest } from '../ingest/plain-ingest.ts';
import { RelayProcess } from '../ingest/relay-process.ts';
import { testPatternArgs } from '../ingest/test-pattern.ts';

/** Every camera state, in lifecycle order (for metrics that enumerate them). */
export const CAMERA_STATES = ['connecting', 'live', 'stalled', 'offline', 'closed'] as const;
export type CameraState = (typeof CAMERA_STATES)[number];

export interface CameraEvents {
  /** State changed; `at` is ms since epoch. */
  statechange: [state: CameraState, at: number];
}

/** SSRC and payload type used for relay-fed sources (the relay is told to send with them). */
const RELAY_SSRC = 0x5649_4731; // "VIG1"
const RELAY_PAYLOAD_TYPE = 96;

export class Camera extends EventEmitter<CameraEvents> {
  readonly config: CameraConfig;
  readonly router: types.Router;
  readonly #ingest: PlainIngest;
  readonly #relay: RelayProcess | undefined;
  readonly #logger: Logger;
  #state: CameraState = 'connecting';
  #stateAt = Date.now();

  private constructor(config: CameraConfig, router: types.Router, ingest: PlainIngest, logger: Logger, relay?: RelayProcess) {
    super();
    this.config = config;
    this.router = router;
    this.#ingest = ingest;
    this.#relay = relay;
    this.#logger = logger;
    // comedia: the transport emits 'tuple' when the first RTP packet latches the source.
    ingest.transport.on('tuple', (tuple) => {
      this.#logger.info({ remotePort: tuple.remotePort }, 'camera RTP source latched');
      this.#setState('live');
    });
    ingest.producer.on('transportclose', () => this.#setState('closed'));
  }

  /**
   * Opens the camera's ingest on `router` and, for a test-pattern source,
   * starts the ffmpeg relay that feeds it.
   *
   * @throws Error when the ingest port is taken (nothing is left open)
   */
  static async open(config: CameraConfig, router: types.Router, listenIp: string, logger: Logger): Promise<Camera> {
    const log = logger.child({ cameraId: config.id });
    const src = config.source;
    if (src.kind === 'rtp-push') {
      const ingest = await openPlainIngest(router, config, listenIp, src.port, src.ssrc, src.payloadType);
      log.info({ rtpPort: ingest.rtpPort, rtcpPort: ingest.rtcpPort, codec: config.codec }, 'camera ingest open (RTP push)');
      return new Camera(config, router, ingest, log);
    }
    const ingest = await openPlainIngest(router, config, listenIp, 0, RELAY_SSRC, RELAY_PAYLOAD_TYPE);
    const args = testPatternArgs(config, src, {
      host: listenIp,
      rtpPort: ingest.rtpPort,
      rtcpPort: ingest.rtcpPort,
      ssrc: RELAY_SSRC,
      payloadType: RELAY_PAYLOAD_TYPE,
    });
    const relay = new RelayProcess({ command: 'ffmpeg', args, logger: log.child({ component: 'relay' }) });
    log.info({ rtpPort: ingest.rtpPort, codec: config.codec, size: `${src.width}x${src.height}`, gopFrames: src.gopFrames }, 'camera ingest open (test pattern)');
    return new Camera(config, router, ingest, log, relay);
  }

  get id(): string {
    return this.config.id;
  }

  get state(): CameraState {
    return this.#state;
  }

  /** When the current state began, ms since epoch. */
  get stateSince(): number {
    return this.#stateAt;
  }

  /** The producer viewers consume. */
  get producer(): types.Producer {
    return this.#ingest.producer;
  }

  /** Frame size announced to viewers (config, or the test pattern's), px. */
  get frameSize(): { width?: number; height?: number } {
    const src = this.config.source;
    if (src.kind === 'test-pattern') return { width: src.width, height: src.height };
    return { width: this.config.width, height: this.config.height };
  }

  /** Local RTP/RTCP ports the source must send to. */
  get ports(): { rtpPort: number; rtcpPort: number } {
    return { rtpPort: this.#ingest.rtpPort, rtcpPort: this.#ingest.rtcpPort };
  }

  /** Stops the relay and closes the ingest (consumers of it close with `producerclose`). */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#setState('closed');
    await this.#relay?.stop();
    this.#ingest.transport.close();
  }

  #setState(state: CameraState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#stateAt = Date.now();
    this.#logger.info({ state }, 'camera state');
    this.emit('statechange', state, this.#stateAt);
  }
}
