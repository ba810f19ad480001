// The VM's fast paths give the same results as the plain ones: keys that carry their string, savepoints, number gas,
// the sender cache.
import { describe, it, expect } from 'vitest';
import { KeyBytes, MemoryKv, Overlay } from '../../src/state/kv.js';
import { stateKey, hexOf, memoByBytes, memoById, padded, internAddress, AddressIntern } from '../../src/vm/store.js';
import {
  allocBytes,
  allocLasting,
  utf8,
  toHex,
  readU64BE,
  writeU64BE,
  readU32BE,
  writeU32BE,
  readU16BE,
  writeU16BE,
} from '../../src/core/bytes.js';
import { Gas, OutOfGas } from '../../src/vm/gas.js';
import { InvariantError } from '../../src/core/errors.js';
import { Vm, loadNonce } from '../../src/vm/vm.js';
import { allModules } from '../../src/vm/registry.js';
import { keyPairFromLabel, addressOf } from '../../src/core/keys.js';
import { TransferArgs } from '../../src/vm/modules/asset.js';
import { TestChain, L, addr } from '../helpers/vm.js';
import { encode, decode, u64, struct, lazy } from '../../src/core/codec.js';
import { decimal } from '../../src/vm/util.js';
import { dueChunkKey, DUE_CHUNK_KEYS_MEMO } from '../../src/vm/modules/loan.js';
import { CodecError } from '../../src/core/errors.js';
import { Packr } from 'msgpackr';
import fc from 'fast-check';
import { encodeHistory, decodeHistory, HistorySchema } from '../../src/vm/modules/credit.js';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

describe('KeyBytes and stateKey', () => {
  it('are the UTF-8 bytes of the key text', () => {
    const a = addr(L.alice);
    const k = stateKey('asset', 'bal', 'CNY', a);
    expect(k).toBeInstanceOf(KeyBytes);
    expect(Buffer.from(k).toString('hex')).toBe(toHex(utf8(`asset/bal/CNY/${toHex(a)}`)));
    expect(Buffer.from(stateKey('loan', 'due', 7, 'count', 12n))).toEqual(Buffer.from('loan/due/7/count/12'));
  });

  it('falls back to plain UTF-8 bytes for non-ASCII text', () => {
    const k = stateKey('x', 'é');
    expect(k).not.toBeInstanceOf(KeyBytes);
    expect([...k]).toEqual([...utf8('x/é')]);
    const kv = new MemoryKv();
    kv.set(k, b('v'));
    expect(kv.get(utf8('x/é'))).toEqual(b('v'));
  });

  it('find the same entries as plain byte keys, in every layer', () => {
    const mem = new MemoryKv();
    mem.set(b('a/1'), b('one'));
    const o = new Overlay(mem);
    o.set(new KeyBytes('a/2'), b('two'));
    expect(o.get(new KeyBytes('a/1'))).toEqual(b('one'));
    expect(o.get(b('a/2'))).toEqual(b('two'));
    o.delete(new KeyBytes('a/1'));
    expect(o.get(b('a/1'))).toBeUndefined();
    expect(o.changes().map((c) => [Buffer.from(c.key).toString(), c.value && Buffer.from(c.value).toString()])).toEqual(
      [
        ['a/1', null],
        ['a/2', 'two'],
      ],
    );
  });

  it('a lasting key is the same key in shared memory, and finds the same entries', () => {
    const k = new KeyBytes('asset/bal/CNY/00ff');
    const l = KeyBytes.lasting(k) as KeyBytes;
    expect(l).toBeInstanceOf(KeyBytes);
    expect(l).not.toBe(k);
    expect(l.mapped).toBe(k.mapped);
    expect(Buffer.from(l).toString()).toBe('asset/bal/CNY/00ff');
    // A view of a shared slab, not memory of its own; the next lasting key does not overlap it.
    expect(l.buffer.byteLength).toBeGreaterThan(l.length);
    const l2 = KeyBytes.lasting(new KeyBytes('asset/bal/CNY/0100')) as KeyBytes;
    expect(l2.buffer).toBe(l.buffer);
    expect(l2.byteOffset).toBeGreaterThanOrEqual(l.byteOffset + l.length);
    expect(Buffer.from(l).toString()).toBe('asset/bal/CNY/00ff');
    const mem = new MemoryKv();
    mem.set(k, b('v'));
    const o = new Overlay(mem);
    expect(o.get(l)).toEqual(b('v'));
    o.set(l, b('w'));
    expect(o.get(k)).toEqual(b('w'));
    expect(o.changes().map((c) => Buffer.from(c.key).toString())).toEqual(['asset/bal/CNY/00ff']);
    // Keys that are not KeyBytes (non-ASCII text) come back as they are; lasting arrays start zeroed.
    const plain = utf8('credit/consent/é');
    expect(KeyBytes.lasting(plain)).toBe(plain);
    expect([...allocLasting(24)].every((x) => x === 0)).toBe(true);
  });

  it('slices are plain Uint8Arrays of the sliced bytes', () => {
    const k = new KeyBytes('abc/def');
    const s = k.subarray(4);
    expect(s.constructor).toBe(Uint8Array);
    expect(Buffer.from(s).toString()).toBe('def');
    expect(Buffer.from(k.slice(0, 3)).toString()).toBe('abc');
  });

  it('memoised key builders return the built key, also after the memo is dropped', () => {
    const byId = memoById((id) => stateKey('loan', 's', padded(id)), 4);
    for (let round = 0; round < 2; round++) {
      for (let id = 1n; id <= 10n; id++)
        expect(toHex(byId(id)), String(id)).toBe(toHex(stateKey('loan', 's', padded(id))));
    }
    expect(byId(10n)).toBe(byId(10n));
    // The last id is answered before the map: repeats, returns to an evicted id, ids past 2^53, numeric ids.
    for (const id of [3n, 3n, 7n, 3n, 2n ** 60n, 2n ** 60n, 2n ** 60n + 1n, 7n, 1n, 1n, 3n]) {
      expect(toHex(byId(id)), String(id)).toBe(toHex(stateKey('loan', 's', padded(id))));
    }
    const byDay = memoById((d: number) => stateKey('loan', 'due', padded(d, 8)), 2);
    for (const d of [5, 5, 6, 5, 7, 8, 5, 5])
      expect(toHex(byDay(d)), String(d)).toBe(toHex(stateKey('loan', 'due', padded(d, 8))));
    const byBytes = memoByBytes((a) => stateKey('credit', 'hist', a));
    const a = addr(L.alice);
    expect(byBytes(a)).toBe(byBytes(a));
    expect(toHex(byBytes(a))).toBe(toHex(stateKey('credit', 'hist', a)));
    expect(toHex(byBytes(addr(L.bob)))).toBe(toHex(stateKey('credit', 'hist', addr(L.bob))));
  });

  it('hexOf is the hex of the bytes', () => {
    const a = addr(L.bob);
    expect(hexOf(a)).toBe(toHex(a));
    expect(hexOf(a)).toBe(toHex(a));
  });
});

