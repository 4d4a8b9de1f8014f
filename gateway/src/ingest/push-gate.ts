/**
 * The front door of an RTP-push camera stream: Vigil, not mediasoup, owns
 * the UDP ports the camera sends to, decides which packets are the camera's,
 * and forwards those from fixed local ports to the stream's PlainTransport,
 * which is connected to exactly those ports (no comedia), like a relay.
 *
 *   camera ──RTP/RTCP──▶ gate (listenIp:port, port + 1) ──▶ PlainTransport (connected to the gate)
 *   stranger ──────────▶ gate: counted, dropped; never reaches mediasoup
 *
 * Why not mediasoup's comedia alone: a comedia PlainTransport latches the
 * first sender's IP:port and silently drops every other tuple (mediasoup
 * worker PlainTransport.cpp, "ignoring RTP packet from unknown IP:port"),
 * so a camera that restarts from a new source port is dropped until the
 * latch is reset, anyone who sends first takes the camera over, and nothing
 * tells Vigil about either.
 *
 * The camera's identity is its configured SSRC and, when set, its address
 * (`sourceIp`); the source port is not (a rebooted camera picks a new one).
 * A packet from the camera's address with its SSRC from a new port, after
 * the current port has been silent for {@link SWITCH_AFTER_SILENCE_MS}, is
 * the camera restarting: the gate switches to it and rewrites sequence
 * numbers and timestamps so the producer sees one continuous RTP stream
 * (RFC 3550 §5.1: seq +1 per packet; timestamps advanced by the wall-clock
 * gap at the 90 kHz video clock, RFC 6184 §5.1 / RFC 7741 §4.1). Without the
 * rewrite mediasoup's RTP receive stream treats the jump as a bad sequence
 * (RFC 3550 A.1 probation) and drops the first packet of the new stream,
 * usually part of its first keyframe. The same rebase happens on a large
 * sequence jump from the same port (the camera's encoder restarted).
 *
 * RTCP (port + 1): sender reports from the camera's address are forwarded
 * with the same timestamp rewrite; mediasoup's receiver reports and PLI/FIR
 * go back to the camera's last RTCP address (RTP port + 1 until it sent RTCP).
 *
 * Reordered frames: a frame whose RTP timestamp is older than a frame that
 * arrived before it (decode order differs from presentation order: B-frames)
 * is counted; WebRTC receivers assume no reordering (see rtsp/decide.ts).
 *
 * SRTP (a camera configured with a key, srtp.ts): after the address and SSRC
 * checks (both in clear), every RTP and RTCP packet must authenticate with
 * the camera's key; the gate decrypts it and goes on as with plain RTP. A
 * packet that does not (another key, plain RTP, a replay) is dropped and
 * counted like a stranger's, and never moves the camera's source. RTCP from
 * mediasoup (receiver reports, PLI) is not sent to an SRTP camera (it would
 * expect SRTCP with a key of its own).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { SrtpReceiver } from './srtp.ts';
import { allocateUdpPortPair } from './udp-ports.ts';

/** The current source must be silent this long before another port of the camera's address takes over, ms. */
export const SWITCH_AFTER_SILENCE_MS = 150;
/** A sequence jump larger than this (forward) or any backward jump beyond reordering is a restarted encoder (RFC 3550 A.1 MAX_DROPOUT). */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
/** Video RTP clock, Hz (RFC 6184 §5.1, RFC 7741 §4.1). */
const VIDEO_CLOCK_HZ = 90_000;
/** A stranger is logged at most this often per gate, ms. */
const STRANGER_LOG_INTERVAL_MS = 10_000;
/** Distinct frame timestamps remembered for reorder detection (packets of one frame may trail the next). */
const RECENT_FRAMES = 8;

export interface PushGateOptions {
  /** Local IP the camera sends to. */
  listenIp: string;
  /** Camera-facing RTP port (RTCP = port + 1); 0 = a free pair (tests). */
  port: number;
  /** The camera's SSRC: RTP with another SSRC is a stranger's. */
  ssrc: number;
  /** The camera's address; absent: any address (only allowed on a loopback ingest, see config). */
  sourceIp?: string | undefined;
  /** Where forwarded packets leave from (the PlainTransport is connected to it): the ingest's loopback or own IP. */
  forwardIp: string;
  /** SO_RCVBUF / SO_SNDBUF asked of the camera-facing sockets, bytes (the kernel caps it at net.core.rmem_max / wmem_max). */
  recvBufferSize: number;
  sendBufferSize: number;
  /** The camera sends SRTP: its receive context (keys from config); absent: plain RTP. */
  srtp?: SrtpReceiver | undefined;
  logger: Logger;
}

