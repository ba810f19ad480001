// The canonical codec: round trips and every kind of rejection, with the field named.
import { describe, it, expect } from 'vitest';
import { encode, decode, struct, u8, u32, u64, bytes, str, list, optional } from '../../src/core/codec.js';
import { CodecError } from '../../src/core/errors.js';
import { Packr } from 'msgpackr';

const S = struct('S', [
  ['a', u8],
  ['b', u64],
  ['c', bytes({ exact: 4 })],
  ['d', str({ max: 8 })],
  ['e', list(u32, { max: 3 })],
  ['f', optional(u64)],
] as const);
const good = { a: 7, b: 1n << 60n, c: new Uint8Array([1, 2, 3, 4]), d: 'héllo', e: [1, 2], f: null };
const raw = new Packr({ useRecords: false });

function codeOf(fn: () => unknown): [string, string] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CodecError);
    return [(e as CodecError).code, (e as CodecError).field];
  }
  throw new Error('expected a CodecError');
}

describe('codec', () => {
  it('round trips a struct as a fixed-order array', () => {
    const b = encode(S, good);
    expect(decode(S, b, 1000)).toEqual(good);
    expect(Array.isArray(raw.unpack(Buffer.from(b)))).toBe(true);
  });

  it('rejects trailing bytes', () => {
    const b = encode(S, good);
    expect(codeOf(() => decode(S, new Uint8Array([...b, 0]), 1000))[0]).toBe('MALFORMED');
  });

  it('rejects wrong arity naming the struct', () => {
    const b = raw.pack([7, 1n, Buffer.alloc(4), 'x', []]);
    expect(codeOf(() => decode(S, b, 1000))).toEqual(['WRONG_ARITY', 'S']);
  });

  it('rejects wrong types naming the field', () => {
    const b = raw.pack([7, 'x', Buffer.alloc(4), 'x', [], null]);
    expect(codeOf(() => decode(S, b, 1000))).toEqual(['WRONG_TYPE', 'S.b']);
  });

  it('rejects oversize fields and oversize input', () => {
    const b = raw.pack([7, 1n, Buffer.alloc(4), 'x'.repeat(9), [], null]);
    expect(codeOf(() => decode(S, b, 1000))).toEqual(['OVERSIZE', 'S.d']);
    const c = raw.pack([7, 1n, Buffer.alloc(4), 'x', [1, 2, 3, 4], null]);
    expect(codeOf(() => decode(S, c, 1000))).toEqual(['OVERSIZE', 'S.e']);
    expect(codeOf(() => decode(S, encode(S, good), 5))[0]).toBe('OVERSIZE');
  });

  it('rejects a non-canonical integer encoding', () => {
    // u8 7 written as a 2-byte uint8 (0xcc 0x07) instead of a positive fixint
    const canonical = Buffer.from(encode(S, good));
    const idx = canonical.indexOf(0x07);
    const alt = Buffer.concat([canonical.subarray(0, idx), Buffer.from([0xcc, 0x07]), canonical.subarray(idx + 1)]);
    expect(codeOf(() => decode(S, alt, 1000))[0]).toBe('NON_CANONICAL');
  });

  it('rejects malformed msgpack and deep nesting without crashing', () => {
    expect(codeOf(() => decode(S, new Uint8Array([0x96, 0x07]), 1000))[0]).toBe('MALFORMED'); // truncated
    expect(['MALFORMED', 'WRONG_TYPE']).toContain(codeOf(() => decode(S, new Uint8Array([0xc1]), 1000))[0]);
    expect(codeOf(() => decode(S, new Uint8Array(200_000).fill(0x91), 300_000))[0]).toBe('MALFORMED');
    expect(codeOf(() => decode(S, new Uint8Array(0), 1000))[0]).toBe('MALFORMED');
  });

  it('refuses to encode out-of-range values', () => {
    expect(codeOf(() => encode(S, { ...good, a: 256 }))).toEqual(['OUT_OF_RANGE', 'S.a']);
    expect(codeOf(() => encode(S, { ...good, b: -1n }))).toEqual(['OUT_OF_RANGE', 'S.b']);
  });
});
