/**
 * RTP ingest into mediasoup: one comedia PlainTransport per camera (the
 * source's address is latched from its first packet; mediasoup docs,
 * PlainTransportOptions.comedia) and one video producer on it.
 *
 * RTCP is not multiplexed (rtcpMux false): ffmpeg and most cameras send RTCP
 * from RTP port + 1 (RFC 3550 §11), so the transport listens on two ports.
 */
import type { types } from 'mediasoup';
import type { CameraConfig } from '../config/schema.ts';
import { producerRtpParameters } from './codecs.ts';

export interface PlainIngest {
  transport: types.PlainTransport;
  producer: types.Producer;
  /** Local RTP port (UDP). */
  rtpPort: number;
  /** Local RTCP port (UDP). */
  rtcpPort: number;
}

/**
 * Opens the ingest PlainTransport and producer for a camera on `router`.
 *
 * @param router router that will own the producer
 * @param camera camera config (codec, profile)
 * @param listenIp local IP to bind
 * @param port RTP port (RTCP = port + 1), 0 for any free port
 * @param ssrc / payloadType what the source sends with
 * @param source for a relay or push gate on this host: its address and fixed
 *   RTP port (RTCP = port + 1). The transport is then connected to exactly that
 *   tuple (no comedia), so RTP from any other sender, e.g. a stray relay of
 *   another camera, is dropped by mediasoup. Absent: comedia (latch the first sender).
 * @param recvBufferSize SO_RCVBUF asked for the transport's sockets, bytes
 *   (mediasoup `listenInfo.recvBufferSize`; capped by net.core.rmem_max)
 * @throws Error from mediasoup when the port is taken or parameters are invalid
 *   (the transport is closed before rethrowing)
 */
export function openPlainIngest(
  router: types.Router,
  camera: CameraConfig,
  listenIp: string,
  port: number,
  ssrc: number,
  payloadType: number,
  source?: RelaySource,
  recvBufferSize?: number,
): Promise<PlainIngest> {
  return openIngest(router, camera.id, listenIp, port, 'video', producerRtpParameters(camera, ssrc, payloadType), source, recvBufferSize);
}

/** A relay's sending address and fixed local RTP port (RTCP = port + 1). */
export interface RelaySource {
  ip: string;
  rtpPort: number;
}

/**
 * Opens an audio ingest (relayed camera audio) on `router`: its own
 * PlainTransport on free ports, and an audio producer.
 * @param rtpParameters see rtsp/audio-rtp.ts relayAudioRtpParameters()
 * @throws Error from mediasoup (the transport is closed before rethrowing)
 */
export function openPlainAudioIngest(
  router: types.Router,
  cameraId: string,
  listenIp: string,
  rtpParameters: types.RtpParameters,
  source: RelaySource,
  recvBufferSize?: number,
): Promise<PlainIngest> {
  return openIngest(router, cameraId, listenIp, 0, 'audio', rtpParameters, source, recvBufferSize);
}

async function openIngest(
  router: types.Router,
  cameraId: string,
  listenIp: string,
  port: number,
  kind: types.MediaKind,
  rtpParameters: types.RtpParameters,
  source?: RelaySource,
  recvBufferSize?: number,
): Promise<PlainIngest> {
  const buffers = recvBufferSize ? { recvBufferSize } : {};
  const transport = await router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: listenIp, ...(port ? { port } : {}), ...buffers },
    rtcpListenInfo: { protocol: 'udp', ip: listenIp, ...(port ? { port: port + 1 } : {}) },
    rtcpMux: false,
    comedia: !source,
    appData: { cameraId },
  });
  try {
    if (source) await transport.connect({ ip: source.ip, port: source.rtpPort, rtcpPort: source.rtpPort + 1 });
    const producer = await transport.produce({ kind, rtpParameters, appData: { cameraId } });
    const rtcpPort = transport.rtcpTuple?.localPort;
    if (rtcpPort === undefined) throw new Error('PlainTransport has no RTCP tuple');
    return { transport, producer, rtpPort: transport.tuple.localPort, rtcpPort };
  } catch (err) {
    transport.close();
    throw err;
  }
}