/** Counters since the gate opened. */
export interface PushGateStats {
  /** RTP packets from the camera, forwarded. */
  packets: number;
  /** Packets (RTP or RTCP) from anyone else, malformed, or (SRTP) not authentic: dropped. */
  foreignPackets: number;
  /** Times the camera's stream restarted (new source port or sequence jump). */
  restarts: number;
  /** Frames that arrived after a frame with a later timestamp (B-frames). */
  reorderedFrames: number;
  /** The camera's current source, when it has sent. */
  source: { ip: string; port: number } | undefined;
  /** Last RTP from the camera, ms since epoch. */
  lastPacketAt: number | undefined;
}

export interface PushGateEvents {
  /** The camera's stream (re)started: first packet, or a restart (new port / sequence jump). */
  source: [restart: boolean];
  /** A frame arrived out of timestamp order. */
  reordered: [];
}

interface Sockets {
  rtp: Socket;
  rtcp: Socket;
}

function bindSocket(ip: string, port: number, sizes?: { recv: number; send: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({
      type: ip.includes(':') ? 'udp6' : 'udp4',
      ...(sizes ? { recvBufferSize: sizes.recv, sendBufferSize: sizes.send } : {}),
    });
    s.once('error', (err) => {
      s.close();
      reject(err);
    });
    s.bind(port, ip, () => {
      s.removeAllListeners('error');
      resolve(s);
    });
  });
}

async function bindPair(ip: string, port: number, sizes?: { recv: number; send: number }): Promise<Sockets> {
  const rtpPort = port || (await allocateUdpPortPair(ip));
  const rtp = await bindSocket(ip, rtpPort, sizes);
  try {
    return { rtp, rtcp: await bindSocket(ip, rtpPort + 1, sizes) };
  } catch (err) {
    rtp.close();
    throw err;
  }
}

/** Signed difference a - b of two 16-bit sequence numbers. */
function seqDiff(a: number, b: number): number {
  return ((a - b + 0x18000) & 0xffff) - 0x8000;
}

export class PushGate extends EventEmitter<PushGateEvents> {
  readonly #o: PushGateOptions;
  readonly #log: Logger;
  readonly #camera: Sockets;
  readonly #forward: Sockets;
  #target: { rtpPort: number; rtcpPort: number } | undefined;
  #closed = false;
  // current source and RTP rewrite
  #source: { ip: string; port: number } | undefined;
  #rtcpSource: { ip: string; port: number } | undefined;
  #lastAt = 0;
  #lastInSeq = -1;
  #seqOffset = 0;
  #tsOffset = 0;
  #lastOutSeq = -1;
  #lastOutTs = 0;
  // reorder detection (on output timestamps)
  #maxTs: number | undefined;
  #recentTs: number[] = [];
  #lastStrangerLogAt = 0;
  readonly #stats: PushGateStats = { packets: 0, foreignPackets: 0, restarts: 0, reorderedFrames: 0, source: undefined, lastPacketAt: undefined };

