// State keys and typed records for VM modules: `<module>/<kind>/<id>` keys, values in the canonical codec.
import { encode, decode, type Schema } from '../core/codec.js';
import { utf8, toHex } from '../core/bytes.js';
import type { KvReader, KvWriter } from '../state/kv.js';

/** Largest stored record, bytes (a sanity bound for decoding our own state). */
export const MAX_RECORD_BYTES = 1024 * 1024;

/** Builds a state key from a module name and parts; byte parts are written as lowercase hex. */
export function stateKey(module: string, ...parts: (string | Uint8Array | bigint | number)[]): Uint8Array {
  const rendered = parts.map((p) => (p instanceof Uint8Array ? toHex(p) : String(p)));
  return utf8([module, ...rendered].join('/'));
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
