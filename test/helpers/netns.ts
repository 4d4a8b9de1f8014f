/**
 * Throwaway network namespaces for tests that need other addresses
 * (ip-netns(8), veth(4), bridge): {@link createNetns} joins one namespace to
 * the host by a veth pair (a sender with another address);
 * {@link createBridgeNet} joins several to one Linux bridge on the host (a
 * cluster of hosts: each namespace reaches the others and the host, the host
 * reaches each). Addresses come from random ranges in 10.200.0.0/13 (private,
 * RFC 1918); traffic stays on the veth pairs and the bridge. Needs root
 * (CAP_NET_ADMIN); always removed by close(), and at process exit should a
 * test die first.
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

const open = new Set<{ close(): void }>();
process.once('exit', () => {
  for (const ns of open) ns.close();
});

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** A bridge on the host with namespaces attached, each with its own address. */
export interface TestBridgeNet {
  /** The host's address on the bridge (bind host services the namespaces reach here, e.g. Redis). */
  hostIp: string;
  /** The namespaces, in creation order. */
  hosts: { name: string; ip: string }[];
  /** Deletes the namespaces and the bridge. Idempotent. */
  close(): void;
}

/**
 * Creates a bridge with `count` namespaces on it (a random /24 in
 * 10.200.0.0/13: the host is .1, namespace i is .(i + 2)), every link and
 * each namespace's loopback up.
 * @throws Error from `ip` (the partial set-up is removed first)
 */
export function createBridgeNet(count: number): TestBridgeNet {
  const id = `${process.pid % 10000}${Math.floor(Math.random() * 100)}`;
  const bridge = `vgb${id}`.slice(0, 15);
  const prefix = `10.${200 + Math.floor(Math.random() * 8)}.${Math.floor(Math.random() * 256)}`;
  const hosts = Array.from({ length: count }, (_, i) => ({ name: `vigil-b${id}-${i}`, ip: `${prefix}.${i + 2}` }));
  let closed = false;
  const net: TestBridgeNet = {
    hostIp: `${prefix}.1`,
    hosts,
    close() {
      if (closed) return;
      closed = true;
      open.delete(net);
      for (const h of hosts) {
        try {
          ip('netns', 'del', h.name);
        } catch {
          // never created
        }
      }
      try {
        ip('link', 'del', bridge);
      } catch {
        // never created
      }
    },
  };
  open.add(net);
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${net.hostIp}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    hosts.forEach((h, i) => {
      const hostEnd = `vgb${id}h${i}`.slice(0, 15);
      const nsEnd = `vgb${id}n${i}`.slice(0, 15);
      ip('netns', 'add', h.name);
      ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', nsEnd);
      ip('link', 'set', nsEnd, 'netns', h.name);
      ip('link', 'set', hostEnd, 'master', bridge);
      ip('link', 'set', hostEnd, 'up');
      ip('-n', h.name, 'addr', 'add', `${h.ip}/24`, 'dev', nsEnd);
      ip('-n', h.name, 'link', 'set', nsEnd, 'up');
      ip('-n', h.name, 'link', 'set', 'lo', 'up');
    });
  } catch (err) {
    net.close();
    throw err;
  }
  return net;
}

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