describe('Overlay savepoints', () => {
  function layer(): Overlay {
    const mem = new MemoryKv();
    mem.set(b('k/base'), b('base'));
    const o = new Overlay(mem);
    o.set(b('k/old'), b('old'));
    o.delete(b('k/gone'));
    return o;
  }
  const dump = (o: Overlay): string =>
    JSON.stringify(o.changes().map((c) => [toHex(c.key), c.value && toHex(c.value)]));

  it('rollback restores every entry exactly (set, overwritten, deleted, re-set)', () => {
    const o = layer();
    const before = dump(o);
    o.beginSavepoint();
    o.set(b('k/new'), b('1'));
    o.set(b('k/new'), b('2'));
    o.set(b('k/old'), b('changed'));
    o.delete(b('k/base'));
    o.set(b('k/gone'), b('back'));
    o.delete(b('k/new'));
    expect(o.get(b('k/base'))).toBeUndefined();
    o.rollbackSavepoint();
    expect(dump(o)).toBe(before);
    expect(o.get(b('k/base'))).toEqual(b('base'));
    expect(o.get(b('k/old'))).toEqual(b('old'));
    expect(o.get(b('k/gone'))).toBeUndefined();
    expect(o.get(b('k/new'))).toBeUndefined();
  });

  it('release keeps the writes', () => {
    const o = layer();
    o.beginSavepoint();
    o.set(b('k/new'), b('1'));
    o.delete(b('k/old'));
    o.releaseSavepoint();
    expect(o.get(b('k/new'))).toEqual(b('1'));
    expect(o.get(b('k/old'))).toBeUndefined();
  });

  it('a short savepoint after a long one undoes only its own writes (the log is reused), in both modes', () => {
    const cellMode = layer();
    const mapMode = new Overlay(layer());
    for (const o of [cellMode, mapMode]) {
      o.beginSavepoint();
      for (let i = 0; i < 20; i++) o.set(b(`k/long/${i}`), b(`v${i}`));
      o.releaseSavepoint();
      const before = dump(o);
      o.beginSavepoint();
      o.set(b('k/long/3'), b('changed'));
      o.rollbackSavepoint();
      expect(dump(o)).toBe(before);
      expect(o.get(b('k/long/3'))).toEqual(b('v3'));
      expect(o.get(b('k/long/19'))).toEqual(b('v19'));
    }
  });

  it('refuses nesting, unmatched ends and clear during a savepoint', () => {
    const o = layer();
    expect(() => o.releaseSavepoint()).toThrow(InvariantError);
    expect(() => o.rollbackSavepoint()).toThrow(InvariantError);
    o.beginSavepoint();
    expect(() => o.beginSavepoint()).toThrow(InvariantError);
    expect(() => o.clear()).toThrow(InvariantError);
    o.rollbackSavepoint();
    expect(o.get(b('k/old'))).toEqual(b('old'));
  });
});

