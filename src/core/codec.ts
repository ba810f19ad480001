// The one canonical codec: msgpack of fixed-order arrays, defined by schemas that give encode, decode and limits.
//
// Canonical bytes: every schema value has exactly one encoding. Decoding re-encodes what it read and compares the
// bytes, so trailing bytes, non-minimal integers, maps, floats or any other alternative spelling are refused.
// u64 values are always encoded as 64-bit msgpack integers (bigint), small integers (u8/u16/u32) minimally.
import { Packr } from 'msgpackr';
import { CodecError } from './errors.js';
import { allocBytes, equalBytes, readU64BE, writeU64BE } from './bytes.js';

const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false, mapsAsObjects: true });

/** A schema knows how to turn a typed value into a msgpack-able value and back, with validation. */
export interface Schema<T> {
  readonly name: string;
  toWire(value: T, path: string): unknown;
  fromWire(raw: unknown, path: string): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function fail(code: CodecError['code'], path: string, message: string): never {
  throw new CodecError(code, path, message);
}

/**
 * What encode and decode know about a schema's fast path, kept on the schema object itself (a property load, where a
 * Map or WeakMap lookup per call cost more than the fast path saved on small values): the largest value of a small
 * unsigned schema (encodeUint), or the field names of an all-u64 struct (decodeU64Struct).
 */
interface FastPaths {
  readonly uintMax?: number;
  readonly u64Fields?: readonly string[];
}

function uint(bits: 8 | 16 | 32): Schema<number> {
  const max = 2 ** bits - 1;
  const schema: Schema<number> & FastPaths = {
    uintMax: max,
    name: `u${bits}`,
    toWire(v, path) {
      if (!Number.isInteger(v) || v < 0 || v > max) fail('OUT_OF_RANGE', path, `expected u${bits}, got ${String(v)}`);
      return v;
    },
    fromWire(raw, path) {
      if (typeof raw !== 'number' || !Number.isInteger(raw)) fail('WRONG_TYPE', path, `expected u${bits} integer`);
      if (raw < 0 || raw > max) fail('OUT_OF_RANGE', path, `expected u${bits}, got ${raw}`);
      return raw;
    },
  };
  return schema;
}

export const u8 = uint(8);
export const u16 = uint(16);
export const u32 = uint(32);

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

export const u64: Schema<bigint> = {
  name: 'u64',
  toWire(v, path) {
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX)
      fail('OUT_OF_RANGE', path, `expected u64 bigint, got ${String(v)}`);
    return v;
  },
  fromWire(raw, path) {
    if (typeof raw !== 'bigint') fail('WRONG_TYPE', path, 'expected a 64-bit integer');
    if (raw < 0n) fail('OUT_OF_RANGE', path, 'expected a non-negative integer');
    return raw;
  },
};

export const i64: Schema<bigint> = {
  name: 'i64',
  toWire(v, path) {
    if (typeof v !== 'bigint' || v < I64_MIN || v > I64_MAX)
      fail('OUT_OF_RANGE', path, `expected i64 bigint, got ${String(v)}`);
    return v;
  },
  fromWire(raw, path) {
    if (typeof raw !== 'bigint') fail('WRONG_TYPE', path, 'expected a 64-bit integer');
    return raw;
  },
};

export const bool: Schema<boolean> = {
  name: 'bool',
  toWire(v, path) {
    if (typeof v !== 'boolean') fail('WRONG_TYPE', path, 'expected a boolean');
    return v;
  },
  fromWire(raw, path) {
    if (typeof raw !== 'boolean') fail('WRONG_TYPE', path, 'expected a boolean');
    return raw;
  },
};

