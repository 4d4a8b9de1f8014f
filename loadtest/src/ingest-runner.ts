/**
 * What `npm run loadtest:ingest` runs per camera source (./ingest-push.ts,
 * ./ingest-rtsp.ts): a fresh Vigil per step of N cameras, measured over one
 * window, as one markdown table row.
 */
import type { VigilCores } from './vigil-server.ts';

/** Options every ingest runner takes. */
export interface IngestRunOptions {
  /** Measuring window per step, s (2..60). */
  windowSec: number;
  /** Camera bitrate, Mbps (the clip's). */
  mbps: number;
  /** The camera stream: ./feed.ts `clip()`'s file (MPEG-TS). */
  clipPath: string;
  /** Where Vigil runs; the camera side takes the other core (`nodeCore`). Empty on a 1-core machine. */
  cores: VigilCores;
  /** Vigil's instant start (GOP cache per camera stream) on, as by default, or off. */
  instantStart: boolean;
}

/** One measured step. */
export interface IngestStep {
  /** Table cells, in the order of {@link IngestRunner.headers}. */
  row: (string | number)[];
  /** Every camera live and loss < 0.1 % (the definition both sources share). */
  clean: boolean;
}

/** A camera source's runner: its table and how one step is measured. */
export interface IngestRunner {
  /** Report title (markdown heading text). */
  title: string;
  /** Table header cells. */
  headers: string[];
  /** The note under the table, given the largest loss-free step. */
  footer(lastClean: number | undefined): string;
  /**
   * Starts everything for `cameras` cameras, measures one window, tears it all down.
   * @throws Error when Vigil, the feed or the RTSP server does not start
   */
  step(cameras: number): Promise<IngestStep>;
}
