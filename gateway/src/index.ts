/** @vigil/gateway: mediasoup SFU (ingest, fan-out, workers). */
export { Gateway, type GatewayOptions } from './gateway.ts';
export { Camera, CAMERA_STATES, type CameraState } from './cameras/camera.ts';
export { Fanout } from './fanout/fanout.ts';
export { WorkerPool, type WorkerSlot } from './workers/worker-pool.ts';
export * from './config/schema.ts';
export { testPatternArgs, rtpOutputUrl, type RtpTarget } from './ingest/test-pattern.ts';
export * from './ingest/rtsp.ts';
export { producerRtpParameters, ROUTER_MEDIA_CODECS, H264_PROFILE_LEVEL_IDS } from './ingest/codecs.ts';
