/**
 * @vigil/gateway/internals: the gateway's insides, for tests that observe the
 * mediasoup worker and for benchmarks that measure it directly. Not an API:
 * Vigil's own code outside gateway/ uses only `@vigil/gateway` (the media
 * API), which server/test/architecture.test.ts checks.
 */
export { Gateway, type GatewayOptions } from './gateway.ts';
export { Camera, CameraConfigError } from './cameras/camera.ts';
export { CameraStream, defaultDriverFactory, type DriverFactory, type StreamDegradation, type StreamIngestCounters } from './cameras/camera-stream.ts';
export { PushGate, type PushGateStats } from './ingest/push-gate.ts';
export { SrtpReceiver, type SrtpCryptoSuite } from './ingest/srtp.ts';
export { socketBufferLimits, socketBufferWarnings, udpSocketDrops } from './ingest/socket-buffers.ts';
export { SourceDriver, RelayDriver, type AudioHost } from './ingest/source-driver.ts';
export { RtspDriver } from './ingest/rtsp-driver.ts';
export { RelayProcess } from './ingest/relay-process.ts';
export { allocateUdpPortPair } from './ingest/udp-ports.ts';
export { openPlainIngest, type PlainIngest } from './ingest/plain-ingest.ts';
export { Fanout } from './fanout/fanout.ts';
export { withoutBandwidthEstimation, withoutTransportCc } from './fanout/viewer-capabilities.ts';
export { WorkerPool, workerCount, type WorkerSlot } from './workers/worker-pool.ts';
export { testPatternArgs, rtpOutputUrl, type RtpTarget } from './ingest/test-pattern.ts';
export * from './ingest/rtsp.ts';
export { producerRtpParameters, ROUTER_MEDIA_CODECS, H264_PROFILE_LEVEL_IDS } from './ingest/codecs.ts';
export { claimOrigin, planOrphans, readOrigins, releaseOrigin, type ReadOrigin } from './cluster/camera-assignment.ts';
export type { NodeRecord, NodeLoad, OriginRecord } from './cluster/cluster-types.ts';
export * from './index.ts';
