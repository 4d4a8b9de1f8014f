/**
 * The edge's side of pipes: this node has viewers of a camera that another
 * node (its origin) ingests, and pulls it once over a PipeTransport with SRTP
 * (see origin-pipes.ts for the exchange). One pipe per camera per node,
 * shared by every local viewer (each holds a reference while its consumer is
 * open); closed when the last reference goes, and the origin is told
 * (`pipe.close`).
 *
 * A pipe is bound to the origin node it was opened from. When the camera's
 * origin moves to another node (failover, fencing) or the origin says the
 * pipe ended (`pipe.closed`: its ingest was re-opened, e.g. after it lost and
 * won the camera back), the pipe closes here: its producers close, and so do
 * the viewers' consumers of them (mediasoup Consumer docs: `producerclose`),
 * which tells the viewers to consume again.
 */
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { ErrorCode, ProtocolError } from '@vigil/protocol';
import type { ClusterMediaSettings, OriginRecord } from './cluster-types.ts';
import { NodeRequestError, NodeUnreachableError, type NodeRpc } from './node-rpc.ts';
import type { PipeOpenAnswer } from './origin-pipes.ts';

/** One camera pulled from its origin. */
export class EdgePipe {
  readonly cameraId: string;
  readonly origin: OriginRecord;
  readonly router: types.Router;
  readonly transport: types.PipeTransport;
  readonly #producers = new Map<'high' | 'low' | 'audio', types.Producer>();
  #users = 0;
  #release: (pipe: EdgePipe) => void;

  constructor(cameraId: string, origin: OriginRecord, router: types.Router, transport: types.PipeTransport, release: (pipe: EdgePipe) => void) {
    this.cameraId = cameraId;
    this.origin = origin;
    this.router = router;
    this.transport = transport;
    this.#release = release;
  }

  /** The producer of a stream (`low` falls back to `high` without a sub stream), or undefined. */
  producer(track: 'high' | 'low' | 'audio'): { producer: types.Producer; track: 'high' | 'low' | 'audio' } | undefined {
    const p = this.#producers.get(track);
    if (p) return { producer: p, track };
    if (track === 'low') return this.producer('high');
    return undefined;
  }

  /** @internal */
  addProducer(track: 'high' | 'low' | 'audio', producer: types.Producer): void {
    this.#producers.set(track, producer);
  }

  get closed(): boolean {
    return this.transport.closed;
  }

  /** Takes a reference (one per viewer consumer). */
  ref(): void {
    this.#users++;
  }

  /** Gives a reference back; the last one closes the pipe. */
  unref(): void {
    if (--this.#users <= 0) this.#release(this);
  }
}

export class EdgePipes {
  readonly #settings: ClusterMediaSettings;
  readonly #rpc: () => NodeRpc;
  readonly #log: Logger;
  readonly #pipes = new Map<string, Promise<EdgePipe>>();
  readonly #open = new Map<string, EdgePipe>();

  constructor(o: { settings: ClusterMediaSettings; rpc: () => NodeRpc; logger: Logger }) {
    this.#settings = o.settings;
    this.#rpc = o.rpc;
    this.#log = o.logger;
  }

  /** Pipes open now (tests, metrics). */
  get size(): number {
    return this.#open.size;
  }

  /** Bytes received on each open pipe, by camera id (PipeTransport stats). */
  async stats(): Promise<{ cameraId: string; originNode: string; bytesReceived: number }[]> {
    return Promise.all(
      [...this.#open.values()].map(async (p) => {
        const s = await p.transport.getStats().catch(() => []);
        return { cameraId: p.cameraId, originNode: p.origin.node, bytesReceived: s[0]?.bytesReceived ?? 0 };
      }),
    );
  }

  /** The open pipe of a camera, if any (served without the registry while Redis is down). */
  current(cameraId: string): EdgePipe | undefined {
    const p = this.#open.get(cameraId);
    return p && !p.closed ? p : undefined;
  }

