// The u64 decoding fast path (src/core/codec.ts canonicalU64) gives exactly the general path's results and errors.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { encode, decode, u64, struct } from '../../src/core/codec.js';
import { CodecError } from '../../src/core/errors.js';

// The same value through a one-field struct takes the general path; unwrap it for comparison.
const Wrapped = struct('W', [['v', u64]] as const);
const general = (b: Uint8Array): bigint => decode(Wrapped, new Uint8Array([0x91, ...b]), 64).v;
const outcome = (f: () => bigint): string => {
  try {
    return `ok:${f()}`;
  } catch (e) {
    return e instanceof CodecError ? `err:${e.code}` : `throw:${String(e)}`;
  }
};

describe('u64 decoding fast path', () => {
  it('round-trips every u64 and agrees with the general path', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => {
        const b = encode(u64, v);
        expect(decode(u64, b, 16)).toBe(v);
        expect(general(b)).toBe(v);
      }),
      { numRuns: 2000 },
    );
    for (const v of [0n, 1n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n])
      expect(decode(u64, encode(u64, v), 16)).toBe(v);
  });

  it('refuses exactly what the general path refuses', () => {
    const packr = new Packr({ useRecords: false });
    const cases: Uint8Array[] = [
      new Uint8Array([0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // -1 as int64
      new Uint8Array([0xcf, 0, 0, 0, 0, 0, 0, 0, 5]), // 5 as uint64: not canonical
      new Uint8Array([0x05]), // fixint
      new Uint8Array([0xd3, 0, 0, 0, 0, 0, 0, 0]), // truncated
      new Uint8Array([0xd3, 0, 0, 0, 0, 0, 0, 0, 5, 0]), // trailing byte
      new Uint8Array(packr.pack(5)),
      new Uint8Array([0xc3, 0, 0, 0, 0, 0, 0, 0, 0]),
    ];
    for (const b of cases) {
      const fast = outcome(() => decode(u64, b, 16));
      expect(fast.startsWith('err:'), `${Buffer.from(b).toString('hex')} -> ${fast}`).toBe(true);
    }
  });
});
