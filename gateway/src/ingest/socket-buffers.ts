/**
 * UDP socket buffers on Linux: what the kernel allows, and what it dropped.
 *
 * Facts (socket(7), udp(7)):
 * - SO_RCVBUF / SO_SNDBUF are capped at net.core.rmem_max / wmem_max (and the
 *   kernel doubles the value for bookkeeping). Only SO_RCVBUFFORCE /
 *   SO_SNDBUFFORCE, with CAP_NET_ADMIN, go beyond the cap. mediasoup's
 *   `listenInfo.recvBufferSize` goes through libuv's uv_recv_buffer_size(),
 *   which uses SO_RCVBUF (libuv src/unix/core.c uv__fd_buffer_size), as does
 *   Node's dgram `recvBufferSize`: running as root does not lift the cap by
 *   itself; {@link forceRecvBufferSize} does, for the push gate's sockets.
 * - A datagram that does not fit the receive queue is dropped and counted in
 *   /proc/net/snmp `Udp: RcvbufErrors` (host-wide) and in the socket's `drops`
 *   column of /proc/net/udp and /proc/net/udp6 (per socket).
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:dgram';
import { readdir, readFile, readlink } from 'node:fs/promises';

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

/** Linux SO_RCVBUFFORCE (asm-generic/socket.h); Python's socket module does not name it. */
const SO_RCVBUFFORCE = 33;

/**
 * The file descriptor of this process's UDP socket bound to local `port`:
 * its inode from /proc/net/udp(6), matched against /proc/self/fd links
 * (`socket:[inode]`). Node's dgram API does not expose descriptors.
 */
async function ownUdpSocketFd(port: number): Promise<number | undefined> {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length >= 10 && Number.parseInt(cols[1]!.split(':')[1] ?? '', 16) === port) inodes.add(cols[9]!);
    }
  }
  const fds = await readdir('/proc/self/fd').catch(() => [] as string[]);
  for (const fd of fds) {
    const link = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m && inodes.has(m[1]!)) return Number(fd);
  }
  return undefined;
}

/**
 * Lifts a UDP socket's receive buffer above net.core.rmem_max with
 * SO_RCVBUFFORCE (socket(7): needs CAP_NET_ADMIN, i.e. root), which neither
 * Node's dgram nor libuv offer: a short python3 process gets the socket as
 * its fd 3 (stdio inheritance: the same socket, not a copy) and sets it.
 *
 * @param socket a bound dgram socket of this process
 * @param bytes wanted buffer, bytes
 * @returns the buffer granted afterwards (socket.getRecvBufferSize(), the kernel's doubled value)
 */
export async function forceRecvBufferSize(socket: Socket, bytes: number): Promise<number> {
  const fd = await ownUdpSocketFd(socket.address().port);
  if (fd === undefined) return socket.getRecvBufferSize();
  const script = `import socket,sys\ns=socket.socket(fileno=3)\ns.setsockopt(socket.SOL_SOCKET,${SO_RCVBUFFORCE},int(sys.argv[1]))\ns.detach()`;
  await new Promise<void>((resolve) => {
    const child = spawn('python3', ['-c', script, String(bytes)], { stdio: ['ignore', 'ignore', 'ignore', fd] });
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  });
  return socket.getRecvBufferSize();
}
