/**
 * The media API on a cluster node ({@link MediaApi}): any camera of the
 * cluster, whichever node ingests it. Composes this node's {@link LocalMedia}
 * (its workers, the cameras it ingests, its viewers' transports) with:
 *
 * - the directory: one {@link ClusterCameraView} per configured camera (the
 *   config file every node reads), read synchronously;
 * - the node registry (node-registry.ts): heartbeat with load every
 *   `heartbeatMs`, liveness polled every {@link LIVENESS_POLL_MS};
 * - the assignment (camera-assignment.ts): a round reads every camera's
 *   origin, claims orphaned cameras this node is planned for, opens the ingest
 *   of cameras it owns and closes the ingest of cameras it lost (fencing),
 *   and moves edge pipes to new origins. A round runs when the set of live
 *   nodes changes, when a claim is published, and every `heartbeatMs`;
 * - pipes to and from other nodes (origin-pipes.ts, edge-pipes.ts) negotiated
 *   over Redis requests (node-rpc.ts).
 *
 * Redis down: nothing is re-assigned; what this node ingests and the pipes it
 * has keep playing; a viewer asking for a camera that needs the registry gets
 * `cluster_unavailable`. Rounds resume when Redis is back.
 */
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import { reconcileCameras } from '../cameras/reconcile.ts';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { ErrorCode, ProtocolError, type Quality } from '@vigil/protocol';
import type { CameraConfig } from '../config/schema.ts';
import type { GatewayOptions } from '../gateway.ts';
import { LocalMedia } from '../media/local-media.ts';
import type { LocalViewerTransport } from '../media/viewer-transport.ts';
import {
  CameraConflictError,
  type CameraView,
  type IngestCounters,
  type IngestStats,
  type MediaApi,
  type MediaEvents,
  type MediaJson,
  type ReconcileResult,
  type StreamStats,
  type ViewerConsumer,
  type ViewerTransport,
  type WorkerLoad,
} from '../media/media-types.ts';
import { claimOrigin, planOrphans, readOrigins, releaseOrigin, type ReadOrigin } from './camera-assignment.ts';
import { ClusterCameraView } from './cluster-camera-view.ts';
import { KEY, type ClusterMediaSettings, type ClusterRedisClients, type NodeLoad, type OriginRecord } from './cluster-types.ts';
import { ClusterViewerTransport, PipedViewerConsumer, type ClusterViewerHost } from './cluster-viewer.ts';
import { EdgePipes } from './edge-pipes.ts';
import { NodeRegistry, type RegistrySnapshot } from './node-registry.ts';
import { NodeRpc } from './node-rpc.ts';
import { codedError, OriginPipes } from './origin-pipes.ts';

/** How often liveness is polled (SMEMBERS + MGET + PUBSUB NUMSUB), ms: bounds how long a killed node goes unnoticed. */
export const LIVENESS_POLL_MS = 250;
/** How long a viewer's consume waits for this node's ingest of a camera it just claimed, ms. */
const OPEN_WAIT_MS = 5000;

export interface ClusterMediaOptions extends GatewayOptions {
  redis: ClusterRedisClients;
  cluster: ClusterMediaSettings;
}

export class ClusterMedia extends EventEmitter<MediaEvents> implements MediaApi, ClusterViewerHost {
  readonly #local: LocalMedia;
  readonly #redis: ClusterRedisClients;
  readonly #s: ClusterMediaSettings;
  readonly #log: Logger;
  readonly #registry: NodeRegistry;
  readonly #rpc: NodeRpc;
  readonly #edge: EdgePipes;
  readonly #origin: OriginPipes;
  readonly #views = new Map<string, ClusterCameraView>();
  #viewEpoch = 0;
  /** Each camera's origin, from the last round and published claims. */
  readonly #origins = new Map<string, ReadOrigin | OriginRecord>();
  /** Ingests this node is opening, by camera id. */
  readonly #opening = new Map<string, Promise<void>>();
  readonly #transports = new Set<ClusterViewerTransport>();
  #live = new Set<string>();
  #snapshot: RegistrySnapshot | undefined;
  #lastRoundAt = 0;
  #round: Promise<void> | undefined;
  #roundAgain = false;
  #pollTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #lastCpu = new Map<number, { at: number; s: number }>();
  #workerCpu: number[] = [];
  #closing: Promise<void> | undefined;
  readonly #onMessage = (channel: string, message: string): void => this.#assignMessage(channel, message);
  readonly #onUp = (): void => this.#redisUp();
  readonly #onDown = (err: Error): void => this.#log.warn({ err: err.message }, 'cluster registry unreachable: serving what this node serves, refusing what needs the registry');

