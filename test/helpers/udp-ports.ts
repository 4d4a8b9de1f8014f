/**
 * Finds a free pair of consecutive UDP ports on a local address (RTP on P,
 * RTCP on P + 1, RFC 3550 §11), for a relay's fixed local source ports.
 */
import { createSocket, type Socket } from 'node:dgram';

function bind(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', (e) => {
      s.close();
      reject(e);
    });
    s.bind(port, host, () => resolve(s));
  });
}

/**
 * @returns P such that P and P + 1 were both free (they are released again:
 *   another process could take them in between, which is unlikely on loopback)
 * @throws Error after 50 attempts
 */
export async function freeUdpPortPair(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const a = await bind(host, 0);
    const port = a.address().port;
    if (port % 2 !== 0 || port >= 65535) {
      a.close();
      continue;
    }
    try {
      const b = await bind(host, port + 1);
      b.close();
      a.close();
      return port;
    } catch {
      a.close();
    }
  }
  throw new Error('no free UDP port pair found');
}
