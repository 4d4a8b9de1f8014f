/**
 * UDP socket buffers on Linux: what the kernel allows, and what it dropped.
 *
 * Facts (socket(7), udp(7)):
 * - SO_RCVBUF / SO_SNDBUF are capped at net.core.rmem_max / wmem_max (and the
 *   kernel doubles the value for bookkeeping). Only SO_RCVBUFFORCE /
 *   SO_SNDBUFFORCE, with CAP_NET_ADMIN, go beyond the cap. mediasoup's
 *   `listenInfo.recvBufferSize` goes through libuv's uv_recv_buffer_size(),
 *   which uses SO_RCVBUF (libuv src/unix/core.c uv__fd_buffer_size), as does
 *   Node's dgram `recvBufferSize`, and neither Node nor libuv offers the
 *   FORCE variants: Vigil's sockets (push gate and worker alike) get at most
 *   the cap, so production hosts raise it (README, sysctl) and Vigil warns at
 *   start when it is lower than asked ({@link socketBufferWarnings}).
 * - A datagram that does not fit the receive queue is dropped and counted in
 *   /proc/net/snmp `Udp: RcvbufErrors` (host-wide) and in the socket's `drops`
 *   column of /proc/net/udp and /proc/net/udp6 (per socket).
 */
import { readFile } from 'node:fs/promises';

/** Reads a /proc/sys integer, or undefined (not Linux, no access). */
async function procInt(path: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The kernel's caps on SO_RCVBUF / SO_SNDBUF, bytes (undefined where unreadable). */
export async function socketBufferLimits(): Promise<{ rmemMax: number | undefined; wmemMax: number | undefined }> {
  const [rmemMax, wmemMax] = await Promise.all([procInt('/proc/sys/net/core/rmem_max'), procInt('/proc/sys/net/core/wmem_max')]);
  return { rmemMax, wmemMax };
}

/**
 * Start-up check: one warning text per wanted buffer the kernel caps below
 * what is asked, with the sysctl that fixes it.
 * @param wanted bytes asked for receive (ingest) and send (WebRTC) sockets
 */
export async function socketBufferWarnings(wanted: { recv: number; send: number }): Promise<string[]> {
  const { rmemMax, wmemMax } = await socketBufferLimits();
  const out: string[] = [];
  if (rmemMax !== undefined && rmemMax < wanted.recv) {
    out.push(
      `net.core.rmem_max is ${rmemMax} bytes, below ingest.recvBufferSize ${wanted.recv}: keyframe bursts of detailed cameras may overflow ` +
        `(RcvbufErrors); set sysctl -w net.core.rmem_max=${wanted.recv}`,
    );
  }
  if (wmemMax !== undefined && wmemMax < wanted.send) {
    out.push(`net.core.wmem_max is ${wmemMax} bytes, below webrtc.sendBufferSize ${wanted.send}; set sysctl -w net.core.wmem_max=${wanted.send}`);
  }
  return out;
}

/**
 * Datagrams the kernel dropped on the local UDP sockets bound to `ports`
 * (any address), summed: the `drops` column of /proc/net/udp and /proc/net/udp6.
 * @returns drops per port (ports without a socket are absent); empty where /proc is unreadable
 */
export async function udpSocketDrops(ports: readonly number[]): Promise<Map<number, number>> {
  const wanted = new Set(ports);
  const out = new Map<number, number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops
      if (cols.length < 13) continue;
      const port = Number.parseInt(cols[1]!.split(':')[1] ?? '', 16);
      if (!wanted.has(port)) continue;
      out.set(port, (out.get(port) ?? 0) + Number(cols[12]));
    }
  }
  return out;
}
