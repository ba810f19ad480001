// Byte helpers: hex, concatenation, comparison. One place, so nobody writes them twice.

export type Bytes = Uint8Array;

const HEX_RE = /^(0x)?([0-9a-fA-F]{2})*$/;

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Parses lowercase or uppercase hex with an optional 0x prefix; throws TypeError on anything else. */
export function fromHex(s: string): Uint8Array {
  if (typeof s !== 'string' || !HEX_RE.test(s)) throw new TypeError('not a hex string of whole bytes');
  const body = s.startsWith('0x') ? s.slice(2) : s;
  return new Uint8Array(Buffer.from(body, 'hex'));
}

export function isHex(s: unknown, byteLength?: number): s is string {
  if (typeof s !== 'string' || !HEX_RE.test(s)) return false;
  const body = s.startsWith('0x') ? s.slice(2) : s;
  return byteLength === undefined || body.length === byteLength * 2;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  // Addresses and keys (20-64 bytes) compare faster in a loop than through two Buffer views.
  if (n <= 64) {
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/**
 * A fresh zeroed byte array of `n` bytes, carved from a shared slab up to 1 KB (Node's Buffer pool does the same):
 * - 65 bytes to 1 KB from 64 KB slabs. V8 gives a larger typed array a backing store of its own, which cost ~1-2 µs
 *   per allocation here against ~70 ns (every repayment encodes a 134-byte loan state).
 * - up to 64 bytes from 16 KB slabs. V8 would keep such an array on its heap as three objects (the array, its
 *   ArrayBuffer and the bytes, ~225 B); a view is one (~100 B) and as fast to make. State values (u64 encodings,
 *   histories) live until their block commits and often long after: in benchmarks/vm.ts this cut the bytes the
 *   young-generation GC promoted per repayment from ~1,900 to ~1,100, and the scavenge pauses by about a quarter.
 * The slabs are large because starting one is not cheap: a new ArrayBuffer (its zeroed backing store, V8's tracking
 * of it, its sweeping later) took as many profiler ticks as carving all the views from it when the slabs were 2 KB
 * and 16 KB (a repayment fills ~60 small bytes and one 136-byte loan state); 16 KB and 64 KB did months 2-12 of
 * benchmarks/vm.ts 2-15% faster in concurrent pinned pairs, with the same memory at the end of the run.
 * A slab lives while any array in it does, so a long-lived array can hold up to one slab (16 KB or 64 KB). Stores
 * that keep values for long copy such views into memory of their own (ChainStore's value cache does); the in-memory
 * MemoryKv keeps them as given. The arrays are plain Uint8Arrays; callers must not rely on `.buffer` being theirs.
 */
export function allocBytes(n: number): Uint8Array<ArrayBuffer> {
  if (n <= 64) return SMALL_SLABS.take(n);
  if (n <= 1024) return SLABS.take(n);
  return new Uint8Array(n);
}

/** Carves arrays from the current slab of `size` bytes, starting a new one when it is full (8-byte aligned). */
class Slabs {
  private slab: ArrayBuffer;
  private used = 0;

  constructor(private readonly size: number) {
    this.slab = new ArrayBuffer(size);
  }

  take(n: number): Uint8Array<ArrayBuffer> {
    if (this.used + n > this.size) {
      this.slab = new ArrayBuffer(this.size);
      this.used = 0;
    }
    const out = new Uint8Array(this.slab, this.used, n);
    this.used += (n + 7) & ~7;
    return out;
  }
}

const SMALL_SLABS = new Slabs(16 * 1024);
const SLABS = new Slabs(64 * 1024);
const LASTING = new Slabs(16 * 1024);

/**
 * A fresh zeroed byte array for a long-lived cache entry (an interned address, a memoised key, a cached public key),
 * carved from slabs only such arrays use, up to 1 KB. One heap object instead of three for a small array, and
 * since these arrays live about as long as each other, a slab is not kept alive by one survivor among garbage (as
 * it would be if short-lived arrays shared it). Do not use it for values that come and go.
 */
export function allocLasting(n: number): Uint8Array<ArrayBuffer> {
  return n <= 1024 ? LASTING.take(n) : new Uint8Array(n);
}

const TWO_32 = 4_294_967_296;
const TWO_53 = 2n ** 53n;
const U64_LIMIT = 2n ** 64n;
const SCRATCH = new DataView(new ArrayBuffer(8));

/**
 * Big-endian u64 at `offset` (the caller checks the length). Values below 2^53 (every amount in practice) become one
 * BigInt from an exact number, without a DataView.
 */
export function readU64BE(b: Uint8Array, offset: number): bigint {
  const hi = ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>> 0;
  const lo = ((b[offset + 4]! << 24) | (b[offset + 5]! << 16) | (b[offset + 6]! << 8) | b[offset + 7]!) >>> 0;
  // Most stored amounts and counters fit 32 bits or are zero: BigInt of a uint32 is ~15 ns, of a larger exact double
  // ~50 ns, and 0n is a constant.
  if (hi === 0) return lo === 0 ? 0n : BigInt(lo);
  if (hi < 0x20_0000) return BigInt(hi * TWO_32 + lo);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Writes a big-endian u64 at `offset`; throws RangeError outside [0, 2^64). */
export function writeU64BE(b: Uint8Array, offset: number, v: bigint): void {
  let hi: number;
  let lo: number;
  if (v >= 0n && v < TWO_53) {
    const n = Number(v);
    if (n < TWO_32) {
      hi = 0;
      lo = n;
    } else {
      lo = n % TWO_32;
      hi = (n - lo) / TWO_32;
    }
  } else {
    if (v < 0n || v >= U64_LIMIT) throw new RangeError(`${v} is not a u64`);
    SCRATCH.setBigUint64(0, v);
    hi = SCRATCH.getUint32(0);
    lo = SCRATCH.getUint32(4);
  }
  b[offset] = hi >>> 24;
  b[offset + 1] = (hi >>> 16) & 0xff;
  b[offset + 2] = (hi >>> 8) & 0xff;
  b[offset + 3] = hi & 0xff;
  b[offset + 4] = lo >>> 24;
  b[offset + 5] = (lo >>> 16) & 0xff;
  b[offset + 6] = (lo >>> 8) & 0xff;
  b[offset + 7] = lo & 0xff;
}

/** Big-endian u32 / u16 at `offset` (the caller checks the length). */
export function readU32BE(b: Uint8Array, offset: number): number {
  return ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>> 0;
}

export function writeU32BE(b: Uint8Array, offset: number, v: number): void {
  b[offset] = v >>> 24;
  b[offset + 1] = (v >>> 16) & 0xff;
  b[offset + 2] = (v >>> 8) & 0xff;
  b[offset + 3] = v & 0xff;
}

export function readU16BE(b: Uint8Array, offset: number): number {
  return (b[offset]! << 8) | b[offset + 1]!;
}

export function writeU16BE(b: Uint8Array, offset: number, v: number): void {
  b[offset] = (v >>> 8) & 0xff;
  b[offset + 1] = v & 0xff;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length));
}

const TEXT_ENCODER = new TextEncoder();

/**
 * UTF-8 bytes of a string. Short ASCII strings (every state key) are copied directly: the same bytes as
 * TextEncoder, without the native call that dominated key building on the VM's hot path (benchmarks/vm.ts).
 */
export function utf8(s: string): Uint8Array {
  const n = s.length;
  if (n <= 128) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) return TEXT_ENCODER.encode(s);
      out[i] = c;
    }
    return out;
  }
  return TEXT_ENCODER.encode(s);
}

export function fromUtf8(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

/** Big-endian fixed-width encodings, used in database keys so that byte order is numeric order. */
export function u64be(n: bigint | number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

export function readU64be(b: Uint8Array, offset = 0): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(offset);
}

export function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}
