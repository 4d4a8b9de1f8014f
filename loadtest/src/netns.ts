/**
 * A private network namespace (iproute2 `ip netns`, network_namespaces(7))
 * for servers that will not use the loopback interface for ICE: Janus
 * (libnice) gathers no loopback candidates. Inside it, a veth pair whose two
 * ends both stay in the namespace gives one ordinary interface address
 * ({@link NETNS_ADDRESS}); packets to it never leave the namespace, so the
 * load test sends only to loopback and to a namespace it created, as the
 * project's rules ask. Needs root (CAP_SYS_ADMIN), as CI has.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** The address of the namespace's one interface. */
export const NETNS_ADDRESS = '10.203.0.1';
/** The namespace's network, for the bots' --allow-net. */
export const NETNS_CIDR = '10.203.0.0/24';

export interface Netns {
  name: string;
  /** argv prefix that runs a command inside the namespace (`ip netns exec <name>`). */
  exec(cmd: string, args: string[]): [string, string[]];
  /** Deletes the namespace (idempotent). */
  destroy(): void;
}

/**
 * Creates the namespace: lo up, veth pair v0/v1 up, {@link NETNS_ADDRESS}/24 on v0.
 * @throws Error when `ip` fails (not root, no veth support); nothing is left behind
 */
export function createNetns(): Netns {
  const name = `vigil-lt-${process.pid}-${randomBytes(3).toString('hex')}`;
  const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let destroyed = false;
  const destroy = (): void => {
    if (destroyed) return;
    destroyed = true;
    try {
      ip('netns', 'del', name);
    } catch {
      // already gone
    }
  };
  ip('netns', 'add', name);
  try {
    ip('-n', name, 'link', 'set', 'lo', 'up');
    ip('-n', name, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    ip('-n', name, 'addr', 'add', `${NETNS_ADDRESS}/24`, 'dev', 'v0');
    ip('-n', name, 'link', 'set', 'v0', 'up');
    ip('-n', name, 'link', 'set', 'v1', 'up');
  } catch (err) {
    destroy();
    throw err;
  }
  process.once('exit', destroy);
  return { name, exec: (cmd, args) => ['ip', ['netns', 'exec', name, cmd, ...args]], destroy };
}
