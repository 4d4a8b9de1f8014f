/**
 * @vigil/gateway: the media side of Vigil (mediasoup SFU: camera ingest,
 * WebRTC fan-out, workers). Its public API is the media API
 * (media/media-types.ts) with its local and cluster implementations, plus the gateway's
 * part of the config schema. Tests and benchmarks that observe mediasoup
 * itself import `@vigil/gateway/internals`; Vigil's own code never does.
 */
export * from './media/media-types.ts';
export { LocalMedia } from './media/local-media.ts';
export { ClusterMedia, type ClusterMediaOptions } from './cluster/cluster-media.ts';
export type { ClusterRedisClients, ClusterMediaSettings } from './cluster/cluster-types.ts';
export type { GatewayOptions } from './gateway.ts';
export * from './config/schema.ts';
export { pushSourceIssues } from './config/push-source-checks.ts';
