/**
 * What the cluster media implementation is given, and the names it uses in
 * Redis. Every key and channel is under `vigil:` (see README "Cluster"):
 *
 * | key / channel            | holds                                                        |
 * |--------------------------|--------------------------------------------------------------|
 * | `vigil:nodes`            | set of node ids that ever heartbeat (dead ones pruned)       |
 * | `vigil:node:<id>`        | JSON {@link NodeRecord}, `PX nodeTimeoutMs`, rewritten every heartbeat |
 * | `vigil:origin:<camera>`  | JSON {@link OriginRecord}: the node ingesting the camera and its epoch |
 * | `vigil:epoch:<camera>`   | counter, `INCR`ed by every claim (fencing token)             |
 * | `vigil:assign` (channel) | a claim happened: `{cameraId, node, epoch}`                 |
 * | `vigil:rpc:<id>` (channel) | requests to node `<id>`; its subscriber count is its liveness |
 * | `vigil:reply:<id>` (channel) | answers to node `<id>`'s requests                        |
 */
import type { Redis } from 'ioredis';
import type { ClusterPipeConfig } from '../config/schema.ts';
import type { CameraState } from '../media/media-types.ts';

/**
 * The two Redis connections of the cluster (the server's `ClusterRedis`
 * satisfies this): `command` for commands and Lua, `subscriber` for
 * SUBSCRIBE only. Both run without an offline queue, so a command while Redis
 * is down rejects at once.
 */
export interface ClusterRedisClients {
  readonly command: Redis;
  readonly subscriber: Redis;
  /** true while both connections are ready */
  readonly up: boolean;
  on(event: 'up', listener: () => void): unknown;
  on(event: 'down', listener: (error: Error) => void): unknown;
  off(event: 'up', listener: () => void): unknown;
  off(event: 'down', listener: (error: Error) => void): unknown;
}

/** Cluster settings the media implementation needs (the server's `cluster` config). */
export interface ClusterMediaSettings {
  /** This node's id, [A-Za-z0-9._-]{1,64}. */
  nodeId: string;
  /** IP other nodes reach this node's pipe transports on. */
  announcedAddress: string;
  /** Heartbeat period, ms. */
  heartbeatMs: number;
  /** A node whose heartbeat is this old is dead (network cut), ms. */
  nodeTimeoutMs: number;
  pipe: ClusterPipeConfig;
}

/** A node's load as it reports it in its heartbeat. */
export interface NodeLoad {
  /** CPU of each live worker over the last heartbeat, fraction of one core (0..1+), by worker index. */
  workerCpu: number[];
  /** Viewer and pipe consumers on the node. */
  consumers: number;
  /** Camera streams ingested here (main, sub). */
  ingestStreams: number;
  /** Bitrate sent to viewers, bps (sum of the viewer transports' send bitrate). */
  egressBps: number;
}

/** `vigil:node:<id>`: a node's heartbeat. */
export interface NodeRecord {
  id: string;
  /** Where its pipe transports are reached. */
  address: string;
  /** ms since epoch, the writer's clock (shown only: liveness is the key's TTL and the subscriber count). */
  at: number;
  /** Its request channel is subscribed (so a subscriber count of 0 means it is gone). */
  rpcSubscribed: boolean;
  load: NodeLoad;
  /** State of each camera it ingests, by camera id. */
  cameras: Record<string, CameraState>;
}

/** `vigil:origin:<camera>`: who ingests a camera. */
export interface OriginRecord {
  node: string;
  /** The claim's fencing token: increases with every claim of this camera. */
  epoch: number;
}

export const KEY = {
  nodes: 'vigil:nodes',
  node: (id: string) => `vigil:node:${id}`,
  origin: (cameraId: string) => `vigil:origin:${cameraId}`,
  epoch: (cameraId: string) => `vigil:epoch:${cameraId}`,
  assignChannel: 'vigil:assign',
  rpc: (id: string) => `vigil:rpc:${id}`,
  reply: (id: string) => `vigil:reply:${id}`,
} as const;
