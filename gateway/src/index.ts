/** @vigil/gateway: mediasoup SFU (ingest, fan-out, workers). */
export { Gateway, CameraConflictError, type GatewayOptions, type ReconcileResult } from './gateway.ts';
export { Camera, CAMERA_STATES, CameraConfigError, pushSourceIssues, type CameraState, type CameraTransition, type CameraDegradation } from './cameras/camera.ts';
export { CameraStream, defaultDriverFactory, type DriverFactory, type StreamDegradation, type StreamIngestCounters } from './cameras/camera-stream.ts';
export { PushGate, type PushGateStats } from './ingest/push-gate.ts';
export { socketBufferLimits, socketBufferWarnings, udpSocketDrops } from './ingest/socket-buffers.ts';
export { SourceDriver, RelayDriver } from './ingest/source-driver.ts';
export { RtspDriver } from './ingest/rtsp-driver.ts';
export { RelayProcess } from './ingest/relay-process.ts';
export { allocateUdpPortPair } from './ingest/udp-ports.ts';
export { Fanout } from './fanout/fanout.ts';
export { WorkerPool, workerCount, type WorkerSlot } from './workers/worker-pool.ts';
export * from './config/schema.ts';
export { testPatternArgs, rtpOutputUrl, type RtpTarget } from './ingest/test-pattern.ts';
export * from './ingest/rtsp.ts';
export { producerRtpParameters, ROUTER_MEDIA_CODECS, H264_PROFILE_LEVEL_IDS } from './ingest/codecs.ts';
