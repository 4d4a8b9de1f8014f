/** Free TCP ports for services the tests start (Redis, PostgreSQL, haproxy). */
import { createServer } from 'node:net';

/**
 * A TCP port free on `host` now (the kernel's choice for port 0; another
 * process may take it before the caller binds, which tests accept).
 * @throws Error when `host` cannot be bound
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
