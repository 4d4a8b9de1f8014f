/**
 * Protocol fuzzing against a real Vigil (fastify + ws + a real mediasoup
 * worker): at least 10,000 random and mutated signaling frames over several
 * connections, from a seeded PRNG (the seed is printed; replay one with
 * VIGIL_FUZZ_SEED=<seed>). Frames start from valid requests carrying live
 * transport/consumer ids and tokens, then get structural mutations (fields
 * dropped, retyped, added; types swapped), text mutations (bytes flipped,
 * inserted, deleted; truncation) or are plain garbage; a few are binary,
 * invalid UTF-8 or oversized.
 *
 * Asserts: every frame gets exactly one well-formed answer carrying the
 * frame's own request id (null when the frame had no usable id), so a
 * missing, doubled or misrouted answer shows as a mismatch (or the
 * connection is closed for a documented reason), no `internal` error, no
 * error text with a stack trace or a token, no unhandledRejection or
 * uncaughtException in the process, no leaked sessions or stream slots,
 * and a legitimate viewer is served at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ErrorCode, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, type Response } from '@vigil/protocol';
import { REQUEST_TYPES } from '@vigil/protocol/schema';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { WsClient } from '../helpers/ws-client.ts';

const TOTAL_FRAMES = 10_000;
const CONNECTIONS = 4;
const DEADLINE_MS = 120_000;
const ANSWER_TIMEOUT_MS = 5000;
const SEED = Number(process.env['VIGIL_FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 32));

/** mulberry32: a small, well-distributed 32-bit PRNG (public domain). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * The PRNG of the connection being driven: each connection has its own
 * (seeded from SEED and its index), so a replay generates the same frames
 * whatever the interleaving. Generators below run synchronously between
 * awaits, so swapping this before each frame is enough.
 */
let rand: () => number = mulberry32(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const chance = (p: number): boolean => rand() < p;
/** A UUID-shaped id from the PRNG. */
const uuid = (): string => {
  const h = Array.from({ length: 32 }, () => int(16).toString(16)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
};

let vigil: TestVigil;
let caps: Record<string, unknown>;
const problems = { unhandled: [] as string[], uncaught: [] as string[] };
const onUnhandled = (reason: unknown) => problems.unhandled.push(String((reason as Error)?.stack ?? reason));
const onUncaught = (err: Error) => problems.uncaught.push(String(err?.stack ?? err));

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUncaught);
  vigil = await startTestVigil({
    cameras: [
      testCamera('fuzz/live', 'VP8', { site: 'fz' }),
      { id: 'fuzz/push', codec: 'H264', source: { kind: 'rtp-push', port: 0, ssrc: 4242, payloadType: 96 } },
      { id: 'other/push', codec: 'H264', site: 'elsewhere', source: { kind: 'rtp-push', port: 0, ssrc: 4243, payloadType: 96 } },
    ],
    limits: { maxTransportsPerConnection: 2, maxConsumersPerConnection: 4 },
    rateLimits: {
      joinPerIp: { burst: 100_000, perSec: 100_000 },
      joinPerSubject: { burst: 100_000, perSec: 100_000 },
      consumePerIp: { burst: 100_000, perSec: 100_000 },
      consumePerSubject: { burst: 100_000, perSec: 100_000 },
    },
  });
  caps = vigil.gateway.rtpCapabilities as unknown as Record<string, unknown>;
  await waitFor(() => vigil.media.camera('fuzz/live')?.state === 'live', 15_000);
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUncaught);
  await vigil?.close();
});

// ------------------------------------------------------------ generators

const TOKENS = () => [
  vigil.token(['fuzz/*'], { subject: 'fuzzer' }),
  vigil.token(['**'], { subject: 'fuzzer', ttlSec: 60 }),
  vigil.token(['site:fz'], { subject: 'fuzzer-2' }),
  vigil.token(['fuzz/live'], { subject: 'fuzzer', ttlSec: -120 }),
  'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
  'a.b.c',
];

