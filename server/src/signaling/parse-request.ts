/**
 * Parses and validates one signaling frame against the protocol schema
 * (@vigil/protocol/schema, ajv with the `discriminator` keyword so errors name
 * the bad field of the message type given).
 */
import { Ajv } from 'ajv';
import { ErrorCode, MAX_MESSAGE_BYTES, type ProtocolErrorBody, type Request } from '@vigil/protocol';
import { RequestSchema } from '@vigil/protocol/schema';

// Stryker: the `allErrors: true` mutant is equivalent for the answer: only the first error is reported and ajv lists errors in the same order either way; allErrors: false stops at the first (less work on hostile frames)
const ajv = new Ajv({ strict: false, allErrors: false, discriminator: true });
const validateRequest = ajv.compile<Request>(RequestSchema);

export type ParsedRequest =
  | { ok: true; request: Request }
  /** `id` is echoed when the frame had a numeric one, so the client can match the refusal. */
  | { ok: false; id: number | null; error: ProtocolErrorBody };

/**
 * @param frame the raw frame (text expected)
 * @param isBinary true for a binary frame (refused)
 * @returns the typed request, or a `bad_request` refusal whose message names
 *   the offending schema field but never echoes a value or an unknown field's name
 */
export function parseRequest(frame: Buffer | string, isBinary = false): ParsedRequest {
  const bad = (id: number | null, message: string): ParsedRequest => ({
    ok: false,
    id,
    error: { code: ErrorCode.BadRequest, message },
  });
  if (isBinary) return bad(null, 'binary frames are not accepted');
  if (Buffer.byteLength(frame) > MAX_MESSAGE_BYTES) return bad(null, 'message too large');
  let msg: unknown;
  try {
    msg = JSON.parse(frame.toString());
  } catch {
    return bad(null, 'message is not JSON');
  }
  const rawId = (msg as { id?: unknown } | null)?.id;
  const id = Number.isInteger(rawId) && (rawId as number) >= 0 && (rawId as number) < 2 ** 31 ? (rawId as number) : null;
  if (!validateRequest(msg)) {
    const e = validateRequest.errors?.[0];
    if (e?.keyword === 'discriminator') return bad(id, 'unknown message type');
    // Paths name schema-known fields only: an unknown field's name is client
    // input (it could carry a token), so it is not echoed.
    const field =
      e?.keyword === 'required' ? `${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}` : e?.instancePath;
    // Stryker: the `?? ""` mutant of the 'invalid' fallback is equivalent: every ajv keyword used by the schema sets a message
    return bad(id, `invalid message${field ? ` at ${field}` : ''}: ${e?.keyword === 'additionalProperties' ? 'unknown field' : (e?.message ?? 'invalid')}`);
  }
  return { ok: true, request: msg };
}