  private constructor(o: PushGateOptions, camera: Sockets, forward: Sockets) {
    super();
    this.#o = o;
    this.#log = o.logger;
    this.#camera = camera;
    this.#forward = forward;
    camera.rtp.on('message', (msg, rinfo) => this.#onRtp(msg, rinfo));
    camera.rtcp.on('message', (msg, rinfo) => this.#onRtcp(msg, rinfo));
    forward.rtcp.on('message', (msg) => this.#onMediasoupRtcp(msg));
    // mediasoup never sends RTP to a receive-only transport's peer; drain it anyway.
    forward.rtp.on('message', () => {});
    for (const s of [camera.rtp, camera.rtcp, forward.rtp, forward.rtcp]) {
      s.on('error', (err) => this.#log.warn({ err: err.message }, 'push gate socket error'));
    }
  }

  /**
   * Binds the camera-facing port pair and a forwarding pair.
   * @throws Error when the camera's port (or port + 1) is taken
   */
  static async open(o: PushGateOptions): Promise<PushGate> {
    const camera = await bindPair(o.listenIp, o.port, { recv: o.recvBufferSize, send: o.sendBufferSize });
    try {
      const forward = await bindPair(o.forwardIp, 0, { recv: 65536, send: o.recvBufferSize });
      return new PushGate(o, camera, forward);
    } catch (err) {
      camera.rtp.close();
      camera.rtcp.close();
      throw err;
    }
  }

  /** Camera-facing ports (where the camera sends RTP and RTCP). */
  get ports(): { rtpPort: number; rtcpPort: number } {
    return { rtpPort: this.#camera.rtp.address().port, rtcpPort: this.#camera.rtcp.address().port };
  }

  /** The local address and ports forwarded packets come from (connect the PlainTransport to it). */
  get forwardSource(): { ip: string; rtpPort: number; rtcpPort: number } {
    return { ip: this.#o.forwardIp, rtpPort: this.#forward.rtp.address().port, rtcpPort: this.#forward.rtcp.address().port };
  }

  /** SO_RCVBUF the kernel granted the camera-facing RTP socket, bytes (twice what was asked, up to 2 x net.core.rmem_max; socket(7)). */
  get recvBufferSize(): number {
    return this.#camera.rtp.getRecvBufferSize();
  }

  /** Counters (a copy). */
  get stats(): PushGateStats {
    return { ...this.#stats };
  }

  /** Points forwarding at the PlainTransport's local ports (a new transport after a worker change). */
  retarget(target: { rtpPort: number; rtcpPort: number }): void {
    this.#target = target;
  }

  /** Closes every socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [this.#camera.rtp, this.#camera.rtcp, this.#forward.rtp, this.#forward.rtcp]) s.close();
  }

  #isCamera(rinfo: RemoteInfo): boolean {
    return this.#o.sourceIp === undefined || rinfo.address === this.#o.sourceIp;
  }

  #stranger(rinfo: RemoteInfo, why: string): void {
    this.#stats.foreignPackets++;
    const now = Date.now();
    if (now - this.#lastStrangerLogAt < STRANGER_LOG_INTERVAL_MS) return;
    this.#lastStrangerLogAt = now;
    this.#log.warn({ remoteIp: rinfo.address, remotePort: rinfo.port, why, foreignPackets: this.#stats.foreignPackets }, 'RTP push: packets not from the camera dropped');
  }

  #onRtp(packet: Buffer, rinfo: RemoteInfo): void {
    if (this.#closed) return;
    // RFC 3550 §5.1: version 2, 12-byte fixed header.
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return this.#stranger(rinfo, 'not RTP');
    if (!this.#isCamera(rinfo)) return this.#stranger(rinfo, 'address');
    if (packet.readUInt32BE(8) !== this.#o.ssrc) return this.#stranger(rinfo, 'ssrc');
    const now = Date.now();
    const seq = packet.readUInt16BE(2);
    const ts = packet.readUInt32BE(4);
    const src = this.#source;
    // Another port of the camera's address: a restarted camera once the old one fell silent,
    // else a second sender (the old stream still runs): not the camera's stream.
    const newPort = src !== undefined && (src.ip !== rinfo.address || src.port !== rinfo.port);
    if (newPort && now - this.#lastAt < SWITCH_AFTER_SILENCE_MS) return this.#stranger(rinfo, 'second sender');
    const d = seqDiff(seq, this.#lastInSeq);
    const seqJump = src !== undefined && !newPort && (d > MAX_DROPOUT || d < -MAX_MISORDER);
    let msg = packet;
    if (this.#o.srtp) {
      // Only an authentic packet may start or move the camera's stream.
      const fresh = src === undefined || newPort || seqJump;
      let plain = this.#o.srtp.unprotectRtp(packet, fresh);
      if (typeof plain === 'string' && fresh && src !== undefined) plain = this.#o.srtp.unprotectRtp(packet, false);
      if (typeof plain === 'string') return this.#stranger(rinfo, `srtp ${plain}`);
      msg = plain;
    }
    let rebase = false;
    if (!src) {
      this.#source = { ip: rinfo.address, port: rinfo.port };
      this.#stats.source = { ...this.#source };
      this.#lastInSeq = seq;
      this.#lastAt = now;
      this.emit('source', false);
    } else if (newPort) {
      this.#source = { ip: rinfo.address, port: rinfo.port };
      this.#stats.source = { ...this.#source };
      rebase = true;
    } else if (seqJump) {
      rebase = true;
    }
    if (rebase) {
      // Continue the output sequence and timeline where the old stream stopped.
      const gapTicks = Math.max(1, Math.round(((now - this.#lastAt) * VIDEO_CLOCK_HZ) / 1000));
      this.#seqOffset = (this.#lastOutSeq + 1 - seq) & 0xffff;
      this.#tsOffset = (this.#lastOutTs + gapTicks - ts) >>> 0;
      this.#maxTs = undefined;
      this.#recentTs = [];
      this.#stats.restarts++;
      this.#log.info({ remotePort: rinfo.port, restarts: this.#stats.restarts }, 'RTP push: camera stream restarted');
    }
    if (seqDiff(seq, this.#lastInSeq) > 0 || rebase) this.#lastInSeq = seq;
    this.#lastAt = now;
    const outSeq = (seq + this.#seqOffset) & 0xffff;
    const outTs = (ts + this.#tsOffset) >>> 0;
    if (this.#seqOffset !== 0) msg.writeUInt16BE(outSeq, 2);
    if (this.#tsOffset !== 0) msg.writeUInt32BE(outTs, 4);
    if (this.#lastOutSeq < 0 || seqDiff(outSeq, this.#lastOutSeq) > 0) {
      this.#lastOutSeq = outSeq;
      this.#lastOutTs = outTs;
    }
    this.#checkOrder(outTs);
    this.#stats.packets++;
    this.#stats.lastPacketAt = now;
    if (rebase) this.emit('source', true);
    if (this.#target) this.#forward.rtp.send(msg, this.#target.rtpPort, this.#o.forwardIp);
  }

  /** Counts a new frame whose timestamp is older than one already seen (decode order != presentation order). */
  #checkOrder(ts: number): void {
    if (this.#recentTs.includes(ts)) return;
    this.#recentTs.push(ts);
    if (this.#recentTs.length > RECENT_FRAMES) this.#recentTs.shift();
    if (this.#maxTs !== undefined && ((ts - this.#maxTs) | 0) < 0) {
      this.#stats.reorderedFrames++;
      this.emit('reordered');
      return;
    }
    this.#maxTs = ts;
  }

  #onRtcp(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.#closed) return;
    // RFC 3550 §6.4: version 2, at least a header and the sender's SSRC.
    if (msg.length < 8 || msg[0]! >> 6 !== 2) return this.#stranger(rinfo, 'not RTCP');
    if (!this.#isCamera(rinfo) || (this.#source && this.#source.ip !== rinfo.address)) return this.#stranger(rinfo, 'address');
    if (msg.readUInt32BE(4) !== this.#o.ssrc) return this.#stranger(rinfo, 'ssrc');
    if (this.#o.srtp) {
      const plain = this.#o.srtp.unprotectRtcp(msg);
      if (typeof plain === 'string') return this.#stranger(rinfo, `srtcp ${plain}`);
      msg = plain;
    }
    this.#rtcpSource = { ip: rinfo.address, port: rinfo.port };
    // Sender report (PT 200): its RTP timestamp (bytes 16-19) lives on the rewritten timeline.
    if (msg[1] === 200 && msg.length >= 20 && this.#tsOffset !== 0) msg.writeUInt32BE((msg.readUInt32BE(16) + this.#tsOffset) >>> 0, 16);
    if (this.#target) this.#forward.rtcp.send(msg, this.#target.rtcpPort, this.#o.forwardIp);
  }

  /** Receiver reports, PLI/FIR from mediasoup: to the camera (cameras that honour PLI send a keyframe). */
  #onMediasoupRtcp(msg: Buffer): void {
    if (this.#closed || this.#o.srtp) return;
    const to = this.#rtcpSource ?? (this.#source ? { ip: this.#source.ip, port: this.#source.port + 1 } : undefined);
    if (to) this.#camera.rtcp.send(msg, to.port, to.ip);
  }
}
