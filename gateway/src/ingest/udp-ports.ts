/**
 * Local UDP port pairs for relay processes. A relay must send from the same
 * local ports after every restart: mediasoup's comedia PlainTransport latches
 * the first source tuple and ignores packets from any other (mediasoup
 * PlainTransport.cpp, "ignoring RTP packet from unknown IP:port").
 */
import { createSocket, type Socket } from 'node:dgram';

function bind(port: number, host: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', (err) => {
      s.close();
      reject(err);
    });
    s.bind(port, host, () => resolve(s));
  });
}

/**
 * Finds a free even UDP port p with p + 1 also free (RTP + RTCP, RFC 3550 §11)
 * on `host`. The ports are released again before returning, so another
 * socket can take them before the relay binds them (e.g. a PlainTransport
 * opened meanwhile in mediasoup's port range: seen with 25-50 RTSP cameras
 * started at once); the relay's bind error (relay-process.ts
 * `localPortsTaken`) then makes its camera stream choose a new pair
 * (camera-stream.ts `#moveLocalPorts`).
 *
 * @returns the RTP port (RTCP is port + 1)
 * @throws Error after 50 attempts without a free pair
 */
export async function allocateUdpPortPair(host: string): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const probe = await bind(0, host);
    const port = (probe.address().port & ~1) || 2;
    probe.close();
    if (port + 1 > 65535) continue;
    try {
      const a = await bind(port, host);
      try {
        const b = await bind(port + 1, host);
        b.close();
        a.close();
        return port;
      } catch {
        a.close();
      }
    } catch {
      // taken: try another
    }
  }
  throw new Error('no free UDP port pair');
}
