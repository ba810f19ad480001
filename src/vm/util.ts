// Small helpers shared by the VM modules: address schema, role checks' plumbing, JSON-ready rendering, bounded lists.
import { bytes, str, type Schema } from '../core/codec.js';
import { compareBytes, equalBytes } from '../core/bytes.js';
import { ADDRESS_BYTES, PUBLIC_KEY_BYTES } from '../core/keys.js';
import { sha256 } from '../core/hash.js';
import { utf8 } from '../core/bytes.js';
import { hexOf, MAX_SAFE } from './store.js';

export const addressSchema: Schema<Uint8Array> = bytes({ exact: ADDRESS_BYTES });
export const publicKeySchema: Schema<Uint8Array> = bytes({ exact: PUBLIC_KEY_BYTES });
export const hash32Schema: Schema<Uint8Array> = bytes({ exact: 32 });
/** Asset codes: 2 to 12 upper-case letters or digits, e.g. CNY, USD. */
export const ASSET_CODE_PATTERN = /^[A-Z][A-Z0-9]{1,11}$/;
export const assetCodeSchema: Schema<string> = str({ max: 12, pattern: ASSET_CODE_PATTERN });

/**
 * A module account: an address nobody holds a key for (sha256 of a label, first 20 bytes), used as a pool
 * (e.g. bonded stake). Its balance counts in the asset's supply like any other balance.
 */
export function moduleAddress(label: string): Uint8Array {
  return sha256(utf8(`autochain-module-account:${label}`)).subarray(0, ADDRESS_BYTES);
}

/** Lowercase hex of bytes (cached by the array's identity: see hexOf). */
export function hex(b: Uint8Array): string {
  return hexOf(b);
}

/**
 * Decimal text of an integer amount, as String(v) gives it. Amounts below 2^53 go through an exact number: V8 turns a
 * number into text on a fast path with a cache of recent numbers, where a BigInt's text takes a runtime call (~60
 * against ~95 ns here; a repayment's event carries six amounts).
 */
export function decimal(v: bigint): string {
  return v >= 0n && v <= MAX_SAFE ? String(Number(v)) : String(v);
}

/** Inserts into a sorted list of byte strings (no duplicates); returns false when already present. */
export function insertSortedBytes(list: Uint8Array[], item: Uint8Array): boolean {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = compareBytes(list[mid]!, item);
    if (c === 0) return false;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
  return true;
}

export function removeBytes(list: Uint8Array[], item: Uint8Array): boolean {
  const i = list.findIndex((x) => equalBytes(x, item));
  if (i < 0) return false;
  list.splice(i, 1);
  return true;
}

/** Ordinal string comparison (code units), the same on every node regardless of locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Clamps view paging arguments to sane bounds (non-integers fall back to the defaults). */
export function page(
  opts: { offset?: number; limit?: number } | undefined,
  maxLimit = 100,
): { offset: number; limit: number } {
  const int = (n: number | undefined, dflt: number): number => (n !== undefined && Number.isSafeInteger(n) ? n : dflt);
  const offset = Math.max(0, int(opts?.offset, 0));
  const limit = Math.min(maxLimit, Math.max(1, int(opts?.limit, maxLimit)));
  return { offset, limit };
}
