/**
 * Camera assignment: which node ingests a camera (its origin), with an epoch.
 *
 * `vigil:origin:<camera>` holds `{node, epoch}`. A camera without a live
 * origin is claimed with a Lua script (atomic in Redis, Redis docs: EVAL) that
 * compares the key with the exact value the claimer read and only then takes
 * a new epoch (`INCR vigil:epoch:<camera>`) and writes itself, publishing the
 * claim on `vigil:assign`. Of two nodes racing for a camera one wins; a node
 * that lost its camera while cut off finds another node's record and stops
 * ingesting (the epoch is the fencing token).
 *
 * Which node claims is decided by {@link planOrphans}: every node computes it
 * from the same snapshot and claims only its own share.
 */
import type { Redis } from 'ioredis';
import { KEY, type NodeRecord, type OriginRecord } from './cluster-types.ts';

/** An origin record as read, with its raw text (the claim compares it). */
export interface ReadOrigin extends OriginRecord {
  raw: string;
}

const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if (cur or '') ~= ARGV[2] then return false end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], '{"node":' .. cjson.encode(ARGV[1]) .. ',"epoch":' .. epoch .. '}')
redis.call('PUBLISH', ARGV[3], '{"cameraId":' .. cjson.encode(ARGV[4]) .. ',"node":' .. cjson.encode(ARGV[1]) .. ',"epoch":' .. epoch .. '}')
return epoch
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Reads the origin of each camera (one MGET).
 * @returns by camera id; cameras without a record (or an unreadable one) are absent
 * @throws the Redis error while Redis is down
 */
export async function readOrigins(redis: Redis, cameraIds: string[]): Promise<Map<string, ReadOrigin>> {
  const out = new Map<string, ReadOrigin>();
  if (cameraIds.length === 0) return out;
  const raws = await redis.mget(cameraIds.map(KEY.origin));
  cameraIds.forEach((id, i) => {
    const raw = raws[i];
    if (!raw) return;
    try {
      const rec = JSON.parse(raw) as OriginRecord;
      if (typeof rec.node === 'string' && typeof rec.epoch === 'number') out.set(id, { ...rec, raw });
    } catch {
      // unreadable: treated as no origin; the claim compares the raw text and replaces it
    }
  });
  return out;
}

/**
 * Claims a camera for `nodeId` if its origin record is still `expectedRaw`
 * ('' = no record).
 * @returns the new origin (with its epoch), or undefined when another node changed it first
 * @throws the Redis error while Redis is down
 */
export async function claimOrigin(redis: Redis, cameraId: string, nodeId: string, expectedRaw: string): Promise<ReadOrigin | undefined> {
  const epoch = (await redis.eval(CLAIM, 2, KEY.origin(cameraId), KEY.epoch(cameraId), nodeId, expectedRaw, KEY.assignChannel, cameraId)) as number | null;
  if (epoch === null || epoch === undefined) return undefined;
  return { node: nodeId, epoch, raw: JSON.stringify({ node: nodeId, epoch }) };
}

/** Deletes a camera's origin record if it is still `raw` (a removed camera). Best effort. */
export async function releaseOrigin(redis: Redis, cameraId: string, raw: string): Promise<void> {
  await redis.eval(RELEASE, 1, KEY.origin(cameraId), raw).catch(() => undefined);
}

/**
 * Plans who ingests orphaned cameras: in id order, each goes to the live node
 * with the fewest ingest streams counting the cameras planned so far (each
 * planned camera counts `streamsOf(id)`), ties broken by the node's total
 * worker CPU, then its id. Pure: every node computes the same plan from the
 * same snapshot.
 * @returns camera id -> node id (empty when no node is alive)
 */
export function planOrphans(orphans: string[], nodes: NodeRecord[], streamsOf: (cameraId: string) => number): Map<string, string> {
  const plan = new Map<string, string>();
  if (nodes.length === 0) return plan;
  const load = nodes.map((n) => ({
    id: n.id,
    streams: n.load.ingestStreams,
    cpu: n.load.workerCpu.reduce((a, b) => a + b, 0),
  }));
  for (const cameraId of [...orphans].sort()) {
    load.sort((a, b) => a.streams - b.streams || a.cpu - b.cpu || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const best = load[0]!;
    plan.set(cameraId, best.id);
    best.streams += streamsOf(cameraId);
  }
  return plan;
}
