/**
 * Version of the SDK <-> signaling protocol. Sent by the client in `join`;
 * the server refuses other versions with `unsupported_version`. Bump on any
 * incompatible change to a message shape in this package.
 */
export const PROTOCOL_VERSION = 1;

/** Largest WebSocket message (UTF-8 bytes) either side sends or accepts. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** WebSocket path the signaling server listens on. */
export const SIGNALING_PATH = '/ws';
