import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '@vigil/protocol';
import { parseRequest } from '../src/signaling/parse-request.ts';

const refused = (frame: string | Buffer, isBinary = false) => {
  const r = parseRequest(frame, isBinary);
  if (r.ok) throw new Error('expected a refusal');
  expect(r.error.code).toBe('bad_request');
  return r;
};

describe('signaling message validation', () => {
  it('accepts each well-formed request type', () => {
    const ok = [
      { id: 1, type: 'join', protocolVersion: 1, token: 'a.b.c' },
      { id: 2, type: 'getRouterRtpCapabilities' },
      { id: 3, type: 'createRecvTransport' },
      { id: 4, type: 'connectTransport', transportId: 'abc-1', dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] } },
      { id: 5, type: 'consume', transportId: 'abc-1', cameraId: 'site-a/cam-1', rtpCapabilities: { codecs: [] } },
      { id: 6, type: 'resumeConsumer', consumerId: 'c-1' },
      { id: 7, type: 'closeConsumer', consumerId: 'c-1' },
      { id: 8, type: 'leave' },
    ];
    for (const m of ok) {
      const r = parseRequest(JSON.stringify(m));
      expect(r.ok, JSON.stringify(m)).toBe(true);
    }
  });

  it('refuses non-JSON, binary and oversized frames without an id', () => {
    expect(refused('{not json').id).toBeNull();
    expect(refused(Buffer.from('{"id":1,"type":"leave"}'), true).id).toBeNull();
    expect(refused(`{"id":1,"type":"join","token":"${'x'.repeat(MAX_MESSAGE_BYTES)}"}`).error.message).toBe('message too large');
    expect(refused('null').id).toBeNull();
    expect(refused('[]').id).toBeNull();
  });

  it('refuses unknown types, echoing the id so the client can match it', () => {
    const r = refused('{"id":7,"type":"produce"}');
    expect(r.id).toBe(7);
    expect(r.error.message).toBe('unknown message type');
    expect(refused('{"id":7}').error.message).toMatch(/type/);
  });

  it('names the bad field and never echoes its value', () => {
    const r = refused(JSON.stringify({ id: 9, type: 'consume', transportId: 't', cameraId: '../../etc/passwd', rtpCapabilities: {} }));
    expect(r.error.message).toContain('/cameraId');
    expect(r.error.message).not.toContain('passwd');
    expect(refused(JSON.stringify({ id: 9, type: 'join', protocolVersion: 1 })).error.message).toContain('/token');
    expect(refused(JSON.stringify({ id: 9, type: 'leave', extra: 1 })).error.message).toContain('unknown field');
    // The unknown field's name is client input: not echoed.
    expect(refused(JSON.stringify({ id: 9, type: 'leave', eyJhbGciOiJIUzI1NiJ9: 1 })).error.message).not.toContain('eyJ');
  });

  it('refuses bad ids and wrong field types', () => {
    expect(refused('{"id":-1,"type":"leave"}').id).toBeNull();
    expect(refused('{"id":1.5,"type":"leave"}').id).toBeNull();
    expect(refused('{"id":"1","type":"leave"}').id).toBeNull();
    refused('{"id":1,"type":"join","protocolVersion":"1","token":"t"}');
    refused('{"id":1,"type":"join","protocolVersion":1,"token":""}');
    refused('{"id":1,"type":"connectTransport","transportId":"t","dtlsParameters":{"fingerprints":[]}}');
    refused('{"id":1,"type":"consume","transportId":"t","cameraId":"c","rtpCapabilities":[]}');
  });
});