describe('address interning', () => {
  const address = (n: number): Uint8Array => addressOf(keyPairFromLabel(`intern-${n}`).publicKey);

  it('gives one array per address value, a copy of the first one seen', () => {
    const a = address(1);
    const same = internAddress(a);
    expect(same).not.toBe(a);
    expect(same).toEqual(a);
    expect(internAddress(Uint8Array.from(a))).toBe(same);
    expect(internAddress(address(2))).not.toBe(same);
    // Only 20-byte addresses are interned; anything else comes back as it is.
    const key = keyPairFromLabel('intern-key').publicKey;
    expect(internAddress(key)).toBe(key);
  });

  it('stays within its bound; an evicted address gets a new array with the same bytes', () => {
    const table = new AddressIntern(3);
    const first = [0, 1, 2, 3, 4].map((n) => table.intern(address(100 + n)));
    expect(table.size).toBe(3);
    // 100 and 101 were evicted (oldest first); 102..104 are still interned.
    expect(table.intern(address(104))).toBe(first[4]);
    const again = table.intern(address(100));
    expect(again).toEqual(first[0]);
    expect(again).not.toBe(first[0]);
    expect(table.size).toBe(3);
  });
});

describe('Gas counts exactly', () => {
  it('sums charges and stops at the limit with used = limit', () => {
    const g = new Gas(10_000n);
    g.charge(1_234n);
    g.chargeUnits(5_000);
    expect(g.used).toBe(6_234n);
    g.chargeUnits(3_766);
    expect(g.used).toBe(10_000n);
    expect(() => g.chargeUnits(1)).toThrow(OutOfGas);
    expect(g.used).toBe(10_000n);
  });

  it('handles the largest u64 limit', () => {
    const g = new Gas((1n << 64n) - 1n);
    g.chargeUnits(2 ** 40);
    g.charge(3n);
    expect(g.used).toBe((1n << 40n) + 3n);
  });
});

describe('sender cache', () => {
  it('nonces stay right for a sender evicted from the cache', () => {
    const c = new TestChain({ vm: new Vm(allModules(), { senderCacheMax: 4 }) });
    const send = (label: string): string =>
      c.send(label, 'asset', 'transfer', TransferArgs, { asset: 'CNY', to: addr(L.bob), amount: 1n, memo: '' }).code;
    expect(send(L.alice)).toBe('OK');
    // More distinct senders than the cache holds: their txs fail (no funds) but advance their nonces.
    for (let i = 0; i <= 8; i++) {
      const label = `fill-${i}`;
      expect(send(label)).toBe('asset.INSUFFICIENT_FUNDS');
    }
    expect(loadNonce(c.state, addressOf(keyPairFromLabel('fill-0').publicKey))).toBe(1n);
    expect(send(L.alice)).toBe('OK');
    expect(c.nonce(L.alice)).toBe(2n);
  });
});

describe('sender cache buckets', () => {
  it('keeps senders whose keys share the bucket bits apart, through eviction', () => {
    const c = new TestChain({ vm: new Vm(allModules(), { senderCacheMax: 3 }) });
    // Six made-up public keys with the same first four bytes: one bucket. Signatures are not checked here
    // (signatureVerified), so each is a distinct sender whose nonce must be tracked on its own.
    const keys = Array.from({ length: 6 }, (_, i) => {
      const k = new Uint8Array(32).fill(7);
      k[31] = i;
      return k;
    });
    const body = (pk: Uint8Array, nonce: bigint) => ({
      chainId: c.genesis.chainId,
      sender: pk,
      nonce,
      gasLimit: 100_000n,
      module: 'asset',
      op: 'transfer',
      args: encode(TransferArgs, { asset: 'CNY', to: addr(L.bob), amount: 1n, memo: '' }),
    });
    const run = (pk: Uint8Array, nonce: bigint): string =>
      c.vm.execute(
        c.state,
        c.block(),
        { body: body(pk, nonce), signature: new Uint8Array(64) },
        { txBytes: 100, txHash: new Uint8Array(32), signatureVerified: true },
      ).code;
    for (let round = 0n; round < 3n; round++) {
      for (const pk of keys) {
        expect(run(pk, round + 1n), `round ${round}: a stale nonce is refused`).toBe('vm.BAD_NONCE');
        expect(run(pk, round), `round ${round}`).toBe('asset.INSUFFICIENT_FUNDS');
      }
    }
    for (const pk of keys) expect(loadNonce(c.state, addressOf(pk))).toBe(3n);
    expect(c.vm.senderCacheSize()).toBe(3);
    for (const bad of [0, -1, 1.5])
      expect(() => new Vm(allModules(), { senderCacheMax: bad }), String(bad)).toThrow(RangeError);
  });
});

