/**
 * Signaling frame validation at its edges: the size bound at its exact
 * value, the id range a refusal echoes, and the refusal messages a client
 * sees (each naming the failed check).
 */
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '@vigil/protocol';
import { parseRequest } from '../src/signaling/parse-request.ts';

/** The refusal as the client sees it: echoed id and message. */
function refusal(frame: string | Buffer, isBinary = false): { id: number | null; message: string } {
  const r = parseRequest(frame, isBinary);
  if (r.ok) throw new Error('expected a refusal');
  expect(r.error.code).toBe('bad_request');
  return { id: r.id, message: r.error.message };
}

describe('signaling frame validation edges', () => {
  it(`a frame of exactly ${MAX_MESSAGE_BYTES} bytes is parsed; one byte more is refused`, () => {
    const leave = '{"id":1,"type":"leave"}';
    const exact = leave + ' '.repeat(MAX_MESSAGE_BYTES - leave.length);
    expect(parseRequest(exact)).toEqual({ ok: true, request: { id: 1, type: 'leave' } });
    expect(refusal(`${exact} `)).toEqual({ id: null, message: 'message too large' });
  });

  it('names why a frame could not be read at all', () => {
    expect(refusal(Buffer.from('{"id":1,"type":"leave"}'), true)).toEqual({ id: null, message: 'binary frames are not accepted' });
    expect(refusal('{"id":1,')).toEqual({ id: null, message: 'message is not JSON' });
    expect(refusal('')).toEqual({ id: null, message: 'message is not JSON' });
  });

  it('echoes ids 0 to 2^31-1 and no others', () => {
    expect(refusal('{"id":0,"type":"produce"}').id).toBe(0);
    expect(refusal(`{"id":${2 ** 31 - 1},"type":"produce"}`).id).toBe(2 ** 31 - 1);
    expect(refusal(`{"id":${2 ** 31},"type":"produce"}`).id).toBeNull();
  });

  it('states the schema rule broken, at the field when there is one', () => {
    expect(refusal('[]')).toEqual({ id: null, message: 'invalid message: must be object' });
    expect(refusal('{"id":1,"type":"join","protocolVersion":"1","token":"t"}')).toEqual({
      id: 1,
      message: 'invalid message at /protocolVersion: must be integer',
    });
    expect(refusal('{"id":2,"type":"leave","extra":1}')).toEqual({ id: 2, message: 'invalid message: unknown field' });
  });
});
