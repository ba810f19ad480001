// State keys and typed records for VM modules: `<module>/<kind>/<id>` keys, values in the canonical codec.
import { encode, decode, type Schema } from '../core/codec.js';
import { utf8, toHex } from '../core/bytes.js';
import { KeyBytes, type KvReader, type KvWriter } from '../state/kv.js';

/** Largest stored record, bytes (a sanity bound for decoding our own state). */
export const MAX_RECORD_BYTES = 1024 * 1024;

/**
 * Hex of byte parts by the identity of the array. The hot parts are addresses that live across many accesses (a
 * tx's sender, a loan's borrower and lender), so one conversion serves them all. Callers never mutate byte values
 * they hand to the VM (stored values are encoded copies), so a hit is the array's current hex.
 */
const hexCache = new WeakMap<Uint8Array, string>();

export function hexOf(b: Uint8Array): string {
  let h = hexCache.get(b);
  if (h === undefined) {
    h = toHex(b);
    hexCache.set(b, h);
  }
  return h;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Builds a state key from a module name and parts; byte parts are written as lowercase hex. The key is the UTF-8 of
 * the text; when that text is ASCII (hex and numbers always are, so only string parts are checked) it comes as
 * KeyBytes, the same bytes with the string attached for the stores.
 */
export function stateKey(module: string, ...parts: (string | Uint8Array | bigint | number)[]): Uint8Array {
  let text = module;
  let ascii = isAscii(module);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (typeof p === 'string') {
      if (ascii && !isAscii(p)) ascii = false;
      text += '/' + p;
    } else {
      text += '/' + (p instanceof Uint8Array ? hexOf(p) : String(p));
    }
  }
  return ascii ? new KeyBytes(text) : utf8(text);
}

/** Fixed-width decimal for numeric key parts whose byte order must follow numeric order. */
export function padded(n: bigint | number, width = 20): string {
  return n.toString().padStart(width, '0');
}

export function load<T>(state: KvReader, key: Uint8Array, schema: Schema<T>): T | undefined {
  const raw = state.get(key);
  return raw === undefined ? undefined : decode(schema, raw, MAX_RECORD_BYTES);
}

export function save<T>(state: KvWriter, key: Uint8Array, schema: Schema<T>, value: T): void {
  state.set(key, encode(schema, value));
}
