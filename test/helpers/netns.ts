/**
 * A throwaway network namespace joined to the host by a veth pair, for tests
 * that need a sender with another address (ip-netns(8), veth(4)). Addresses
 * come from a random /30 in 10.200.0.0/13 (private, RFC 1918); traffic stays
 * on the veth pair. Needs root (CAP_NET_ADMIN); always removed by close(),
 * and at process exit should a test die first.
 */
import { execFileSync } from 'node:child_process';

export interface TestNetns {
  /** Namespace name (for `ip netns exec`). */
  name: string;
  /** The host end's address (bind Vigil's ingest here). */
  hostIp: string;
  /** The namespace end's address (the stranger sends from here). */
  nsIp: string;
  /** Deletes the namespace (its veth end, and so the pair, goes with it). Idempotent. */
  close(): void;
}

/** Why network namespaces cannot be made here, or undefined when they can (root). */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (CAP_NET_ADMIN) to create a network namespace';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (`ip`) is not installed';
  }
  return undefined;
}

const open = new Set<TestNetns>();
process.once('exit', () => {
  for (const ns of open) ns.close();
});

/**
 * Creates the namespace and veth pair, both ends up.
 * @throws Error from `ip` (the partial set-up is removed first)
 */
export function createNetns(): TestNetns {
  const id = `${process.pid % 100000}${Math.floor(Math.random() * 1000)}`;
  const name = `vigil-t${id}`;
  const host = `vgh${id}`.slice(0, 15);
  const peer = `vgn${id}`.slice(0, 15);
  const b = 200 + Math.floor(Math.random() * 8);
  const c = Math.floor(Math.random() * 256);
  const d = Math.floor(Math.random() * 64) * 4;
  const hostIp = `10.${b}.${c}.${d + 1}`;
  const nsIp = `10.${b}.${c}.${d + 2}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let closed = false;
  const ns: TestNetns = {
    name,
    hostIp,
    nsIp,
    close() {
      if (closed) return;
      closed = true;
      open.delete(ns);
      try {
        ip('netns', 'del', name);
      } catch {
        // never created
      }
      try {
        ip('link', 'del', host);
      } catch {
        // gone with the namespace
      }
    },
  };
  open.add(ns);
  try {
    ip('netns', 'add', name);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', name);
    ip('addr', 'add', `${hostIp}/30`, 'dev', host);
    ip('link', 'set', host, 'up');
    ip('-n', name, 'addr', 'add', `${nsIp}/30`, 'dev', peer);
    ip('-n', name, 'link', 'set', peer, 'up');
    ip('-n', name, 'link', 'set', 'lo', 'up');
  } catch (err) {
    ns.close();
    throw err;
  }
  return ns;
}
