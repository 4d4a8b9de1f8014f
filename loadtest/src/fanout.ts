/**
 * One fan-out measurement: a server (Vigil's mediasoup worker, or Janus's
 * streaming plugin) pinned to one core, fed one camera stream, and the Pion
 * bots on the other core stepping through viewer counts. Shared by
 * `npm run loadtest:media` (Vigil) and `npm run loadtest:janus-vs-vigil` (both).
 *
 * Core placement on a 2-core machine (taskset): the measured server on core
 * 0; bots, the feed (ffmpeg -c copy) and Vigil's Node.js signaling on core 1.
 */
import { runBots, type BotStep } from './bots.ts';
import { clip, startFeed, type ClipSpec } from './feed.ts';
import { fixed, markdownTable } from './machine.ts';
import { startJanus } from './janus-server.ts';
import { createViewerLink, NETNS_CIDR } from './netns.ts';
import { ProcessSet } from './processes.ts';
import { recordProfile, summarizeProfile, type ProfileSummary } from './profile.ts';
import { startVigilServer } from './vigil-server.ts';

export type ServerKind = 'vigil' | 'janus';

export interface FanoutOptions {
  server: ServerKind;
  /** The camera stream (1280x720 30 fps by default in the CLIs). */
  stream: ClipSpec;
  /** Increasing viewer counts. */
  steps: number[];
  /** Measurement window per step, s. */
  windowSec: number;
  /** Core of the measured server; the others go on `otherCore`. */
  serverCore?: number;
  otherCore?: number;
  /** Bots started per second. */
  rate?: number;
  /** Called with each step as it completes (progress). */
  onStep?: (s: BotStep) => void;
  /**
   * Where the viewers receive: `loopback` (the bots on the server's own
   * loopback or namespace: the kernel runs each packet's receive path inside
   * the server's send, charging it to the server), or `veth` (the bots in a
   * namespace of their own behind a veth pair, their receive path steered to
   * `otherCore` by RPS, as a NIC would hand it off; see createViewerLink).
   */
  viewers?: ViewerPlacement;
  /**
   * Vigil's bots offer a browser's RTP header extensions (default true), and
   * the gateway keeps what it keeps for a browser (since issue 12: mid,
   * toffset, video-orientation; no transport-cc or abs-send-time, so no
   * send-side BWE); false: none.
   */
  headerExtensions?: boolean;
  /**
   * Sample the server's stacks with perf into this file during the last
   * step's measured window (~1k samples/s: well under 1 % of a core).
   */
  profileFile?: string;
  /** Vigil only: run this mediasoup-worker binary instead of the set-up's (compare builds in one run). */
  workerBin?: string;
}

export type ViewerPlacement = 'loopback' | 'veth';

export interface FanoutResult {
  server: ServerKind;
  stream: ClipSpec;
  steps: BotStep[];
  /** A label for the set-up when a run compares several (printed in the table's first column). */
  setup?: string | undefined;
  /** The last step's profile, with {@link FanoutOptions.profileFile}. */
  profile?: ProfileSummary;
}

/** Cores to pin to: 0 and 1 when the machine has two or more, none otherwise. */
export function defaultCores(cores: number): { serverCore?: number; otherCore?: number } {
  return cores >= 2 ? { serverCore: 0, otherCore: 1 } : {};
}

/**
 * Starts the server and its feed, runs the bots through the steps, tears everything down.
 * @throws Error when a part does not start or the bots fail
 */
export async function runFanout(o: FanoutOptions): Promise<FanoutResult> {
  const procs = new ProcessSet();
  const common = [
    '--steps', o.steps.join(','), '--window', `${o.windowSec}s`, '--settle', '2s', '--rate', String(o.rate ?? 20),
    ...(o.headerExtensions === false ? ['--header-extensions=false'] : []),
    '--max-duration', `${Math.ceil(60 + o.steps.length * (o.windowSec + 5) + o.steps.at(-1)! / (o.rate ?? 20))}s`,
  ];
  const other = o.otherCore === undefined ? {} : { core: o.otherCore };
  // perf runs beside the bots; its failure is reported with the result, never as an unhandled rejection.
  let profiling: Promise<Error | undefined> | undefined;
  const profileLastStep = (pid: number) => (step: number): void => {
    if (o.profileFile && step === o.steps.at(-1)) {
      profiling = recordProfile(pid, Math.max(1, o.windowSec - 1), o.profileFile).then(() => undefined, (err: Error) => err);
    }
  };
  const withProfile = async (r: FanoutResult): Promise<FanoutResult> => {
    if (!profiling || !o.profileFile) return r;
    const err = await profiling;
    if (err) throw new Error(`perf record failed: ${err.message}`);
    return { ...r, profile: summarizeProfile(o.profileFile) };
  };
  const apart = o.viewers === 'veth';
  if (apart && o.otherCore === undefined) throw new Error('viewers: veth needs two cores (the viewers\' receive path runs on the other core)');
  try {
    const clipPath = clip(o.stream);
    if (o.server === 'vigil') {
      const link = apart ? createViewerLink({ rpsCore: o.otherCore! }) : undefined;
      if (link) procs.onStop(link.netns.destroy);
      const vigil = await startVigilServer(procs, { workerCore: o.serverCore, nodeCore: o.otherCore, ...(o.workerBin ? { workerBin: o.workerBin } : {}), ...(link ? { viewerAddress: link.serverAddress } : {}) });
      startFeed(procs, clipPath, [{ port: vigil.rtpPort }], o.otherCore);
      await waitLive(vigil.url);
      const steps = await runBots(procs, {
        args: ['--mode', 'vigil', '--url', vigil.url, '--camera', vigil.camera, ...(link ? ['--allow-net', link.cidr] : []), ...common],
        ...(link ? { netns: link.netns } : {}),
        env: { VIGIL_SECRET: vigil.secret },
        serverPid: vigil.workerPid,
        onWindow: profileLastStep(vigil.workerPid),
        ...other,
        ...(o.onStep ? { onStep: o.onStep } : {}),
      });
      return await withProfile({ server: 'vigil', stream: o.stream, steps });
    }
    const janus = await startJanus(procs, o.serverCore, apart ? { rpsCore: o.otherCore! } : undefined);
    startFeed(procs, clipPath, [{ port: janus.rtpPort }], o.otherCore, janus.netns);
    await new Promise((r) => setTimeout(r, 1500));
    const steps = await runBots(procs, {
      args: ['--mode', 'janus', '--url', janus.apiUrl, '--mountpoint', String(janus.mountpoint), '--allow-net', janus.viewerLink?.cidr ?? NETNS_CIDR, ...common],
      serverPid: janus.pid,
      onWindow: profileLastStep(janus.pid),
      netns: janus.viewerLink?.netns ?? janus.netns,
      ...other,
      ...(o.onStep ? { onStep: o.onStep } : {}),
    });
    return await withProfile({ server: 'janus', stream: o.stream, steps });
  } finally {
    await procs.stopAll();
  }
}

