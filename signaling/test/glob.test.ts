/**
 * The linear-time glob matcher (signaling/src/auth/glob.ts): the grammar
 * character by character, and inputs that would make a backtracking regular
 * expression take exponential time.
 */
import { describe, expect, it } from 'vitest';
import { Glob } from '../src/auth/glob.ts';

const m = (pattern: string, input: string): boolean => new Glob(pattern).matches(input);

describe('glob matcher', () => {
  it('literal characters match only themselves, the whole id', () => {
    expect(m('gate-3', 'gate-3')).toBe(true);
    expect(m('gate-3', 'gate-4')).toBe(false);
    expect(m('gate-3', 'gate-30')).toBe(false);
    expect(m('gate-3', 'xgate-3')).toBe(false);
    expect(m('gate-3', 'gate-')).toBe(false);
    expect(m('gate-3', '')).toBe(false);
    expect(m('a', 'A')).toBe(false);
  });

  it('"." is a literal dot: it matches neither "/" nor any other character', () => {
    expect(m('cam.1', 'cam.1')).toBe(true);
    expect(m('cam.1', 'cam/1')).toBe(false);
    expect(m('cam.1', 'camx1')).toBe(false);
    expect(m('a.*', 'a.b')).toBe(true);
    expect(m('a.*', 'ab')).toBe(false);
  });

  it('? matches exactly one character other than "/"', () => {
    expect(m('cam-?', 'cam-1')).toBe(true);
    expect(m('cam-?', 'cam-')).toBe(false);
    expect(m('cam-?', 'cam-12')).toBe(false);
    expect(m('a?b', 'a/b')).toBe(false);
    expect(m('a?b', 'a.b')).toBe(true);
    expect(m('??', 'ab')).toBe(true);
    expect(m('??', 'a')).toBe(false);
  });

  it('* matches any run within one segment, the empty run included', () => {
    expect(m('site-a/*', 'site-a/cam-1')).toBe(true);
    expect(m('site-a/*', 'site-a/')).toBe(true);
    expect(m('site-a/*', 'site-a')).toBe(false);
    expect(m('site-a/*', 'site-a/x/cam-1')).toBe(false);
    expect(m('site-a/*', 'site-b/cam-1')).toBe(false);
    expect(m('*', '')).toBe(true);
    expect(m('*', 'abc')).toBe(true);
    expect(m('*', 'a/b')).toBe(false);
    expect(m('*', '/')).toBe(false);
    expect(m('a*b', 'ab')).toBe(true);
    expect(m('a*b', 'axxb')).toBe(true);
    expect(m('a*b', 'ax/xb')).toBe(false);
    expect(m('a*b', 'axxbc')).toBe(false);
    expect(m('*/cam', 'site/cam')).toBe(true);
    expect(m('*/cam', 'a/site/cam')).toBe(false);
  });

  it('** matches any run across segments, the empty run included', () => {
    expect(m('site-a/**', 'site-a/x/cam-1')).toBe(true);
    expect(m('site-a/**', 'site-a/')).toBe(true);
    expect(m('site-a/**', 'site-a')).toBe(false);
    expect(m('site-a/**', 'site-ab/cam')).toBe(false);
    expect(m('**', '')).toBe(true);
    expect(m('**', 'a/b/c')).toBe(true);
    expect(m('**/cam', 'a/b/cam')).toBe(true);
    expect(m('**/cam', 'a/b/cam2')).toBe(false);
    expect(m('a**b', 'a/x/b')).toBe(true);
    expect(m('a**b', 'a/x/c')).toBe(false);
  });

  it('runs of wildcards: ** absorbs *, * after * adds nothing, and each still needs its literals', () => {
    expect(m('***', 'a/b')).toBe(true);
    expect(m('*/**', 'a/b/c')).toBe(true);
    expect(m('*/**', 'abc')).toBe(false);
    expect(m('*?', '')).toBe(false);
    expect(m('*?', 'a')).toBe(true);
    expect(m('*?*', 'a/')).toBe(false);
    expect(m('**?', '/')).toBe(false);
    expect(m('**?', '/a')).toBe(true);
    expect(m('a*', 'a/')).toBe(false);
    expect(m('a**', 'a/')).toBe(true);
    expect(new Glob('**'.repeat(10) + 'x').size).toBe(2);
    expect(new Glob('*'.repeat(3)).size).toBe(1);
    expect(new Glob('a*b').size).toBe(3);
  });

  it('the last literal after a run of wildcards must be at the end', () => {
    expect(m('**x', 'abcx')).toBe(true);
    expect(m('**x', 'axbc')).toBe(false);
    expect(m('*x*y', 'axbyc')).toBe(false);
    expect(m('*x*y', 'axby')).toBe(true);
  });

  it('inputs built to backtrack are decided (the work is bounded by pattern × input)', () => {
    // As regular expressions (^.*.*...x$, ^.*a.*a...b$) these take longer than the age of the universe.
    const id = 'a'.repeat(128);
    expect(m('**'.repeat(63) + 'x', id)).toBe(false);
    expect(m('**a'.repeat(42) + 'b', id)).toBe(false);
    expect(m('*a'.repeat(63) + 'b', id)).toBe(false);
    expect(m('**a'.repeat(42), id)).toBe(true);
    expect(m('?*'.repeat(64), id)).toBe(true);
    expect(m('?*'.repeat(64), id.slice(0, 63))).toBe(false);
  });
});
