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

/** Viewers in a namespace of their own, linked to the server by a veth pair. */
export interface ViewerLink {
  /** The viewers' (bots') namespace. */
  netns: Netns;
  /** The server's end of the link: listen (WebRTC, HTTP) on this address. */
  serverAddress: string;
  /** The server's end's interface name (in the server's namespace). */
  serverDevice: string;
  /** The link's network, for the bots' --allow-net. */
  cidr: string;
}

/**
 * Puts the viewers where a real network would: in a namespace of their own
 * behind a veth pair (veth(4)) from the server's namespace (`serverNetns`,
 * or the host's), with the viewers' end steering its receive processing to
 * `rpsCore` (Receive Packet Steering, the kernel's Documentation/networking/scaling.rst).
 *
 * Why: over loopback (and over a veth without RPS) the kernel delivers a
 * packet into the receiver's socket inside the sender's `sendmsg()` (the
 * softirq runs at the end of the send, on the sender's CPU), so the server
 * is charged for its viewers' receive path as well: about 17 % of a mediasoup
 * worker's CPU in a fan-out profile. With RPS the sender's CPU only queues
 * the packet to `rpsCore`'s backlog (as a NIC's transmit would hand it off),
 * and the receive path runs there, charged to that core.
 *
 * The addresses are a random /30 in 10.204.0.0/16; both ends exist only on
 * this veth pair. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), as CI has.
 * @throws Error when `ip` fails or RPS cannot be set; nothing is left behind
 */
export function createViewerLink(o: { serverNetns?: Netns; rpsCore: number }): ViewerLink {
  const tag = randomBytes(3).toString('hex');
  const subnet = randomBytes(1)[0]!;
  const host = 4 * (randomBytes(1)[0]! % 64);
  const serverAddress = `10.204.${subnet}.${host + 1}`;
  const viewerAddress = `10.204.${subnet}.${host + 2}`;
  const serverDev = `vls${tag}`;
  const viewerDev = `vlv${tag}`;
  const netns = createNetns();
  const run = (args: string[]): void => void execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const inServer = (args: string[]): string[] => (o.serverNetns ? ['-n', o.serverNetns.name, ...args] : args);
  try {
    run(inServer(['link', 'add', serverDev, 'type', 'veth', 'peer', 'name', viewerDev, 'netns', netns.name]));
    run(inServer(['addr', 'add', `${serverAddress}/30`, 'dev', serverDev]));
    run(inServer(['link', 'set', serverDev, 'up']));
    run(['-n', netns.name, 'addr', 'add', `${viewerAddress}/30`, 'dev', viewerDev]);
    run(['-n', netns.name, 'link', 'set', viewerDev, 'up']);
    // sysfs as the namespace sees it (`ip netns exec` mounts it); the mask is hex, one bit per CPU.
    const mask = (1 << o.rpsCore).toString(16);
    execFileSync('ip', ['netns', 'exec', netns.name, 'sh', '-c', `echo ${mask} > /sys/class/net/${viewerDev}/queues/rx-0/rps_cpus`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    netns.destroy(); // deleting the namespace deletes the veth pair
    throw err;
  }
  return { netns, serverAddress, serverDevice: serverDev, cidr: `${serverAddress.replace(/\d+$/, String(host))}/30` };
}
