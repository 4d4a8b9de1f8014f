/**
 * A source driver runs whatever feeds one camera stream's PlainTransport:
 * nothing for an RTP-push camera (it sends by itself), an ffmpeg relay for
 * test patterns and RTSP cameras.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { CameraConfig, IngestConfig, TestPatternSource } from '../config/schema.ts';
import { localPortsTaken, RelayProcess } from './relay-process.ts';
import type { AudioPlan } from './rtsp/decide.ts';
import { testPatternArgs, type RtpTarget } from './test-pattern.ts';

/** What a driver may ask of its stream: an audio ingest once it knows the camera's audio. */
export interface AudioHost {
  /**
   * Opens (or re-plans) the stream's audio ingest for `plan` and returns where
   * the relay must send it.
   * @throws Error for a plan without audio, or when mediasoup refuses the ingest
   */
  openAudio(plan: AudioPlan): Promise<RtpTarget>;
}

export interface SourceDriverEvents {
  /** The source could not deliver (e.g. RTSP 401, connection refused); `reason` is safe to show. */
  failure: [reason: string];
  /** The relay was (re)started; counts reconnects. */
  start: [];
  /**
   * The relay could not bind its fixed local ports: another socket took them
   * after they were chosen ({@link localPortsTaken}). Not a source failure: the
   * stream moves the relay to a new pair (retarget) or it fails on every restart.
   */
  localPortsTaken: [];
}

/** Runs the source of one camera stream. */
export abstract class SourceDriver extends EventEmitter<SourceDriverEvents> {
  /** Points the source at (new) ingest targets (video, and audio when it has some) and (re)starts it. */
  abstract retarget(target: RtpTarget, audioTarget?: RtpTarget): void;
  /** Forces a reconnect now (the stream stalled). */
  abstract restartNow(): void;
  /** Stops the source for good. */
  abstract stop(): Promise<void>;
}

/**
 * Drives an ffmpeg relay whose argv is a function of the ingest target.
 * Used by the test pattern (and, with its own argv builder, by RTSP).
 */
export class RelayDriver extends SourceDriver {
  readonly #relay: RelayProcess;
  readonly #argsFor: (target: RtpTarget) => string[];

  /**
   * @param argsFor ffmpeg argv for a target (no secrets: argv is visible in the process list)
   * @param classify turns a failed run's stderr into a safe reason, or undefined if not a source failure
   */
  constructor(
    argsFor: (target: RtpTarget) => string[],
    target: RtpTarget,
    ingest: Pick<IngestConfig, 'retryMinMs' | 'retryMaxMs'>,
    logger: Logger,
    classify: (stderr: string) => string | undefined = () => undefined,
  ) {
    super();
    this.#argsFor = argsFor;
    this.#relay = new RelayProcess({
      command: 'ffmpeg',
      args: () => argsFor(target),
      logger,
      minBackoffMs: ingest.retryMinMs,
      maxBackoffMs: ingest.retryMaxMs,
    });
    this.#relay.on('spawn', () => this.emit('start'));
    this.#relay.on('exit', ({ stderr, signal }) => {
      if (signal === 'SIGKILL' || signal === 'SIGTERM') return;
      if (localPortsTaken(stderr)) return void this.emit('localPortsTaken');
      const reason = classify(stderr) ?? 'source relay exited';
      this.emit('failure', reason);
    });
  }

  /** pid of the running relay (tests, diagnostics). */
  get pid(): number | undefined {
    return this.#relay.pid;
  }

  retarget(target: RtpTarget): void {
    this.#relay.setArgs(() => this.#argsFor(target));
    this.#relay.restartNow();
  }

  restartNow(): void {
    this.#relay.restartNow();
  }

  stop(): Promise<void> {
    return this.#relay.stop();
  }
}

/** The built-in test pattern as a relay. */
export function testPatternDriver(
  camera: CameraConfig,
  source: TestPatternSource,
  target: RtpTarget,
  ingest: IngestConfig,
  logger: Logger,
): SourceDriver {
  return new RelayDriver((t) => testPatternArgs(camera, source, t), target, ingest, logger);
}
