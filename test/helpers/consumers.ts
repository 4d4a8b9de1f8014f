/**
 * Server-side view of viewer consumers, from mediasoup's own observers
 * (router 'newtransport' -> transport 'newconsumer'): lets a test check what
 * the gateway really does (e.g. `consumer.paused` after the SDK paused a feed).
 */
import type { types } from 'mediasoup';
import type { Gateway } from '@vigil/gateway/internals';

export interface ConsumerTracker {
  /** Open consumers of viewer transports, oldest first (instant-start primers left out: see primers()). */
  live(): types.Consumer[];
  /** Open instant-start primer consumers (gateway/src/fanout/primer.ts), oldest first. */
  primers(): types.Consumer[];
  /** Open viewer transports (WebRtcTransports), oldest first. */
  transports(): types.WebRtcTransport[];
  /** Every consumer created on one viewer transport (primers and closed ones too), oldest first. */
  consumersOf(transport: types.WebRtcTransport): types.Consumer[];
}

/** Starts tracking consumers created from now on, on every worker's router. */
export function trackConsumers(gateway: Gateway): ConsumerTracker {
  const consumers = new Set<types.Consumer>();
  const transports = new Set<types.WebRtcTransport>();
  const created = new WeakMap<types.Transport, types.Consumer[]>();
  for (const slot of gateway.workers.slots) {
    slot.router.observer.on('newtransport', (t) => {
      if (t.type !== 'webrtc') return;
      transports.add(t as types.WebRtcTransport);
      t.observer.once('close', () => transports.delete(t as types.WebRtcTransport));
      created.set(t, []);
      t.observer.on('newconsumer', (c) => {
        created.get(t)!.push(c);
        consumers.add(c);
        c.observer.once('close', () => consumers.delete(c));
      });
    });
  }
  const isPrimer = (c: types.Consumer): boolean => c.appData['primer'] === true;
  return {
    live: () => [...consumers].filter((c) => !isPrimer(c)),
    primers: () => [...consumers].filter(isPrimer),
    transports: () => [...transports],
    consumersOf: (transport) => [...(created.get(transport) ?? [])],
  };
}