  /**
   * The camera's pipe from `origin`, opened on `router` when there is none,
   * with a reference taken (give it back with `unref()`).
   * @throws ProtocolError `camera_offline` when the origin is gone, moving or
   *   re-ingesting; `cluster_unavailable` when Redis is down
   */
  async acquire(cameraId: string, origin: OriginRecord, router: types.Router): Promise<EdgePipe> {
    const open = this.#open.get(cameraId);
    if (open && open.origin.node !== origin.node) this.close(cameraId, 'origin changed');
    let pending = this.#pipes.get(cameraId);
    if (!pending) {
      pending = this.#connect(cameraId, origin, router);
      this.#pipes.set(cameraId, pending);
      pending.catch(() => {
        if (this.#pipes.get(cameraId) === pending) this.#pipes.delete(cameraId);
      });
    }
    const pipe = await pending;
    if (pipe.closed) throw new ProtocolError(ErrorCode.CameraOffline, 'camera stream is restarting');
    pipe.ref();
    return pipe;
  }

  async #connect(cameraId: string, origin: OriginRecord, router: types.Router): Promise<EdgePipe> {
    const { pipe: cfg } = this.#settings;
    const transport = await router.createPipeTransport({
      listenInfo: { protocol: 'udp', ip: cfg.listenIp, announcedAddress: this.#settings.announcedAddress, portRange: { min: cfg.portMin, max: cfg.portMax } },
      enableSrtp: true,
      appData: { cameraId, originNode: origin.node },
    });
    let answer: PipeOpenAnswer | undefined;
    try {
      answer = (await this.#rpc().request(origin.node, 'pipe.open', {
        cameraId,
        ip: this.#settings.announcedAddress,
        port: transport.tuple.localPort,
        srtpParameters: transport.srtpParameters,
        edgePipeId: transport.id,
      })) as unknown as PipeOpenAnswer;
      await transport.connect({ ip: answer.ip, port: answer.port, srtpParameters: answer.srtpParameters });
      const pipe = new EdgePipe(cameraId, origin, router, transport, (p) => this.close(p.cameraId, 'last viewer left', p));
      for (const t of answer.tracks) {
        pipe.addProducer(t.track, await transport.produce({ id: t.producerId, kind: t.kind, rtpParameters: t.rtpParameters, paused: t.paused }));
      }
      const pipeId = answer.pipeId;
      transport.observer.once('close', () => {
        // Closed from below (its worker died): forget it so the next viewer opens a new one.
        if (this.#open.get(cameraId) === pipe) {
          this.#open.delete(cameraId);
          this.#pipes.delete(cameraId);
        }
        this.#rpc().notify(origin.node, 'pipe.close', { pipeId });
      });
      this.#open.set(cameraId, pipe);
      this.#log.info({ cameraId, originNode: origin.node, originEpoch: origin.epoch, tracks: answer.tracks.length }, 'pipe from origin open');
      return pipe;
    } catch (err) {
      transport.close();
      if (answer) this.#rpc().notify(origin.node, 'pipe.close', { pipeId: answer.pipeId });
      this.#log.info({ cameraId, originNode: origin.node, err: (err as Error).message }, 'pipe from origin failed');
      throw toProtocolError(err);
    }
  }

  /**
   * Closes a camera's pipe (its viewers' consumers close and consume again).
   * @param only close only if the open pipe is this one
   */
  close(cameraId: string, why: string, only?: EdgePipe): void {
    const pipe = this.#open.get(cameraId);
    if (!pipe || (only && pipe !== only)) return;
    this.#open.delete(cameraId);
    this.#pipes.delete(cameraId);
    this.#log.info({ cameraId, originNode: pipe.origin.node, why }, 'pipe from origin closed');
    pipe.transport.close();
  }

  /** `pipe.closed` from the origin: closes the pipe whose edge end is `edgePipeId`. */
  closedByOrigin(edgePipeId: string, originNode: string): void {
    for (const pipe of this.#open.values()) {
      if (pipe.transport.id === edgePipeId && pipe.origin.node === originNode) this.close(pipe.cameraId, 'origin ended it');
    }
  }

  /**
   * Closes the pipes whose origin node differs from `origins` (camera id ->
   * current origin; absent: keep). A new epoch on the same node keeps the
   * pipe: the node re-claimed a camera it still ingests (record lost with Redis).
   */
  retarget(origins: ReadonlyMap<string, OriginRecord>): void {
    for (const pipe of [...this.#open.values()]) {
      const o = origins.get(pipe.cameraId);
      if (o && o.node !== pipe.origin.node) this.close(pipe.cameraId, 'origin changed');
    }
  }

  /** Closes every pipe (shutdown). */
  closeAll(): void {
    for (const id of [...this.#open.keys()]) this.close(id, 'edge closing');
  }
}

/** Maps a failed pipe set-up to what the viewer is told. */
function toProtocolError(err: unknown): Error {
  if (err instanceof ProtocolError) return err;
  if (err instanceof NodeUnreachableError) return new ProtocolError(ErrorCode.CameraOffline, 'camera is moving to another node');
  if (err instanceof NodeRequestError) {
    return new ProtocolError(ErrorCode.CameraOffline, err.code === 'camera_offline' ? 'camera stream is restarting' : 'camera origin did not answer');
  }
  // A Redis command refused while Redis is down (no offline queue).
  if (err instanceof Error && /Stream isn't writeable|Connection is closed|enableOfflineQueue/i.test(err.message)) {
    return new ProtocolError(ErrorCode.ClusterUnavailable, 'cluster registry is unreachable');
  }
  return err as Error;
}