describe('allocBytes', () => {
  it('gives zeroed arrays of the asked length that never share bytes, small, slab-carved and large', () => {
    const sizes = [0, 1, 5, 9, 64, 65, 134, 720, 1024, 1025, 5000];
    const arrays: Uint8Array[] = [];
    // Enough rounds to fill more than one slab of each size (16 KB of arrays up to 64 bytes, 64 KB up to 1 KB).
    for (let round = 0; round < 200; round++) {
      for (const n of sizes) {
        const a = allocBytes(n);
        expect(a.length).toBe(n);
        expect(a.constructor).toBe(Uint8Array);
        expect(
          a.every((x) => x === 0),
          `fresh ${n}`,
        ).toBe(true);
        a.fill((round % 250) + 1);
        arrays.push(a);
      }
    }
    // Every array still holds exactly what was written into it (no overlap within a slab).
    arrays.forEach((a, i) => {
      const round = Math.floor(i / sizes.length);
      expect(
        a.every((x) => x === (round % 250) + 1),
        `array ${i}`,
      ).toBe(true);
    });
  });
});

describe('big-endian integer helpers', () => {
  it('read and write what DataView does, and refuse values outside u64', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: 0, max: 8 }), (v, off) => {
        const a = new Uint8Array(16);
        writeU64BE(a, off, v);
        const dv = new DataView(new ArrayBuffer(16));
        dv.setBigUint64(off, v);
        expect(toHex(a)).toBe(toHex(new Uint8Array(dv.buffer)));
        expect(readU64BE(a, off)).toBe(v);
      }),
    );
    // The fast paths' edges (zero, 32 bits, 2^53) and small values, which uniform u64s almost never hit.
    const edges = [
      0n,
      1n,
      2n ** 31n - 1n,
      2n ** 31n,
      2n ** 32n - 1n,
      2n ** 32n,
      2n ** 32n + 1n,
      2n ** 53n - 1n,
      2n ** 53n,
      2n ** 64n - 1n,
    ];
    const small = fc.oneof(fc.constantFrom(...edges), fc.bigInt({ min: 0n, max: 2n ** 34n }));
    fc.assert(
      fc.property(small, fc.integer({ min: 0, max: 8 }), (v, off) => {
        const a = new Uint8Array(16).fill(0xaa);
        writeU64BE(a, off, v);
        const dv = new DataView(new ArrayBuffer(16));
        new Uint8Array(dv.buffer).fill(0xaa);
        dv.setBigUint64(off, v);
        expect(toHex(a)).toBe(toHex(new Uint8Array(dv.buffer)));
        expect(readU64BE(a, off)).toBe(v);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (v) => {
        const a = new Uint8Array(4);
        writeU32BE(a, 0, v);
        expect(readU32BE(a, 0)).toBe(v);
        expect(new DataView(a.buffer).getUint32(0)).toBe(v);
        writeU16BE(a, 0, v & 0xffff);
        expect(readU16BE(a, 0)).toBe(v & 0xffff);
      }),
    );
    for (const bad of [-1n, 2n ** 64n])
      expect(() => writeU64BE(new Uint8Array(8), 0, bad), String(bad)).toThrow(RangeError);
  });
});