function randomString(): string {
  switch (int(8)) {
    case 0:
      return '';
    case 1:
      return 'x'.repeat(int(300));
    case 2:
      return String.fromCharCode(...Array.from({ length: int(20) }, () => int(0xffff)));
    case 3:
      return pick(['__proto__', 'constructor', 'prototype', 'toString', '../../etc/passwd', '%00', '\u0000', '${jndi:ldap://x}', '<script>']);
    case 4:
      return pick(REQUEST_TYPES);
    case 5:
      return uuid();
    case 6:
      return pick(['fuzz/live', 'fuzz/push', 'other/push', 'fuzz/*', '**', 'site:fz']);
    default:
      return Array.from({ length: int(12) }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'[int(36)]).join('');
  }
}

function randomValue(depth = 0): unknown {
  switch (int(depth > 3 ? 6 : 9)) {
    case 0:
      return pick([0, -1, 1, 2 ** 31, 2 ** 31 - 1, 2 ** 53, -(2 ** 53), 1.5, 1e308, -0]);
    case 1:
      return randomString();
    case 2:
      return pick([true, false, null]);
    case 3:
      return int(1000);
    case 4:
      return pick([[], {}, [null], { '': '' }]);
    case 5:
      return uuid();
    case 6:
      return Array.from({ length: int(5) }, () => randomValue(depth + 1));
    case 7:
      return Object.fromEntries(Array.from({ length: int(5) }, () => [randomString(), randomValue(depth + 1)]));
    default:
      return { codecs: [{ kind: 'video', mimeType: pick(['video/VP8', 'video/H264', 'x']), clockRate: randomValue(depth + 1) }] };
  }
}

interface Conn {
  client: WsClient;
  rand: () => number;
  /** Frames received (responses only), waiting to be taken. */
  inbox: Response[];
  wake: (() => void) | undefined;
  closedCode: number | undefined;
  joined: boolean;
  transports: string[];
  consumers: string[];
}

/** A valid request of a random type, with this connection's live ids. */
function template(conn: Conn): Record<string, unknown> {
  const id = int(2 ** 31);
  const transportId = conn.transports.length && chance(0.9) ? pick(conn.transports) : uuid();
  const consumerId = conn.consumers.length && chance(0.9) ? pick(conn.consumers) : uuid();
  // Mostly join first when not joined, and leave rarely, so most frames reach the joined handlers.
  const type = !conn.joined && chance(0.5) ? 'join' : chance(0.03) ? 'leave' : pick(REQUEST_TYPES.filter((t) => t !== 'leave'));
  switch (type) {
    case 'join':
      return { id, type: 'join', protocolVersion: chance(0.9) ? PROTOCOL_VERSION : int(5), token: pick(TOKENS()) };
    case 'getRouterRtpCapabilities':
      return { id, type: 'getRouterRtpCapabilities' };
    case 'createRecvTransport':
      return { id, type: 'createRecvTransport' };
    case 'connectTransport':
      return {
        id,
        type: 'connectTransport',
        transportId,
        dtlsParameters: {
          role: pick(['client', 'server', 'auto', 'x']),
          fingerprints: [{ algorithm: pick(['sha-256', 'sha-1', 'md5', '']), value: pick(['AB:CD', '', 'zz'.repeat(40)]) }],
        },
      };
    case 'consume':
      return {
        id,
        type: 'consume',
        transportId,
        cameraId: pick(['fuzz/live', 'fuzz/push', 'other/push', 'ghost/1']),
        rtpCapabilities: chance(0.7) ? caps : randomValue(),
        ...(chance(0.5) ? { quality: pick(['high', 'low', 'medium']) } : {}),
      };
    case 'setQuality':
      return { id, type: 'setQuality', consumerId, quality: pick(['high', 'low', 'x']), rtpCapabilities: chance(0.7) ? caps : randomValue() };
    case 'pauseConsumer':
      return { id, type: 'pauseConsumer', consumerId };
    case 'restartIce':
      return { id, type: 'restartIce', transportId };
    case 'reportTtff':
      return { id, type: 'reportTtff', consumerId, ttffMs: pick([0, 120, -1, 1e9, 1.5]) };
    case 'resumeConsumer':
      return { id, type: 'resumeConsumer', consumerId };
    case 'closeConsumer':
      return { id, type: 'closeConsumer', consumerId };
    case 'refresh':
      return { id, type: 'refresh', token: pick(TOKENS()) };
    case 'leave':
      return { id, type: 'leave' };
  }
}

/** Structural mutations of a request object. */
function mutateObject(msg: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(msg);
  for (let i = 0, n = 1 + int(3); i < n; i++) {
    const keys = Object.keys(out);
    switch (int(6)) {
      case 0:
        if (keys.length) delete out[pick(keys)];
        break;
      case 1:
        if (keys.length) out[pick(keys)] = randomValue();
        break;
      case 2:
        out[randomString()] = randomValue();
        break;
      case 3:
        out['type'] = chance(0.5) ? pick(REQUEST_TYPES) : randomString();
        break;
      case 4:
        out['id'] = randomValue();
        break;
      default: {
        const nested = Object.values(out).find((v) => typeof v === 'object' && v !== null) as Record<string, unknown> | undefined;
        if (nested && !Array.isArray(nested)) nested[randomString()] = randomValue();
      }
    }
  }
  return out;
}

/** Text mutations of a serialized frame. */
function mutateText(text: string): string {
  let s = text;
  for (let i = 0, n = 1 + int(4); i < n; i++) {
    const at = int(s.length + 1);
    switch (int(4)) {
      case 0:
        s = s.slice(0, at) + s.slice(at + 1 + int(4));
        break;
      case 1:
        s = s.slice(0, at) + pick(['{', '}', '[', ']', '"', ',', ':', '\\', '\u0000', 'null', '1e999', '-']) + s.slice(at);
        break;
      case 2:
        s = s.slice(0, at) + String.fromCharCode((s.charCodeAt(at) || 0) ^ (1 << int(7))) + s.slice(at + 1);
        break;
      default:
        s = s.slice(0, at);
    }
  }
  return s;
}

type Frame = { data: string | Buffer; binary: boolean; kind: string };

function nextFrame(conn: Conn): Frame {
  const r = rand();
  const base = template(conn);
  if (r < 0.3) return { data: JSON.stringify(base), binary: false, kind: 'valid' };
  if (r < 0.65) return { data: JSON.stringify(mutateObject(base)), binary: false, kind: 'mutated-object' };
  if (r < 0.9) return { data: mutateText(JSON.stringify(base)), binary: false, kind: 'mutated-text' };
  if (r < 0.97) return { data: JSON.stringify(randomValue()), binary: false, kind: 'random-json' };
  if (r < 0.985) return { data: Buffer.from(Array.from({ length: int(64) }, () => int(256))), binary: true, kind: 'binary' };
  if (r < 0.995) return { data: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), binary: false, kind: 'invalid-utf8' };
  return { data: JSON.stringify({ ...base, pad: 'p'.repeat(MAX_MESSAGE_BYTES) }), binary: false, kind: 'oversized' };
}