/** Waits until Vigil's camera has RTP (GET /readyz answers and the feed had time to latch), at most 10 s. */
async function waitLive(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 1500));
}

/**
 * Server CPU per RTP packet delivered to one viewer, µs: the server's CPU over
 * the window divided by the packets all bots received in it (one viewer's
 * packet = one consumer's send). NaN without a CPU sample or packets.
 */
export function cpuUsPerPacket(s: BotStep): number {
  if (s.serverCpuPct === undefined || s.packets <= 0) return NaN;
  return ((s.serverCpuPct / 100) * (s.windowMs / 1000) * 1e6) / s.packets;
}

/** CPU per viewer, ms of CPU per second per viewer (= % of a core x 10 / viewers). */
export function cpuMsPerViewer(s: BotStep): number {
  return ((s.serverCpuPct ?? NaN) * 10) / Math.max(1, s.bots);
}

/**
 * Marginal CPU per added viewer between two steps, ms of CPU per second per
 * viewer: the slope, free of the server's fixed cost (idle threads, the ingest).
 */
export function marginalCpuMs(prev: BotStep | undefined, s: BotStep): number {
  if (!prev || prev.serverCpuPct === undefined || s.serverCpuPct === undefined) return NaN;
  return ((s.serverCpuPct - prev.serverCpuPct) * 10) / (s.bots - prev.bots);
}

/**
 * Viewers one core would carry at this step's cost per viewer (linear
 * extrapolation: 100 % / (CPU % per viewer)); NaN when delivery at the step
 * was not clean (a bot without frames, loss over 1 %, or a bot frozen at the end).
 */
export function viewersPerCore(s: BotStep): number {
  const clean = s.botsWithFrames === s.bots && s.lossPct <= 1 && s.frozenNow === 0;
  return clean && s.serverCpuPct ? (100 * s.bots) / s.serverCpuPct : NaN;
}

/** The markdown table of one or more fan-out results, one row per step. */
export function fanoutTable(results: FanoutResult[]): string {
  const withSetup = results.some((r) => r.setup);
  const rows = results.flatMap((r) =>
    r.steps.map((s, i) => [
      ...(withSetup ? [r.setup ?? ''] : []),
      r.server,
      `${+(r.stream.bitrate / 1e6).toFixed(1)} Mbps`,
      s.bots,
      `${s.connected}/${s.botsWithFrames}`,
      fixed(s.serverCpuPct ?? NaN),
      fixed(cpuMsPerViewer(s), 2),
      fixed(cpuUsPerPacket(s), 1),
      fixed(marginalCpuMs(r.steps[i - 1], s), 2),
      fixed(s.fpsPerBot),
      fixed(s.bitrateBps / 1e6, 2),
      fixed(s.lossPct, 2),
      `${s.freezes} / ${s.frozenNow}`,
      s.ttffMs.count ? `${fixed(s.ttffMs.p50 ?? NaN, 0)} / ${fixed(s.ttffMs.p95 ?? NaN, 0)}` : '-',
      fixed(s.botsCpuPct ?? NaN, 0),
      fixed(viewersPerCore(s), 0),
    ]),
  );
  return markdownTable(
    [...(withSetup ? ['set-up'] : []), 'server', 'stream', 'viewers', 'connected / receiving', 'server CPU % of a core', 'CPU ms/s per viewer', 'µs per packet per viewer', 'marginal CPU ms/s per added viewer', 'fps per viewer', 'Mbps per viewer', 'loss %', 'freezes / frozen at end', 'TTFF p50 / p95 ms', 'bots CPU %', 'viewers per core (extrapolated)'],
    rows,
  );
}