  private constructor(local: LocalMedia, o: ClusterMediaOptions) {
    super();
    this.#local = local;
    this.#redis = o.redis;
    this.#s = o.cluster;
    this.#log = o.logger.child({ component: 'cluster', nodeId: o.cluster.nodeId });
    this.#registry = new NodeRegistry({ redis: o.redis, settings: o.cluster, logger: this.#log });
    this.#origin = new OriginPipes({ settings: o.cluster, rpc: () => this.#rpc, logger: this.#log });
    this.#edge = new EdgePipes({ settings: o.cluster, rpc: () => this.#rpc, logger: this.#log });
    this.#rpc = new NodeRpc({
      redis: o.redis,
      nodeId: o.cluster.nodeId,
      logger: this.#log,
      timeoutMs: o.cluster.pipe.requestTimeoutMs,
      handlers: {
        'pipe.open': (p, from) => this.#servePipe(p, from),
        'pipe.close': async (p, from) => {
          this.#origin.closeByEdge(String(p['pipeId']), from);
          return {};
        },
        'pipe.closed': async (p, from) => {
          this.#edge.closedByOrigin(String(p['edgePipeId']), from);
          return {};
        },
      },
    });
  }

  /**
   * Starts this node's workers (no camera yet), joins the cluster (heartbeat,
   * request channel) and runs the first assignment round; cameras of
   * `config.cameras` form the directory, ingested where the rounds place them.
   * Redis may be down: the node starts, and joins when Redis comes up.
   * @throws Error when the workers cannot start
   */
  static async start(o: ClusterMediaOptions): Promise<ClusterMedia> {
    const local = await LocalMedia.start({ ...o, config: { ...o.config, cameras: [] } });
    const media = new ClusterMedia(local, o);
    for (const config of o.config.cameras) media.#addView(config);
    media.#begin();
    return media;
  }

  /** This node's local media (tests and benchmarks observe its gateway through it). */
  get local(): LocalMedia {
    return this.#local;
  }

  /** This node's id. */
  get nodeId(): string {
    return this.#s.nodeId;
  }

  /** Pipes this node pulls (edge) and serves (origin), for tests and benches. */
  get pipes(): { pulled: number; served: number } {
    return { pulled: this.#edge.size, served: this.#origin.size };
  }

  /** Bytes moved by this node's pipes, per pipe (tests, benches). */
  async pipeStats(): Promise<{ pulled: { cameraId: string; originNode: string; bytesReceived: number }[]; served: { cameraId: string; edgeNode: string; bytesSent: number }[] }> {
    const [pulled, served] = await Promise.all([this.#edge.stats(), this.#origin.stats()]);
    return { pulled, served };
  }

  /** Where a camera is ingested as this node last saw it (undefined: unknown). */
  originOf(cameraId: string): OriginRecord | undefined {
    const o = this.#origins.get(cameraId);
    return o && { node: o.node, epoch: o.epoch };
  }

  #begin(): void {
    this.#rpc.start();
    this.#redis.subscriber.on('message', this.#onMessage);
    this.#redis.subscriber.on('ready', this.#onUp);
    this.#redis.on('up', this.#onUp);
    this.#redis.on('down', this.#onDown);
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), this.#s.heartbeatMs);
    this.#pollTimer = setInterval(() => void this.#poll(), LIVENESS_POLL_MS);
    if (this.#redis.up) this.#redisUp();
  }

  #redisUp(): void {
    if (this.#closing) return;
    void this.#redis.subscriber.subscribe(KEY.assignChannel).catch(() => undefined);
    void this.#registry
      .reconnected()
      .then(() => this.#heartbeat())
      .then(() => this.#poll(true));
  }

  async #heartbeat(): Promise<void> {
    if (this.#closing || !this.#redis.up) return;
    try {
      await this.#registry.heartbeat({ rpcSubscribed: this.#rpc.subscribed, load: await this.#load(), cameras: this.#localStates() });
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, 'heartbeat not written');
    }
  }

  /** Polls liveness; runs a round when the live set changed, or every heartbeat. */
  async #poll(force = false): Promise<void> {
    if (this.#closing || !this.#redis.up) return;
    let snap: RegistrySnapshot;
    try {
      snap = await this.#registry.snapshot();
    } catch {
      return;
    }
    const live = new Set(snap.live.keys());
    live.add(this.#s.nodeId);
    const changed = live.size !== this.#live.size || [...live].some((id) => !this.#live.has(id));
    if (changed) {
      const gone = [...this.#live].filter((id) => !live.has(id));
      if (gone.length) this.#log.warn({ nodes: gone }, 'cluster nodes gone');
    }
    this.#live = live;
    this.#snapshot = snap;
    if (force || changed || Date.now() - this.#lastRoundAt >= this.#s.heartbeatMs) this.#requestRound();
  }

  #requestRound(): void {
    if (this.#closing) return;
    if (this.#round) {
      this.#roundAgain = true;
      return;
    }
    this.#round = this.#runRound()
      .catch((err: unknown) => this.#log.debug({ err: (err as Error).message }, 'assignment round failed (Redis down?)'))
      .finally(() => {
        this.#round = undefined;
        if (this.#roundAgain) {
          this.#roundAgain = false;
          this.#requestRound();
        }
      });
  }

  /** One assignment round (see the file head). */
  async #runRound(): Promise<void> {
    this.#lastRoundAt = Date.now();
    const snap = this.#snapshot ?? (await this.#registry.snapshot());
    const me = this.#s.nodeId;
    const ids = [...this.#views.keys()].sort();
    const origins = await readOrigins(this.#redis.command, ids);
    const orphans: string[] = [];
    for (const id of ids) {
      const o = origins.get(id);
      const remembered = this.#origins.get(id);
      if (o && (o.node === me || this.#live.has(o.node) || snap.unknown.has(o.node))) this.#origins.set(id, o);
      // The record is gone (Redis lost its data) and its owner has not been heard from since: let it claim again.
      else if (!o && remembered && remembered.node !== me && snap.unknown.has(remembered.node)) continue;
      else orphans.push(id);
    }
    this.#edge.retarget(this.#originsMap());
    this.#origin.closeEdgesIn(snap.dead);
    const nodes = [...snap.live.values()];
    if (!snap.live.has(me)) return this.#applyOrigins(ids); // not registered yet: claim nothing
    // A camera a live node still ingests (its record was lost with Redis, or the claim never landed)
    // stays where it is: viewers keep their consumers. The others are planned by load.
    const incumbents = new Map<string, string>();
    for (const n of nodes) for (const id of Object.keys(n.cameras)) if (!incumbents.has(id) || n.id < incumbents.get(id)!) incumbents.set(id, n.id);
    const plan = planOrphans(
      orphans.filter((id) => !incumbents.has(id)),
      nodes,
      (id) => (this.#views.get(id)?.config.subSource ? 2 : 1),
    );
    for (const id of orphans) if (incumbents.has(id)) plan.set(id, incumbents.get(id)!);
    for (const id of orphans) {
      if (plan.get(id) !== me) continue;
      const claimed = await claimOrigin(this.#redis.command, id, me, origins.get(id)?.raw ?? '');
      if (claimed) {
        this.#log.info({ cameraId: id, epoch: claimed.epoch, previous: origins.get(id)?.node }, 'camera claimed');
        this.#origins.set(id, claimed);
        // Open now: an edge asking for the camera (it heard the claim) waits for this ingest instead of being refused.
        const view = this.#views.get(id);
        if (view) void this.#ensureIngest(view);
      }
    }
    await this.#applyOrigins(ids);
  }

  /** Brings this node's ingests and the views' states in line with the known origins. */
  async #applyOrigins(ids: string[]): Promise<void> {
    const me = this.#s.nodeId;
    const work: Promise<void>[] = [];
    for (const id of ids) {
      const view = this.#views.get(id);
      if (!view) continue;
      const o = this.#origins.get(id);
      if (o?.node === me) {
        work.push(this.#ensureIngest(view));
        continue;
      }
      if (this.#local.camera(id) && !this.#opening.has(id)) work.push(this.#dropIngest(view, o ? `now ingested by ${o.node}` : 'unassigned'));
      if (o && this.#live.has(o.node)) view.setRemote(this.#snapshot?.live.get(o.node)?.cameras[id] ?? 'connecting');
      else if (!o || !this.#snapshot?.unknown.has(o.node)) view.setRemote('offline', 'no live node ingests it');
    }
    await Promise.all(work);
  }

  #originsMap(): Map<string, OriginRecord> {
    const m = new Map<string, OriginRecord>();
    for (const [id, o] of this.#origins) m.set(id, o);
    return m;
  }

  /** Opens this node's ingest of a camera it owns (or re-opens it with a changed config). */
  #ensureIngest(view: ClusterCameraView): Promise<void> {
    const pending = this.#opening.get(view.id);
    if (pending) return pending;
    const current = this.#local.camera(view.id);
    if (current && current.state !== 'closed' && isDeepStrictEqual(current.config, view.config)) {
      view.bindLocal(current);
      return Promise.resolve();
    }
    const open = (async () => {
      try {
        const camera = current ? await this.#local.updateCamera(view.config) : await this.#local.addCamera(view.config);
        if (this.#views.get(view.id) === view) view.bindLocal(camera);
        else await this.#local.removeCamera(view.id);
        this.#log.info({ cameraId: view.id, epoch: this.#origins.get(view.id)?.epoch }, 'camera ingested here');
      } catch (err) {
        this.#log.error({ cameraId: view.id, err: (err as Error).message }, 'camera failed to open');
      }
    })().finally(() => this.#opening.delete(view.id));
    this.#opening.set(view.id, open);
    return open;
  }

  async #dropIngest(view: ClusterCameraView, why: string): Promise<void> {
    view.unbindLocal();
    this.#log.warn({ cameraId: view.id, why }, 'camera no longer ingested here');
    await this.#local.removeCamera(view.id);
  }

  #assignMessage(channel: string, message: string): void {
    if (channel !== KEY.assignChannel) return;
    try {
      const m = JSON.parse(message) as { cameraId: string; node: string; epoch: number };
      if (!this.#views.has(m.cameraId)) return;
      const known = this.#origins.get(m.cameraId);
      if (known && known.epoch >= m.epoch) return;
      this.#origins.set(m.cameraId, { node: m.node, epoch: m.epoch });
      this.#edge.retarget(new Map([[m.cameraId, { node: m.node, epoch: m.epoch }]]));
      this.#requestRound();
    } catch {
      // malformed: the next round reads the truth
    }
  }

  /** This node's load for its heartbeat. */
  async #load(): Promise<NodeLoad> {
    const cpu = await this.#local.workerCpu(200);
    const now = Date.now();
    const fractions: number[] = [];
    for (const [index, { user, system }] of cpu) {
      const s = user + system;
      const prev = this.#lastCpu.get(index);
      this.#lastCpu.set(index, { at: now, s });
      fractions[index] = prev && now > prev.at ? Math.max(0, (s - prev.s) / ((now - prev.at) / 1000)) : (this.#workerCpu[index] ?? 0);
    }
    this.#workerCpu = fractions;
    let egressBps = 0;
    await Promise.all(
      [...this.#transports].map(async (t) => {
        const stats = await withTimeout(t.webRtcTransport.getStats(), 200).catch(() => undefined);
        egressBps += stats?.[0]?.sendBitrate ?? 0;
      }),
    );
    const ingestStreams = [...this.#views.values()].reduce((n, v) => n + (v.local ? v.qualities.length : 0), 0);
    return {
      workerCpu: fractions.map((f) => Math.round((f ?? 0) * 1000) / 1000),
      consumers: this.#local.workerLoads().reduce((n, w) => n + w.consumers, 0),
      ingestStreams,
      egressBps,
    };
  }

  #localStates(): Record<string, CameraView['state']> {
    const out: Record<string, CameraView['state']> = {};
    for (const v of this.#views.values()) if (v.local) out[v.id] = v.local.state;
    return out;
  }

  /** `pipe.open` from an edge: the camera must be ingested here (waits for an ingest being opened). */
  async #servePipe(p: Record<string, unknown>, from: string): Promise<Record<string, unknown>> {
    const cameraId = String(p['cameraId']);
    if (!(await this.ingestsHere(cameraId))) throw codedError('camera_offline', 'camera is not ingested on this node');
    const camera = this.#local.gateway.camera(cameraId);
    if (!camera || camera.state === 'closed') throw codedError('camera_offline', 'camera is not ingested on this node');
    const answer = await this.#origin.open(camera, from, {
      ip: String(p['ip']),
      port: Number(p['port']),
      srtpParameters: p['srtpParameters'] as types.SrtpParameters,
      edgePipeId: String(p['edgePipeId']),
    });
    return answer as unknown as Record<string, unknown>;
  }

  // ClusterViewerHost

  epochOf(cameraId: string): number | undefined {
    return this.#views.get(cameraId)?.epoch;
  }

  async ingestsHere(cameraId: string): Promise<boolean> {
    const opening = this.#opening.get(cameraId);
    if (opening) await withTimeout(opening, OPEN_WAIT_MS);
    const camera = this.#local.camera(cameraId);
    return camera !== undefined && camera.state !== 'closed';
  }

  async consumeRemote(
    transport: types.WebRtcTransport,
    o: { cameraId: string; quality: Quality; rtpCapabilities: MediaJson; owner: string },
  ): Promise<ViewerConsumer> {
    const view = this.#views.get(o.cameraId);
    if (!view) throw new ProtocolError(ErrorCode.CameraOffline, 'camera is offline');
    const router = this.#local.gateway.workers.slotOfRouter(String(transport.appData['routerId']))?.router;
    if (!router) throw new ProtocolError(ErrorCode.NotFound, 'transport is gone');
    // A pipe already open serves without the registry (Redis may be down).
    let pipe = this.#edge.current(o.cameraId);
    if (pipe) pipe.ref();
    else {
      if (!this.#redis.up) throw new ProtocolError(ErrorCode.ClusterUnavailable, 'cluster registry is unreachable: cannot find the camera\'s origin');
      const origin = this.#origins.get(o.cameraId);
      if (!origin || !this.#live.has(origin.node)) throw new ProtocolError(ErrorCode.CameraOffline, 'camera is moving to another node');
      pipe = await this.#edge.acquire(o.cameraId, { node: origin.node, epoch: origin.epoch }, router);
    }
    try {
      const found = pipe.producer(o.quality);
      if (!found) throw new ProtocolError(ErrorCode.CameraOffline, 'camera stream is restarting');
      const caps = o.rtpCapabilities as unknown as types.RtpCapabilities;
      const appData = { sessionId: o.owner, cameraId: o.cameraId, transportId: transport.id, quality: found.track };
      const video = await this.#local.gateway.fanout.consumeProducer(transport, found.producer, pipe.router, caps, appData, view.config.codec);
      const consumer = new PipedViewerConsumer(video, pipe, {
        cameraId: o.cameraId,
        epoch: view.epoch,
        quality: found.track as Quality,
        transportId: transport.id,
        host: this,
      });
      const audio = pipe.producer('audio');
      if (audio) {
        const a = await this.#local.gateway.fanout
          .consumeProducer(transport, audio.producer, pipe.router, caps, { sessionId: o.owner, cameraId: o.cameraId, pairedWith: video.id }, 'audio')
          .catch(() => undefined);
        if (a) consumer.pairAudio(a);
      }
      return consumer;
    } catch (err) {
      pipe.unref();
      throw err;
    }
  }

  // MediaApi

  routerRtpCapabilities(): Promise<MediaJson> {
    return this.#local.routerRtpCapabilities();
  }

  cameras(): CameraView[] {
    return [...this.#views.values()];
  }

  camera(id: string): CameraView | undefined {
    return this.#views.get(id);
  }

  async createViewerTransport(o: { owner: string; nearCameraId?: string | undefined }): Promise<ViewerTransport> {
    const near = o.nearCameraId !== undefined && this.#local.camera(o.nearCameraId) ? o.nearCameraId : undefined;
    const inner = (await this.#local.createViewerTransport({ owner: o.owner, nearCameraId: near })) as LocalViewerTransport;
    const handle = new ClusterViewerTransport(inner, this);
    this.#transports.add(handle);
    handle.once('close', () => this.#transports.delete(handle));
    return handle;
  }

  streamStats(cameraId: string, fpsWindowMs: number): Promise<StreamStats[] | undefined> {
    return this.#local.streamStats(cameraId, fpsWindowMs);
  }

  ingestStats(cameraId: string, o: { maxAgeMs: number; timeoutMs: number }): Promise<IngestStats | undefined> {
    return this.#local.ingestStats(cameraId, o);
  }

  measureFps(cameraId: string, windowMs: number): Promise<number | undefined> {
    return this.#local.measureFps(cameraId, windowMs);
  }

  ingestCounters(): Promise<Map<string, IngestCounters>> {
    return this.#local.ingestCounters();
  }

  workerLoads(): WorkerLoad[] {
    return this.#local.workerLoads();
  }

  workerCpu(timeoutMs: number): Promise<Map<number, { user: number; system: number }>> {
    return this.#local.workerCpu(timeoutMs);
  }

  #addView(config: CameraConfig): ClusterCameraView {
    const view = new ClusterCameraView(config, ++this.#viewEpoch);
    this.#views.set(config.id, view);
    this.emit('cameraopen', view);
    return view;
  }

  /** Adds a camera to this node's directory; the next round places its ingest. */
  async addCamera(config: CameraConfig): Promise<CameraView> {
    if (this.#views.has(config.id)) throw new CameraConflictError(`camera ${config.id} already exists`);
    const view = this.#addView(config);
    this.#requestRound();
    return view;
  }

  /** Replaces a camera's config: a new view; its ingest here (if any) is re-opened, whose viewers re-subscribe. */
  async updateCamera(config: CameraConfig): Promise<CameraView> {
    const old = this.#views.get(config.id);
    if (!old) throw new CameraConflictError(`camera ${config.id} does not exist`);
    old.close('replaced');
    const view = this.#addView(config);
    if (this.#origins.get(config.id)?.node === this.#s.nodeId) await this.#ensureIngest(view);
    else this.#edge.close(config.id, 'config updated');
    return view;
  }

  async removeCamera(id: string): Promise<boolean> {
    const view = this.#views.get(id);
    if (!view) return false;
    this.#views.delete(id);
    view.close('removed');
    this.#edge.close(id, 'camera removed');
    const origin = this.#origins.get(id);
    this.#origins.delete(id);
    if (this.#local.camera(id)) await this.#local.removeCamera(id);
    if (origin?.node === this.#s.nodeId && this.#redis.up) {
      await releaseOrigin(this.#redis.command, id, JSON.stringify({ node: origin.node, epoch: origin.epoch }));
    }
    return true;
  }

  async reconcile(wanted: CameraConfig[]): Promise<ReconcileResult> {
    const result = await reconcileCameras(
      {
        current: (id) => this.#views.get(id),
        ids: () => this.#views.keys(),
        addCamera: (c) => this.addCamera(c),
        updateCamera: (c) => this.updateCamera(c),
        removeCamera: (id) => this.removeCamera(id),
      },
      wanted,
    );
    this.#log.info({ ...result, failed: result.failed.map((f) => f.id) }, 'cameras reconciled');
    return result;
  }

  /** Leaves the cluster (its record removed, so others take its cameras at once), closes pipes, then the local media. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#pollTimer);
      clearInterval(this.#heartbeatTimer);
      await this.#round?.catch(() => undefined);
      this.#redis.subscriber.off('message', this.#onMessage);
      this.#redis.subscriber.off('ready', this.#onUp);
      this.#redis.off('up', this.#onUp);
      this.#redis.off('down', this.#onDown);
      await this.#rpc.close();
      if (this.#redis.up) await this.#registry.leave();
      this.#edge.closeAll();
      this.#origin.close();
      for (const v of this.#views.values()) v.unbindLocal();
      await this.#local.close();
    })();
    return this.#closing;
  }
}

/** Resolves with `p`, or with undefined after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(timer));
}