// ------------------------------------------------------------ driver

const stats = { sent: 0, answered: 0, matched: 0, closes: new Map<number, number>(), codes: new Map<string, number>(), kinds: new Map<string, number>() };
const bad: string[] = [];
const bump = <K>(m: Map<K, number>, k: K): void => void m.set(k, (m.get(k) ?? 0) + 1);
const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

async function open(connRand: () => number): Promise<Conn> {
  const client = await WsClient.open(vigil.url);
  const conn: Conn = { client, rand: connRand, inbox: [], wake: undefined, closedCode: undefined, joined: false, transports: [], consumers: [] };
  client.ws.on('message', (data) => {
    const text = data.toString();
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      bad.push(`server sent non-JSON: ${text.slice(0, 80)}`);
      return;
    }
    if ('notification' in msg) {
      if (msg['notification'] === 'consumerClosed') conn.consumers = conn.consumers.filter((c) => c !== msg['consumerId']);
      return;
    }
    conn.inbox.push(msg as unknown as Response);
    conn.wake?.();
  });
  client.ws.on('close', (code) => {
    conn.closedCode = code;
    conn.wake?.();
  });
  return conn;
}

/** The next answer, or the close code, or 'timeout'. */
function answer(conn: Conn): Promise<Response | number | 'timeout'> {
  const ready = (): Response | number | undefined => conn.inbox.shift() ?? conn.closedCode;
  const now = ready();
  if (now !== undefined) return Promise.resolve(now);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      conn.wake = undefined;
      resolve('timeout');
    }, ANSWER_TIMEOUT_MS);
    conn.wake = () => {
      const r = ready();
      if (r === undefined) return;
      clearTimeout(timer);
      conn.wake = undefined;
      resolve(r);
    };
  });
}

