/**
 * The origin's side of pipes: another node (an edge) asks this node, which
 * ingests a camera, for it (`pipe.open`). The origin creates a PipeTransport
 * with SRTP on the camera's router (mediasoup docs: Router.createPipeTransport,
 * `enableSrtp`; SRTP per RFC 3711, AES_CM_128_HMAC_SHA1_80 by default),
 * connects it to the edge's, and consumes every stream of the camera on it
 * (main, sub, audio); the edge produces them with the same ids and RTP
 * parameters on its end.
 *
 *   edge                                         origin
 *   createPipeTransport ──pipe.open {ip, port, srtp}──▶ createPipeTransport, connect(edge)
 *                                                      consume(producer) per stream
 *   connect(origin), produce(id, rtpParameters) ◀── {ip, port, srtp, tracks}
 *
 * A pipe ends when the edge closes it (`pipe.close`, its last viewer left),
 * when the edge node is gone, or when one of the camera's producers closes
 * here (re-ingest, config update, camera removed, worker died): then the edge
 * is told (`pipe.closed`) so its viewers consume again.
 */
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { Camera } from '../cameras/camera.ts';
import type { ClusterMediaSettings } from './cluster-types.ts';
import type { NodeRpc } from './node-rpc.ts';

/** One stream of a camera carried in a pipe. */
export interface PipeTrack {
  track: 'high' | 'low' | 'audio';
  producerId: string;
  kind: 'audio' | 'video';
  rtpParameters: types.RtpParameters;
  paused: boolean;
}

/** The origin's answer to `pipe.open`. */
export interface PipeOpenAnswer {
  pipeId: string;
  ip: string;
  port: number;
  srtpParameters: types.SrtpParameters;
  tracks: PipeTrack[];
}

/** An Error whose `code` is sent back to the asking node. */
export function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

interface ServedPipe {
  transport: types.PipeTransport;
  edgeNode: string;
  edgePipeId: string;
  cameraId: string;
  /** Closed on the edge's request: do not tell it back. */
  quiet: boolean;
}

export class OriginPipes {
  readonly #settings: ClusterMediaSettings;
  readonly #rpc: () => NodeRpc;
  readonly #log: Logger;
  readonly #pipes = new Map<string, ServedPipe>();

  /**
   * @param rpc the node's request channel (to tell edges their pipe closed)
   */
  constructor(o: { settings: ClusterMediaSettings; rpc: () => NodeRpc; logger: Logger }) {
    this.#settings = o.settings;
    this.#rpc = o.rpc;
    this.#log = o.logger;
  }

  /** Pipes served now (metrics, tests). */
  get size(): number {
    return this.#pipes.size;
  }

  /** Bytes sent on each served pipe (PipeTransport stats). */
  async stats(): Promise<{ cameraId: string; edgeNode: string; bytesSent: number }[]> {
    return Promise.all(
      [...this.#pipes.values()].map(async (p) => {
        const s = await p.transport.getStats().catch(() => []);
        return { cameraId: p.cameraId, edgeNode: p.edgeNode, bytesSent: s[0]?.bytesSent ?? 0 };
      }),
    );
  }

  /**
   * Serves `pipe.open` for `camera`, ingested here.
   * @param edge the edge's pipe end: its address, port, SRTP parameters and pipe id
   * @throws Error with `code` `camera_offline` when a stream is being re-ingested
   */
  async open(camera: Camera, edgeNode: string, edge: { ip: string; port: number; srtpParameters: types.SrtpParameters; edgePipeId: string }): Promise<PipeOpenAnswer> {
    const { pipe } = this.#settings;
    const transport = await camera.router.createPipeTransport({
      listenInfo: {
        protocol: 'udp',
        ip: pipe.listenIp,
        announcedAddress: this.#settings.announcedAddress,
        portRange: { min: pipe.portMin, max: pipe.portMax },
      },
      enableSrtp: true,
      appData: { cameraId: camera.id, edgeNode },
    });
    const served: ServedPipe = { transport, edgeNode, edgePipeId: edge.edgePipeId, cameraId: camera.id, quiet: false };
    try {
      await transport.connect({ ip: edge.ip, port: edge.port, srtpParameters: edge.srtpParameters });
      const tracks: PipeTrack[] = [];
      const consume = async (track: PipeTrack['track'], producer: types.Producer): Promise<void> => {
        if (producer.closed) throw codedError('camera_offline', 'camera stream is restarting');
        const consumer = await transport.consume({ producerId: producer.id });
        consumer.on('producerclose', () => this.#end(served, 'producer closed'));
        tracks.push({ track, producerId: producer.id, kind: consumer.kind, rtpParameters: consumer.rtpParameters, paused: consumer.producerPaused });
      };
      for (const stream of camera.streams()) {
        await consume(stream.quality, stream.producer);
        if (stream.audioProducer) await consume('audio', stream.audioProducer);
      }
      this.#pipes.set(transport.id, served);
      transport.observer.once('close', () => {
        this.#pipes.delete(transport.id);
        if (!served.quiet) this.#rpc().notify(edgeNode, 'pipe.closed', { edgePipeId: edge.edgePipeId });
      });
      this.#log.info({ cameraId: camera.id, edgeNode, pipeId: transport.id, tracks: tracks.length }, 'pipe to edge open');
      return { pipeId: transport.id, ip: this.#settings.announcedAddress, port: transport.tuple.localPort, srtpParameters: transport.srtpParameters!, tracks };
    } catch (err) {
      served.quiet = true;
      transport.close();
      throw err;
    }
  }

  #end(served: ServedPipe, why: string): void {
    if (served.transport.closed) return;
    this.#log.info({ cameraId: served.cameraId, edgeNode: served.edgeNode, why }, 'pipe to edge closed');
    served.transport.close();
  }

  /** `pipe.close` from the edge (its last viewer left): closes without telling it back. */
  closeByEdge(pipeId: string, edgeNode: string): void {
    const served = this.#pipes.get(pipeId);
    if (!served || served.edgeNode !== edgeNode) return;
    served.quiet = true;
    this.#end(served, 'edge closed it');
  }

  /**
   * Closes the pipes of edges found dead (listed, but their key expired or
   * their subscriber is gone). An edge merely missing from the registry (Redis
   * lost its data and the edge has not written its key again) keeps its pipes.
   * The edge is told anyway, in case it was not dead after all.
   */
  closeEdgesIn(dead: readonly string[]): void {
    for (const served of [...this.#pipes.values()]) {
      if (dead.includes(served.edgeNode)) this.#end(served, 'edge node gone');
    }
  }

  /** Closes every served pipe, telling the edges (shutdown). */
  close(): void {
    for (const served of [...this.#pipes.values()]) this.#end(served, 'origin closing');
  }
}