/** Byte string of at most `max` bytes, or exactly `exact` bytes. */
export function bytes(opts: { max: number } | { exact: number }): Schema<Uint8Array> {
  const exact = 'exact' in opts ? opts.exact : undefined;
  const max = 'exact' in opts ? opts.exact : opts.max;
  const check = (b: Uint8Array, path: string): void => {
    if (exact !== undefined && b.length !== exact)
      fail('WRONG_ARITY', path, `expected ${exact} bytes, got ${b.length}`);
    if (b.length > max) fail('OVERSIZE', path, `at most ${max} bytes, got ${b.length}`);
  };
  return {
    name: exact !== undefined ? `bytes${exact}` : `bytes<=${max}`,
    toWire(v, path) {
      if (!(v instanceof Uint8Array)) fail('WRONG_TYPE', path, 'expected bytes');
      check(v, path);
      return v;
    },
    fromWire(raw, path) {
      if (!(raw instanceof Uint8Array)) fail('WRONG_TYPE', path, 'expected bytes');
      check(raw, path);
      return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    },
  };
}

/** UTF-8 string of at most `max` bytes; an optional pattern must match the whole string. */
export function str(opts: { max: number; pattern?: RegExp }): Schema<string> {
  const check = (s: string, path: string): void => {
    if (Buffer.byteLength(s, 'utf8') > opts.max) fail('OVERSIZE', path, `at most ${opts.max} bytes of text`);
    if (opts.pattern && !opts.pattern.test(s)) fail('OUT_OF_RANGE', path, `does not match ${String(opts.pattern)}`);
  };
  return {
    name: `str<=${opts.max}`,
    toWire(v, path) {
      if (typeof v !== 'string') fail('WRONG_TYPE', path, 'expected a string');
      check(v, path);
      return v;
    },
    fromWire(raw, path) {
      if (typeof raw !== 'string') fail('WRONG_TYPE', path, 'expected a string');
      check(raw, path);
      return raw;
    },
  };
}

/** One of a fixed set of strings. */
export function oneOf<const V extends string>(values: readonly V[]): Schema<V> {
  const set = new Set<string>(values);
  const check = (v: unknown, path: string): V => {
    if (typeof v !== 'string') fail('WRONG_TYPE', path, 'expected a string');
    if (!set.has(v)) fail('OUT_OF_RANGE', path, `expected one of ${values.join(', ')}`);
    return v as V;
  };
  return { name: `oneOf(${values.join('|')})`, toWire: check, fromWire: check };
}

export function list<T>(item: Schema<T>, opts: { max: number }): Schema<T[]> {
  return {
    name: `list<${item.name}>`,
    toWire(v, path) {
      if (!Array.isArray(v)) fail('WRONG_TYPE', path, 'expected a list');
      if (v.length > opts.max) fail('OVERSIZE', path, `at most ${opts.max} items, got ${v.length}`);
      return v.map((x, i) => item.toWire(x, `${path}[${i}]`));
    },
    fromWire(raw, path) {
      if (!Array.isArray(raw)) fail('WRONG_TYPE', path, 'expected a list');
      if (raw.length > opts.max) fail('OVERSIZE', path, `at most ${opts.max} items, got ${raw.length}`);
      return raw.map((x, i) => item.fromWire(x, `${path}[${i}]`));
    },
  };
}

/** A value or null. */
export function optional<T>(inner: Schema<T>): Schema<T | null> {
  return {
    name: `optional<${inner.name}>`,
    toWire(v, path) {
      return v === null ? null : inner.toWire(v, path);
    },
    fromWire(raw, path) {
      return raw === null ? null : inner.fromWire(raw, path);
    },
  };
}

type Fields = readonly (readonly [string, Schema<unknown>])[];
type StructOf<F extends Fields> = { [K in F[number] as K[0]]: Infer<K[1]> };

/**
 * Structs whose fields are all u64 (most ops' arguments: ids and amounts) have one canonical layout: a fixarray of
 * n 9-byte u64 encodings. decode reads that layout directly (same results and refusals as the general path, which
 * it falls back to for anything else; tested). The field names are the schema's `u64Fields` (FastPaths).
 */
