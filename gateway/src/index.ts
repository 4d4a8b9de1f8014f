/** @vigil/gateway: mediasoup SFU (ingest, fan-out, workers). */
export { Gateway, CameraConflictError, type GatewayOptions, type ReconcileResult } from './gateway.ts';
export { Camera, CAMERA_STATES, type CameraState, type CameraTransition } from './cameras/camera.ts';
export { CameraStream, defaultDriverFactory, type DriverFactory } from './cameras/camera-stream.ts';
export { SourceDriver, RelayDriver } from './ingest/source-driver.ts';
export { RtspDriver } from './ingest/rtsp-driver.ts';
export { RelayProcess } from './ingest/relay-process.ts';
export { allocateUdpPortPair } from './ingest/udp-ports.ts';
export { Fanout } from './fanout/fanout.ts';
export { withoutBandwidthEstimation } from './fanout/viewer-capabilities.ts';
export { WorkerPool, workerCount, type WorkerSlot } from './workers/worker-pool.ts';
export * from './config/schema.ts';
export { testPatternArgs, rtpOutputUrl, type RtpTarget } from './ingest/test-pattern.ts';
export * from './ingest/rtsp.ts';
export { producerRtpParameters, ROUTER_MEDIA_CODECS, H264_PROFILE_LEVEL_IDS } from './ingest/codecs.ts';
