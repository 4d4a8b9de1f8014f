/**
 * @vigil/protocol: the one typed definition of the SDK <-> signaling protocol.
 *
 * - `@vigil/protocol` (this module): constants, error codes and message TYPES.
 *   Safe for the browser bundle: it pulls in no schema code.
 * - `@vigil/protocol/schema`: the TypeBox/JSON schemas the server validates with.
 */
export * from './version.ts';
export * from './errors.ts';
export type * from './schema.ts';