/**
 * The id an answer to `frame` must carry, worked out here from the frame
 * alone: a text frame that parses to an object whose `id` is an integer in
 * the protocol's RequestId range (0 .. 2^31-1) gets that id back; anything
 * else gets null.
 */
function expectedId(frame: Frame): number | null {
  if (frame.binary) return null;
  let msg: unknown;
  try {
    msg = JSON.parse(frame.data.toString());
  } catch {
    return null;
  }
  const id = typeof msg === 'object' && msg !== null ? (msg as { id?: unknown }).id : undefined;
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 2 ** 31 - 1 ? id : null;
}

function check(frame: Frame, res: Response): void {
  stats.answered++;
  if (typeof res !== 'object' || res === null || typeof res.ok !== 'boolean' || !('id' in res)) {
    bad.push(`malformed answer to ${frame.kind}: ${JSON.stringify(res).slice(0, 120)}`);
    return;
  }
  const want = expectedId(frame);
  if (res.id !== want) {
    bad.push(`answer to a ${frame.kind} frame carries id ${JSON.stringify(res.id)}, expected ${want}: ${String(frame.data).slice(0, 120)}`);
    return;
  }
  if (want !== null) stats.matched++;
  if (res.ok) return;
  const { code, message } = res.error ?? ({} as { code?: string; message?: string });
  bump(stats.codes, code ?? '?');
  if (!code || !KNOWN_CODES.has(code)) bad.push(`unknown error code ${code}`);
  if (code === 'internal') bad.push(`internal error for ${frame.kind} frame: ${String(frame.data).slice(0, 200)}`);
  if (typeof message !== 'string' || message.length > 200 || /\n\s+at |eyJ[A-Za-z0-9_-]{8,}|\.ts:\d+/.test(message)) {
    bad.push(`error message leaks or is malformed: ${String(message).slice(0, 200)}`);
  }
}

/** Learns live ids from successful answers, so later frames reach deeper handlers. */
function learn(conn: Conn, sent: Record<string, unknown> | undefined, res: Response): void {
  if (!res.ok || !sent) return;
  const data = res.data as Record<string, unknown>;
  if (sent['type'] === 'join') conn.joined = true;
  if (sent['type'] === 'createRecvTransport' && typeof data['id'] === 'string') conn.transports.push(data['id']);
  if (sent['type'] === 'consume' && typeof data['consumerId'] === 'string') conn.consumers.push(data['consumerId']);
  if (sent['type'] === 'closeConsumer') conn.consumers = conn.consumers.filter((c) => c !== sent['consumerId']);
}

/** Documented reasons for the server to close: 1000 leave/expiry, 1007 bad UTF-8, 1009 too big, 1008 policy. */
const EXPECTED_CLOSES = new Set([1000, 1007, 1008, 1009]);

