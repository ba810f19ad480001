// The u8/u16/u32 fast paths (src/core/codec.ts encodeUint, canonicalUint) give exactly the general path's bytes,
// values and refusals.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { encode, decode, u8, u16, u32, struct, type Schema } from '../../src/core/codec.js';
import { CodecError } from '../../src/core/errors.js';

const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false, mapsAsObjects: true });
const SCHEMAS: [Schema<number>, number][] = [
  [u8, 0xff],
  [u16, 0xffff],
  [u32, 0xffff_ffff],
];

/** The same bytes decoded through a one-field struct: the general path (unpack, check, re-encode, compare). */
function general(schema: Schema<number>, b: Uint8Array): number {
  return decode(struct('W', [['v', schema]] as const), new Uint8Array([0x91, ...b]), 64).v;
}

function outcome(f: () => number): string {
  try {
    return `ok:${f()}`;
  } catch (e) {
    return e instanceof CodecError ? `err:${e.code}` : `throw:${String(e)}`;
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('small unsigned integer fast paths', () => {
  it("encode writes msgpackr's bytes and decode reads them back, at every boundary", () => {
    for (const [schema, max] of SCHEMAS) {
      const edges = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffff_ffff].filter((v) => v <= max);
      for (const v of edges) {
        const b = encode(schema, v);
        expect(hex(b), `${schema.name} ${v}`).toBe(hex(packr.pack(v)));
        expect(decode(schema, b, 16)).toBe(v);
        expect(general(schema, b)).toBe(v);
      }
    }
  });

  it('agrees with the general path on random values', () => {
    for (const [schema, max] of SCHEMAS) {
      fc.assert(
        fc.property(fc.integer({ min: 0, max }), (v) => {
          const b = encode(schema, v);
          expect(hex(b)).toBe(hex(packr.pack(v)));
          expect(decode(schema, b, 16)).toBe(v);
        }),
        { numRuns: 500 },
      );
    }
  });

  it('refuses exactly what the general path refuses: non-minimal forms, out of range, other types, bad lengths', () => {
    const cases = [
      [0xcc, 0x05], // 5 as uint8: not minimal
      [0xcd, 0x00, 0x80], // 128 as uint16
      [0xce, 0x00, 0x00, 0xff, 0xff], // 65535 as uint32
      [0xcf, 0, 0, 0, 0, 0, 0, 0, 1], // uint64
      [0xff], // negative fixint -1
      [0xd0, 0x85], // int8
      [0xcd, 0x01], // truncated
      [0x05, 0x00], // trailing byte
      [0xc3], // true
      [0xa1, 0x31], // "1"
      [],
    ].map((c) => new Uint8Array(c));
    for (const [schema] of SCHEMAS) {
      for (const b of cases) {
        const fast = outcome(() => decode(schema, b, 16));
        expect(fast.startsWith('err:'), `${schema.name} ${hex(b)} -> ${fast}`).toBe(true);
        expect(fast).toBe(outcome(() => general(schema, b)));
      }
    }
    // In range for u16 and u32, out of range for u8 (and u32's range for u16): the general path's OUT_OF_RANGE.
    expect(outcome(() => decode(u8, encode(u16, 0x100), 16))).toBe('err:OUT_OF_RANGE');
    expect(outcome(() => decode(u16, encode(u32, 0x10000), 16))).toBe('err:OUT_OF_RANGE');
    expect(() => encode(u8, 0x100)).toThrow(CodecError);
    expect(() => encode(u32, -1)).toThrow(CodecError);
  });
});
