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
 * @throws Error from mediasoup when the port is taken or parameters are invalid
 *   (the transport is closed before rethrowing)
 */
export async function openPlainIngest(
  router: types.Router,
  camera: CameraConfig,
  listenIp: string,
  port: number,
  ssrc: number,
  payloadType: number,
): Promise<PlainIngest> {
  const transport = await router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: listenIp, ...(port ? { port } : {}) },
    rtcpListenInfo: { protocol: 'udp', ip: listenIp, ...(port ? { port: port + 1 } : {}) },
    rtcpMux: false,
    comedia: true,
    appData: { cameraId: camera.id },
  });
  try {
    const producer = await transport.produce({
      kind: 'video',
      rtpParameters: producerRtpParameters(camera, ssrc, payloadType),
      appData: { cameraId: camera.id },
    });
    const rtcpPort = transport.rtcpTuple?.localPort;
    if (rtcpPort === undefined) throw new Error('PlainTransport has no RTCP tuple');
    return { transport, producer, rtpPort: transport.tuple.localPort, rtcpPort };
  } catch (err) {
    transport.close();
    throw err;
  }
}