async function drive(index: number, deadline: number): Promise<void> {
  const connRand = mulberry32(SEED + index * 0x9e3779b9);
  let conn = await open(connRand);
  while (stats.sent < TOTAL_FRAMES && Date.now() < deadline) {
    if (conn.closedCode !== undefined) {
      bump(stats.closes, conn.closedCode);
      if (!EXPECTED_CLOSES.has(conn.closedCode)) bad.push(`unexpected close code ${conn.closedCode}`);
      conn = await open(connRand);
    }
    rand = conn.rand;
    const frame = nextFrame(conn);
    bump(stats.kinds, frame.kind);
    let sent: Record<string, unknown> | undefined;
    if (typeof frame.data === 'string') {
      try {
        sent = JSON.parse(frame.data) as Record<string, unknown>;
      } catch {
        sent = undefined;
      }
    }
    stats.sent++;
    conn.client.ws.send(frame.data, { binary: frame.binary });
    const res = await answer(conn);
    if (res === 'timeout') {
      bad.push(`no answer within ${ANSWER_TIMEOUT_MS} ms to ${frame.kind}: ${String(frame.data).slice(0, 200)}`);
      conn.client.ws.terminate();
      conn = await open(connRand);
      continue;
    }
    if (typeof res === 'number') continue; // closed; reopened at the top of the loop
    check(frame, res);
    learn(conn, sent, res);
    // After a successful leave the server closes; don't race it with another frame.
    if (res.ok && sent?.['type'] === 'leave') await answer(conn);
  }
  conn.client.close();
}

describe('protocol fuzzing', () => {
  it(`survives ${TOTAL_FRAMES} random and mutated frames (seed printed)`, async () => {
    console.log(`[fuzz] seed ${SEED} (replay: VIGIL_FUZZ_SEED=${SEED})`);
    const t0 = Date.now();
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => drive(i, t0 + DEADLINE_MS)));
    const elapsed = Date.now() - t0;
    console.log(
      `[fuzz] ${stats.sent} frames in ${elapsed} ms, ${stats.answered} answered (${stats.matched} matched by a non-null id); kinds ${JSON.stringify(Object.fromEntries(stats.kinds))}; ` +
        `codes ${JSON.stringify(Object.fromEntries(stats.codes))}; closes ${JSON.stringify(Object.fromEntries(stats.closes))}`,
    );
    expect(bad.slice(0, 10), `seed ${SEED}`).toEqual([]);
    expect(stats.sent).toBeGreaterThanOrEqual(TOTAL_FRAMES);
    expect(stats.answered).toBeGreaterThan(TOTAL_FRAMES * 0.9);
    // Most frames carry a usable id (valid and mutated requests), and their answers were matched by it.
    expect(stats.matched).toBeGreaterThan(TOTAL_FRAMES * 0.5);
    expect(problems.unhandled, `seed ${SEED}`).toEqual([]);
    expect(problems.uncaught, `seed ${SEED}`).toEqual([]);

    // Nothing leaked: every session ends and gives back its stream slots.
    await waitFor(() => vigil.signaling.sessions.size === 0, 10_000);
    expect(vigil.access.streams.count('fuzzer')).toBe(0);
    expect(vigil.access.streams.count('fuzzer-2')).toBe(0);

    // And a legitimate viewer is served.
    const c = await WsClient.open(vigil.url);
    expect((await c.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token: vigil.token(['fuzz/live']) })).ok).toBe(true);
    const t = await c.request({ type: 'createRecvTransport' });
    if (!t.ok) throw new Error('createRecvTransport refused');
    const r = await c.request({ type: 'consume', transportId: (t.data as { id: string }).id, cameraId: 'fuzz/live', rtpCapabilities: caps });
    expect(r.ok).toBe(true);
    c.close();
    const health = await fetch(`${vigil.url}/healthz`);
    expect(health.status).toBe(200);
  }, DEADLINE_MS + 30_000);
});
