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
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
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