function decodeU64Struct(fieldNames: readonly string[], data: Uint8Array): Record<string, bigint> | undefined {
  const n = fieldNames.length;
  if (data.length !== 1 + 9 * n || data[0] !== (0x90 | n)) return undefined;
  const out: Record<string, bigint> = {};
  for (let i = 0; i < n; i++) {
    const v = canonicalU64At(data, 1 + 9 * i);
    if (v === undefined) return undefined;
    out[fieldNames[i]!] = v;
  }
  return out;
}

/** A record encoded as a fixed-order array of its fields: the field order is the format. */
export function struct<const F extends Fields>(name: string, fields: F): Schema<StructOf<F>> {
  const allU64 = fields.length > 0 && fields.length < 16 && fields.every(([, s]) => s === (u64 as Schema<unknown>));
  return structSchema(name, fields, allU64 ? fields.map(([k]) => k) : undefined);
}

function structSchema<const F extends Fields>(
  name: string,
  fields: F,
  u64Fields: readonly string[] | undefined,
): Schema<StructOf<F>> {
  const schema: Schema<StructOf<F>> & FastPaths = {
    u64Fields,
    name,
    toWire(v, path) {
      if (typeof v !== 'object' || v === null) fail('WRONG_TYPE', path, `expected ${name}`);
      const rec = v as Record<string, unknown>;
      return fields.map(([k, s]) => s.toWire(rec[k], `${path}.${k}`));
    },
    fromWire(raw, path) {
      if (!Array.isArray(raw)) fail('WRONG_TYPE', path, `expected ${name} as a list of ${fields.length} fields`);
      if (raw.length !== fields.length)
        fail('WRONG_ARITY', path, `expected ${fields.length} fields, got ${raw.length}`);
      const out: Record<string, unknown> = {};
      fields.forEach(([k, s], i) => {
        out[k] = s.fromWire(raw[i], `${path}.${k}`);
      });
      return out as StructOf<F>;
    },
  };
  return schema;
}

/** A schema whose definition refers to itself or to a later one. */
export function lazy<T>(name: string, get: () => Schema<T>): Schema<T> {
  return {
    name,
    toWire: (v, p) => get().toWire(v, p),
    fromWire: (r, p) => get().fromWire(r, p),
  };
}

/**
 * Fast path for encoding a u64 (balances, nonces, counters): the bytes msgpackr writes for a bigint, int64 (0xd3)
 * below 2^63 and uint64 (0xcf) from 2^63, without a pack call (the same bytes; tested against the general path).
 */
const TWO_63 = 1n << 63n;

function encodeU64(v: bigint): Uint8Array {
  const out = allocBytes(9);
  // int64 (0xd3) below 2^63, uint64 (0xcf) from 2^63: the same big-endian digits either way (toWire checked the range).
  out[0] = v < TWO_63 ? 0xd3 : 0xcf;
  writeU64BE(out, 1, v);
  return out;
}

/**
 * Fast path for a u8/u16/u32 (counters, days, indexes): msgpack's minimal positive integer, the bytes msgpackr
 * writes for it (fixint below 0x80, then uint8 0xcc, uint16 0xcd, uint32 0xce, big-endian), without a pack call
 * and its buffer (tested against the general path at every boundary).
 */
function encodeUint(v: number): Uint8Array {
  let out: Uint8Array;
  if (v < 0x80) {
    out = allocBytes(1);
    out[0] = v;
  } else if (v < 0x100) {
    out = allocBytes(2);
    out[0] = 0xcc;
    out[1] = v;
  } else if (v < 0x10000) {
    out = allocBytes(3);
    out[0] = 0xcd;
    out[1] = v >>> 8;
    out[2] = v & 0xff;
  } else {
    out = allocBytes(5);
    out[0] = 0xce;
    out[1] = v >>> 24;
    out[2] = (v >>> 16) & 0xff;
    out[3] = (v >>> 8) & 0xff;
    out[4] = v & 0xff;
  }
  return out;
}

