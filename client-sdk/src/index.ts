/**
 * @vigil/client-sdk: embed live Vigil camera feeds in a web page.
 *
 * Element (token from a callback, never in HTML):
 *   Vigil.configure({ url, token: () => fetchToken() });
 *   <vigil-feed camera="cam-1" quality="auto"></vigil-feed>
 *
 * Script:
 *   const client = await Vigil.connect({ url, token });
 *   const feed = await client.play('cam-1', videoElement, { quality: 'auto' });
 *   feed.on('state', (s) => ...); await feed.getStats(); feed.pause(); feed.resume(); feed.stop();
 */
import { defineVigilFeed } from './element.ts';

export { connect, signalingUrl, VigilClient, type ConnectOptions, type ClientState, type TokenSource } from './client.ts';
export { Feed, type FeedDegradation, type FeedState, type FeedStats, type PlayOptions, type QualityMode } from './feed.ts';
export { configure, sharedClient, defineVigilFeed, VigilFeedElement, type ElementState } from './element.ts';
export { DEFAULT_AUTO_QUALITY, type AutoQualityOptions } from './auto-quality.ts';
export { ProtocolError, ErrorCode, PROTOCOL_VERSION } from '@vigil/protocol';

defineVigilFeed();
