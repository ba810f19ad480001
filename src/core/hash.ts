// sha256 through node:crypto's one-shot hash() (measured fastest here: benchmarks/results/crypto.json), and a Merkle root.
import { hash } from 'node:crypto';

export const HASH_BYTES = 32;
export const EMPTY_HASH = new Uint8Array(HASH_BYTES);

export function sha256(...parts: Uint8Array[]): Uint8Array {
  let data: Uint8Array;
  if (parts.length === 1) {
    data = parts[0]!;
  } else {
    let n = 0;
    for (const p of parts) n += p.length;
    data = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      data.set(p, o);
      o += p.length;
    }
  }
  const d = hash('sha256', data, 'buffer');
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

const LEAF = new Uint8Array([0]);
const INNER = new Uint8Array([1]);

/**
 * Merkle root of an ordered list of byte strings (RFC 6962 shape: leaves and inner nodes carry distinct prefixes,
 * an odd node is promoted). The empty list has the all-zero root.
 */
export function merkleRoot(items: readonly Uint8Array[]): Uint8Array {
  if (items.length === 0) return EMPTY_HASH;
  let level = items.map((it) => sha256(LEAF, it));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const l = level[i]!;
      const r = level[i + 1];
      next.push(r === undefined ? l : sha256(INNER, l, r));
    }
    level = next;
  }
  return level[0]!;
}
