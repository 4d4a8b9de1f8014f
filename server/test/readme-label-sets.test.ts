/** README's label-cardinality counts are the protocol's own sets (they went stale once: "9 request types" for 13). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@vigil/protocol';
import { REQUEST_TYPES } from '@vigil/protocol/schema';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');

describe('README label sets', () => {
  it('names as many request types and error codes as the protocol has', () => {
    const types = /`type` \((\d+) request types\)/.exec(README);
    const codes = /\((\d+) error codes\)/.exec(README);
    expect(types, 'README states the request type count').not.toBeNull();
    expect(codes, 'README states the error code count').not.toBeNull();
    expect(Number(types![1])).toBe(REQUEST_TYPES.length);
    expect(Number(codes![1])).toBe(Object.keys(ErrorCode).length);
  });
});