/** The value when `data` is exactly encodeUint's minimal form, else undefined (the general path decides and reports). */
function canonicalUint(data: Uint8Array): number | undefined {
  const n = data.length;
  const tag = data[0]!;
  if (n === 1) return tag < 0x80 ? tag : undefined;
  if (n === 2) return tag === 0xcc && data[1]! >= 0x80 ? data[1] : undefined;
  if (n === 3) {
    const v = (data[1]! << 8) | data[2]!;
    return tag === 0xcd && v >= 0x100 ? v : undefined;
  }
  if (n === 5) {
    const v = ((data[1]! << 24) | (data[2]! << 16) | (data[3]! << 8) | data[4]!) >>> 0;
    return tag === 0xce && v >= 0x10000 ? v : undefined;
  }
  return undefined;
}

export function encode<T>(schema: Schema<T>, value: T): Uint8Array {
  const wire = schema.toWire(value, schema.name);
  if (schema === (u64 as Schema<unknown>)) return encodeU64(wire as bigint);
  if ((schema as FastPaths).uintMax !== undefined) return encodeUint(wire as number);
  const b = packr.pack(wire);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Fast path for the most common state value (balances, nonces, counters): a u64 whose canonical encoding is
 * msgpack int64 (0xd3) for values below 2^63 and uint64 (0xcf) from 2^63, 9 bytes. Returns the value when `data` is
 * exactly that encoding, else undefined and the general path decides (and reports the error). Same result as the
 * general path, without unpacking and re-encoding (which dominated balance reads in benchmarks/vm.ts).
 */
function canonicalU64(data: Uint8Array): bigint | undefined {
  return data.length === 9 ? canonicalU64At(data, 0) : undefined;
}

/** canonicalU64 of the 9 bytes at `offset` (the caller checks they are there). */
function canonicalU64At(data: Uint8Array, offset: number): bigint | undefined {
  const tag = data[offset];
  if (tag !== 0xd3 && tag !== 0xcf) return undefined;
  // int64 must be non-negative (top bit clear); uint64 is only canonical from 2^63 (top bit set).
  if (data[offset + 1]! >= 0x80 !== (tag === 0xcf)) return undefined;
  return readU64BE(data, offset + 1);
}

/**
 * Decodes canonical bytes. Refuses input over `maxBytes`, malformed msgpack, trailing bytes, wrong arity and types,
 * and any encoding other than the canonical one, with a CodecError naming the field.
 */
export function decode<T>(schema: Schema<T>, data: Uint8Array, maxBytes: number): T {
  if (!(data instanceof Uint8Array)) fail('WRONG_TYPE', schema.name, 'expected bytes');
  if (data.length > maxBytes) fail('OVERSIZE', schema.name, `at most ${maxBytes} bytes, got ${data.length}`);
  if (schema === (u64 as Schema<unknown>)) {
    const v = canonicalU64(data);
    if (v !== undefined) return v as T;
  }
  const uintMax = (schema as FastPaths).uintMax;
  if (uintMax !== undefined) {
    const v = canonicalUint(data);
    if (v !== undefined && v <= uintMax) return v as T;
  }
  const u64Fields = (schema as FastPaths).u64Fields;
  if (u64Fields !== undefined) {
    const v = decodeU64Struct(u64Fields, data);
    if (v !== undefined) return v as T;
  }
  let raw: unknown;
  try {
    raw = packr.unpack(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  } catch (e) {
    fail('MALFORMED', schema.name, `not valid msgpack (${(e as Error).message})`);
  }
  const value = schema.fromWire(raw, schema.name);
  let again: Uint8Array;
  try {
    again = encode(schema, value);
  } catch {
    fail('NON_CANONICAL', schema.name, 'value cannot be re-encoded');
  }
  if (!equalBytes(again, data)) fail('NON_CANONICAL', schema.name, 'bytes are not the canonical encoding');
  return value;
}