describe('u64 encoding fast path', () => {
  // The general path: msgpackr with the codec's options.
  const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false, mapsAsObjects: true });
  const general = (v: bigint): string => toHex(packr.pack(v));
  const edges = [
    0n,
    1n,
    127n,
    128n,
    255n,
    65_535n,
    2n ** 32n,
    2n ** 53n + 1n,
    2n ** 63n - 1n,
    2n ** 63n,
    2n ** 64n - 1n,
  ];

  it('writes the bytes msgpackr writes, and they decode back', () => {
    for (const v of edges) {
      expect(toHex(encode(u64, v)), String(v)).toBe(general(v));
      expect(decode(u64, encode(u64, v), 16), String(v)).toBe(v);
    }
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => toHex(encode(u64, v)) === general(v)));
  });

  it('decoding still refuses non-canonical and negative 9-byte encodings', () => {
    const small = Uint8Array.from([0xcf, 0, 0, 0, 0, 0, 0, 0, 5]); // uint64 tag for a value below 2^63
    const negative = Uint8Array.from([0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    for (const bad of [small, negative]) expect(() => decode(u64, bad, 16), toHex(bad)).toThrow(CodecError);
  });

  it('refuses values outside u64 as before', () => {
    for (const v of [-1n, 2n ** 64n]) expect(() => encode(u64, v), String(v)).toThrow(CodecError);
    expect(() => encode(u64, 5 as unknown as bigint)).toThrow(CodecError);
  });
});

describe('all-u64 struct decoding fast path', () => {
  const Fast = struct('pair', [
    ['a', u64],
    ['b', u64],
  ] as const);
  // The same format through the general path: a lazy field makes the struct not all-u64 for the fast path.
  const General = struct('pair', [
    ['a', u64],
    ['b', lazy('u64', () => u64)],
  ] as const);
  const outcome = (schema: typeof Fast, bytes: Uint8Array): string => {
    try {
      return JSON.stringify(decode(schema, bytes, 64), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    } catch (e) {
      return e instanceof CodecError ? `error ${e.code}` : `throw ${String(e)}`;
    }
  };

  it('decodes and refuses exactly as the general path', () => {
    const value = fc.record({
      a: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      b: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    });
    fc.assert(
      fc.property(value, fc.nat({ max: 18 }), fc.nat({ max: 255 }), (v, at, byte) => {
        const good = encode(Fast, v);
        expect(toHex(good)).toBe(toHex(encode(General, v)));
        expect(outcome(Fast, good)).toBe(outcome(General, good));
        const bad = Uint8Array.from(good);
        bad[at] = byte;
        expect(outcome(Fast, bad)).toBe(outcome(General, bad));
        expect(outcome(Fast, good.subarray(0, at))).toBe(outcome(General, good.subarray(0, at)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('credit history fast paths', () => {
  const count = fc.oneof(fc.nat({ max: 130 }), fc.nat({ max: 0xffff_ffff }));
  const history = fc.record({ onTime: count, late: count, defaulted: count, paidOff: count });

  it('write and read the codec bytes and values', () => {
    fc.assert(
      fc.property(history, (h) => {
        expect(toHex(encodeHistory(h))).toBe(toHex(encode(HistorySchema, h)));
        expect(decodeHistory(encode(HistorySchema, h))).toEqual(h);
      }),
      { numRuns: 300 },
    );
  });

  it('refuse what the codec refuses', () => {
    const nonMinimal = Uint8Array.from([0x94, 0xcc, 5, 0, 0, 0]); // 5 as uint8: not canonical
    const short = Uint8Array.from([0x94, 1, 2, 3]);
    const trailing = Uint8Array.from([0x94, 1, 2, 3, 4, 5]);
    for (const bad of [nonMinimal, short, trailing]) expect(() => decodeHistory(bad), toHex(bad)).toThrow(CodecError);
  });
});

describe('due-index chunk keys', () => {
  it("are the built keys, memoised (the same array) only for a day's first DUE_CHUNK_KEYS_MEMO chunks", () => {
    const day = 20_786;
    for (const c of [0, 1, DUE_CHUNK_KEYS_MEMO - 1, DUE_CHUNK_KEYS_MEMO, 5_000]) {
      const k = dueChunkKey(day, c);
      expect(toHex(k), String(c)).toBe(toHex(stateKey('loan', 'due', padded(day, 8), padded(c, 8))));
      expect(dueChunkKey(day, c) === k, String(c)).toBe(c < DUE_CHUNK_KEYS_MEMO);
    }
    expect(toHex(dueChunkKey(day + 1, 0))).toBe(toHex(stateKey('loan', 'due', padded(day + 1, 8), padded(0, 8))));
  });
});

describe('decimal', () => {
  it('is String(v) for every integer, through a number only where that is exact', () => {
    const edges = [
      0n,
      1n,
      -1n,
      2n ** 53n - 1n,
      2n ** 53n,
      2n ** 53n + 1n,
      -(2n ** 53n),
      2n ** 63n,
      2n ** 64n - 1n,
      2n ** 64n,
      -(2n ** 70n),
    ];
    for (const v of edges) expect(decimal(v), String(v)).toBe(String(v));
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }), (v) => decimal(v) === String(v)),
      { numRuns: 2000 },
    );
  });
});
