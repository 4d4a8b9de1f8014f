/**
 * @vigil/client-sdk: embed live Vigil camera feeds in a web page.
 *
 *   const client = await Vigil.connect({ url, token });
 *   const feed = await client.play('cam-1', videoElement);
 *   feed.stop(); client.close();
 */
export { connect, signalingUrl, VigilClient, type ConnectOptions, type ClientState, type TokenSource } from './client.ts';
export { Feed, type FeedState, type FeedStats } from './feed.ts';
export { ProtocolError, ErrorCode, PROTOCOL_VERSION } from '@vigil/protocol';
