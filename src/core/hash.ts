// sha256 through libsodium (sodium-native): 3-4x the throughput of node:crypto for the small inputs of tree nodes,
// addresses and tx hashes (benchmarks/results/crypto.json); and a binary Merkle root of hashes.
import sodium from 'sodium-native';

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
  // allocUnsafe takes the 32 bytes from Node's shared pool (no zero-fill, no new ArrayBuffer per hash).
  const out = Buffer.allocUnsafe(HASH_BYTES);
  sodium.crypto_hash_sha256(out, data);
  return new Uint8Array(out.buffer, out.byteOffset, HASH_BYTES);
}

/** sha256 of `data` as a Buffer (pool-allocated): for callers that sort or compare hashes as Buffers. */
export function sha256Buffer(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HASH_BYTES);
  sodium.crypto_hash_sha256(out, data);
  return out;
}

/** Writes sha256(data) into `out` (32 bytes) without allocating: for hot loops that hash into scratch buffers. */
export function sha256Into(out: Uint8Array, data: Uint8Array): void {
  sodium.crypto_hash_sha256(out, data);
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
