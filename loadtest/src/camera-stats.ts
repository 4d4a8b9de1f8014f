/**
 * What a load-test Vigil's cameras receive, read from its admin API
 * (`GET /admin/v1/cameras` and `/admin/v1/cameras/:id`, see README "Admin
 * API"): the camera states and the main stream's producer counters (packets,
 * and packets lost from sequence gaps: mediasoup's RtpStreamRecv, RFC 3550
 * §6.4.1).
 */
import type { VigilProcess } from './vigil-server.ts';

/** Totals over every camera at one instant. */
export interface CameraTotals {
  /** Cameras in state `live`. */
  live: number;
  /** RTP packets the cameras' main-stream producers received so far. */
  packets: number;
  /** Packets those producers counted as lost so far. */
  lost: number;
}

/** Calls `fn` over `items`, at most `limit` at once. */
async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

/**
 * Every camera's state and main-stream counters (one request per camera, 128 at once).
 * @throws Error (fetch) when Vigil does not answer
 */
export async function cameraTotals(vigil: VigilProcess): Promise<CameraTotals> {
  const headers = { authorization: `Bearer ${vigil.adminKey}` };
  const all = await pool(vigil.cameras, 128, async (c) => {
    const body = (await (await fetch(`${vigil.url}/admin/v1/cameras/${c.id}`, { headers })).json()) as {
      state: string;
      streams?: { packetCount: number; packetsLost: number }[];
    };
    const s = body.streams?.[0];
    return { live: body.state === 'live', packets: s?.packetCount ?? 0, lost: s?.packetsLost ?? 0 };
  });
  return { live: all.filter((c) => c.live).length, packets: all.reduce((n, c) => n + c.packets, 0), lost: all.reduce((n, c) => n + c.lost, 0) };
}

/**
 * Cameras live now (the admin list, one request).
 * @throws Error (fetch) when Vigil does not answer
 */
export async function liveCameras(vigil: VigilProcess): Promise<number> {
  const res = await fetch(`${vigil.url}/admin/v1/cameras`, { headers: { authorization: `Bearer ${vigil.adminKey}` } });
  const body = (await res.json()) as { cameras: { state: string }[] };
  return body.cameras.filter((c) => c.state === 'live').length;
}

/**
 * The cameras not live now, with their state and the reason of their last
 * transition (e.g. `RTSP timeout: ...`, from the admin list), for the run's log.
 * @throws Error (fetch) when Vigil does not answer
 */
export async function camerasNotLive(vigil: VigilProcess): Promise<{ id: string; state: string; reason: string | null }[]> {
  const res = await fetch(`${vigil.url}/admin/v1/cameras`, { headers: { authorization: `Bearer ${vigil.adminKey}` } });
  const body = (await res.json()) as { cameras: { id: string; state: string; reason: string | null }[] };
  return body.cameras.filter((c) => c.state !== 'live').map(({ id, state, reason }) => ({ id, state, reason }));
}

/**
 * Polls until every camera is live or `timeoutMs` passed, calling `onPoll`
 * each round (every 500 ms; e.g. to pin processes that appeared).
 * @returns cameras live at the end
 */
export async function waitForLive(vigil: VigilProcess, timeoutMs: number, onPoll: () => void = () => {}): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let live = 0;
  for (;;) {
    onPoll();
    live = await liveCameras(vigil);
    if (live >= vigil.cameras.length || Date.now() >= deadline) return live;
    await new Promise((r) => setTimeout(r, 500));
  }
}
