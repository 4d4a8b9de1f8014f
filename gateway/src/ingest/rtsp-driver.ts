/**
 * Drives an RTSP camera stream: probe (ffprobe) -> decide (copy, transcode or
 * refuse) -> run the ffmpeg relay into the stream's PlainTransport, restarted
 * with backoff by {@link RelayProcess} when it exits.
 *
 * The probe runs once per driver (camera added or its config changed), not on
 * every reconnect: it takes 1.5-2 s and a returning camera must be live again
 * within ~2 s. A failed probe is retried with backoff (a refused camera, e.g.
 * H.265 without `transcode`, only every 30 s). Credentials live in a 0600
 * file the relay reads (see rtsp/input.ts), never in argv or logs; relay
 * stderr is scrubbed before anyone sees it.
 */
import type { Logger } from 'pino';
import type { CameraConfig, IngestConfig } from '../config/schema.ts';
import { localPortsTaken, RelayProcess } from './relay-process.ts';
import { decideRelay, type RelayDecision } from './rtsp/decide.ts';
import { prepareRtspInput, rtspStderrRedactor, type RtspInput } from './rtsp/input.ts';
import { classifyFfmpegError, probeRtsp } from './rtsp/probe.ts';
import { rtspRelayArgs } from './rtsp/relay-args.ts';
import { RtspError, type RtspSource } from './rtsp/source.ts';
import { SourceDriver, type AudioHost } from './source-driver.ts';
import type { RtpTarget } from './test-pattern.ts';

/** Wait before probing a refused camera again, ms. */
const REFUSED_RETRY_MS = 30_000;

/** Human-readable reason for an RTSP failure (no credentials: RtspError messages are scrubbed). */
function reasonOf(err: unknown): string {
  if (err instanceof RtspError) return `RTSP ${err.reason.replace('_', ' ')}: ${err.message}`;
  return `RTSP failure: ${(err as Error).message}`;
}

export class RtspDriver extends SourceDriver {
  readonly #camera: CameraConfig;
  readonly #source: RtspSource;
  readonly #ingest: IngestConfig;
  readonly #log: Logger;
  #target: RtpTarget;
  #audioTarget: RtpTarget | undefined;
  readonly #audioHost: AudioHost;
  #input: RtspInput | undefined;
  #decision: Exclude<RelayDecision, { mode: 'refuse' }> | undefined;
  #relay: RelayProcess | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #stopped = false;

  constructor(camera: CameraConfig, source: RtspSource, target: RtpTarget, ingest: IngestConfig, logger: Logger, audio: AudioHost) {
    super();
    this.#audioHost = audio;
    this.#camera = camera;
    this.#source = source;
    this.#target = target;
    this.#ingest = ingest;
    this.#log = logger;
    setImmediate(() => void this.#probeAndStart());
  }

  /** How the relay carries the stream (after a successful probe). */
  get decision(): RelayDecision | undefined {
    return this.#decision;
  }

  /** pid of the running relay (tests, diagnostics). */
  get pid(): number | undefined {
    return this.#relay?.pid;
  }

  async #probeAndStart(): Promise<void> {
    if (this.#stopped) return;
    let retryMs = Math.min(this.#ingest.retryMaxMs * 2 ** Math.min(this.#attempt, 5), 30_000);
    try {
      const probe = await probeRtsp(this.#source);
      const decision = decideRelay(probe, this.#source);
      if (decision.mode === 'refuse') {
        retryMs = REFUSED_RETRY_MS;
        throw new Error(`camera refused: ${decision.message}`);
      }
      if (this.#stopped) return;
      // The producer was declared with the config's codec: another codec cannot play.
      if (decision.codec !== this.#camera.codec) {
        retryMs = REFUSED_RETRY_MS;
        throw new Error(`camera refused: the stream is ${decision.codec} but the camera config says codec ${this.#camera.codec}`);
      }
      // A different H.264 profile still decodes in browsers; say how to declare it exactly.
      if (decision.codec === 'H264' && decision.h264Profile !== this.#camera.h264Profile && this.#attempt === 0) {
        this.#log.info({ sourceProfile: decision.h264Profile, declared: this.#camera.h264Profile }, 'RTSP stream profile differs from h264Profile in the camera config');
      }
      if (decision.mode === 'transcode') this.#log.info({ reason: decision.reason }, decision.message);
      if (decision.audio.mode === 'off') {
        if (this.#source.audio !== 'off') this.#log.warn({ reason: decision.audio.reason }, decision.audio.message);
      } else {
        this.#audioTarget = await this.#audioHost.openAudio(decision.audio);
      }
      this.#decision = decision;
      this.#input = await prepareRtspInput(this.#source);
      this.#startRelay();
    } catch (err) {
      if (this.#stopped) return;
      this.#attempt++;
      this.emit('failure', err instanceof RtspError || !(err instanceof Error) ? reasonOf(err) : err.message);
      this.#retryTimer = setTimeout(() => void this.#probeAndStart(), retryMs);
      this.#retryTimer.unref();
    }
  }

  #startRelay(): void {
    const input = this.#input!;
    const decision = this.#decision!;
    this.#relay = new RelayProcess({
      command: 'ffmpeg',
      args: () => rtspRelayArgs(input, decision, { video: this.#target, ...(this.#audioTarget ? { audio: this.#audioTarget } : {}) }),
      logger: this.#log,
      minBackoffMs: this.#ingest.retryMinMs,
      maxBackoffMs: this.#ingest.retryMaxMs,
      redact: rtspStderrRedactor(this.#source, input),
    });
    this.#relay.on('spawn', () => this.emit('start'));
    this.#relay.on('exit', ({ stderr, signal }) => {
      if (signal === 'SIGKILL' || signal === 'SIGTERM' || this.#stopped) return;
      if (localPortsTaken(stderr)) return void this.emit('localPortsTaken');
      const { reason, text } = classifyFfmpegError(stderr);
      this.emit('failure', `RTSP ${reason.replace('_', ' ')}: ${text}`);
    });
  }

  retarget(target: RtpTarget, audioTarget?: RtpTarget): void {
    this.#target = target;
    this.#audioTarget = audioTarget;
    this.#relay?.restartNow();
  }

  restartNow(): void {
    this.#relay?.restartNow();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    await this.#relay?.stop();
    await this.#input?.dispose();
  }
}
