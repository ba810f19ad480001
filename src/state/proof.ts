// State proofs: their canonical format and the standalone verifier a light client runs against a header's stateRoot.
//
// Imports only core hashing, bytes and codec (never the store), so a client can verify a proof with this one file.
// The tree is a compressed binary sparse Merkle tree over sha256(key) (see docs/formats.md, "State tree"):
//   leaf  = sha256(0x00 || keyHash || sha256(value))
//   inner = sha256(0x01 || left || right)
//   empty subtree = 32 zero bytes; a subtree holding exactly one leaf is that leaf's hash (collapsed).
import { sha256, HASH_BYTES, EMPTY_HASH } from '../core/hash.js';
import { equalBytes } from '../core/bytes.js';
import { struct, bytes, list, optional, encode, decode, type Infer } from '../core/codec.js';

/** Key hashes are 256 bits, so no path is longer than 256 binary levels. */
export const MAX_PROOF_DEPTH = 256;
const LEAF_TAG = new Uint8Array([0]);
const INNER_TAG = new Uint8Array([1]);

const hash32 = bytes({ exact: HASH_BYTES });

/** The leaf where the key's path ends, if it ends at a leaf: the key's own (presence) or another key's (absence). */
export const ProofLeafSchema = struct('ProofLeaf', [
  ['keyHash', hash32],
  ['valueHash', hash32],
] as const);
export type ProofLeaf = Infer<typeof ProofLeafSchema>;

/**
 * siblings[i] is the hash of the sibling subtree at binary depth i on the key's path (root first); the path ends after
 * siblings.length levels, at `leaf` or, when leaf is null, at an empty subtree.
 */
export const StateProofSchema = struct('StateProof', [
  ['siblings', list(hash32, { max: MAX_PROOF_DEPTH })],
  ['leaf', optional(ProofLeafSchema)],
] as const);
export type StateProof = Infer<typeof StateProofSchema>;

/** Largest canonical proof: 256 siblings of 35 bytes, a leaf and framing. */
export const MAX_PROOF_BYTES = MAX_PROOF_DEPTH * (HASH_BYTES + 3) + 2 * (HASH_BYTES + 3) + 16;

export function encodeStateProof(p: StateProof): Uint8Array {
  return encode(StateProofSchema, p);
}

export function decodeStateProof(b: Uint8Array): StateProof {
  return decode(StateProofSchema, b, MAX_PROOF_BYTES);
}

export function treeKeyHash(key: Uint8Array): Uint8Array {
  return sha256(key);
}

export function treeLeafHash(keyHash: Uint8Array, valueHash: Uint8Array): Uint8Array {
  return sha256(LEAF_TAG, keyHash, valueHash);
}

export function treeInnerHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(INNER_TAG, left, right);
}

/** Bit i (0 = most significant bit of byte 0) of a key hash: 0 goes left, 1 goes right. */
export function pathBit(keyHash: Uint8Array, i: number): number {
  return (keyHash[i >> 3]! >> (7 - (i & 7))) & 1;
}

function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits; i++) if (pathBit(a, i) !== pathBit(b, i)) return false;
  return true;
}

/**
 * True when `proof` shows that, in the state whose root is `root`, `key` holds `value` (or is absent, for null).
 * Accepts the proof as an object or as its canonical bytes; never throws on malformed input, it returns false.
 */
export function verifyProof(
  root: Uint8Array,
  key: Uint8Array,
  value: Uint8Array | null,
  proof: StateProof | Uint8Array,
): boolean {
  let p: StateProof;
  try {
    p = proof instanceof Uint8Array ? decodeStateProof(proof) : proof;
    if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES || !(key instanceof Uint8Array)) return false;
    if (value !== null && !(value instanceof Uint8Array)) return false;
    if (!Array.isArray(p.siblings) || p.siblings.length > MAX_PROOF_DEPTH) return false;
    for (const s of p.siblings) if (!(s instanceof Uint8Array) || s.length !== HASH_BYTES) return false;
    if (p.leaf !== null && (p.leaf.keyHash?.length !== HASH_BYTES || p.leaf.valueHash?.length !== HASH_BYTES))
      return false;
  } catch {
    return false;
  }
  const keyHash = treeKeyHash(key);
  const depth = p.siblings.length;
  let node: Uint8Array;
  if (value !== null) {
    // Presence: the path must end at this key's own leaf, holding this value.
    if (p.leaf === null || !equalBytes(p.leaf.keyHash, keyHash)) return false;
    if (!equalBytes(p.leaf.valueHash, sha256(value))) return false;
    node = treeLeafHash(keyHash, p.leaf.valueHash);
  } else if (p.leaf === null) {
    // Absence: the path ends at an empty subtree, so no key has this prefix.
    node = EMPTY_HASH;
  } else {
    // Absence: the path ends at another key's leaf, alone in the subtree that this key's path leads into.
    if (equalBytes(p.leaf.keyHash, keyHash) || !samePrefix(p.leaf.keyHash, keyHash, depth)) return false;
    node = treeLeafHash(p.leaf.keyHash, p.leaf.valueHash);
  }
  for (let i = depth - 1; i >= 0; i--) {
    const sibling = p.siblings[i]!;
    node = pathBit(keyHash, i) === 0 ? treeInnerHash(node, sibling) : treeInnerHash(sibling, node);
  }
  return equalBytes(node, root);
}
