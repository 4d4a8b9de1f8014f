/**
 * RTSP ingest building blocks (the camera lifecycle composes them):
 *
 *   const input = await prepareRtspInput(source);      // credentials out of argv
 *   const probe = await probeRtsp(source);             // or RtspError { reason }
 *   const decision = decideRelay(probe, source);       // copy | transcode | refuse
 *   const args = rtspRelayArgs(input, decision, target); // ffmpeg argv -> RelayProcess
 *   ... await input.dispose() when the camera goes away.
 *
 * Log ffmpeg's output only through `rtspStderrRedactor(source, input)`
 * (RelayProcess option `redact`).
 */
export {
  RtspSourceSchema,
  RtspError,
  RTSP_ERROR_REASONS,
  redactUrl,
  scrubCredentials,
  encodeUserinfo,
  hasCredentials,
  type RtspSource,
  type RtspSourceInput,
  type RtspErrorReason,
} from './rtsp/source.ts';
export { prepareRtspInput, rtspStderrRedactor, RTSP_PROTOCOL_WHITELIST, type RtspInput, type RtspAnalysis } from './rtsp/input.ts';
export { probeRtsp, classifyFfmpegError, type RtspProbe, type RtspVideoInfo, type RtspAudioInfo, type ProbeOptions } from './rtsp/probe.ts';
export {
  decideRelay,
  defaultTranscodeBitrate,
  type RelayDecision,
  type AudioPlan,
  type VideoIncompatibility,
  type H264Profile,
} from './rtsp/decide.ts';
export { rtspRelayArgs, TRANSCODE_PRESET, type RtspRelayTarget } from './rtsp/relay-args.ts';
export { RELAY_AUDIO_ROUTER_CODECS, relayAudioPayloadType, relayAudioRtpParameters } from './rtsp/audio-rtp.ts';
