// The authenticated state tree: a compressed binary sparse Merkle tree, stored as pages of 4 binary levels (16 slots).
//
// Hashes are those of proof.ts (leaf = H(0x00||keyHash||H(value)), inner = H(0x01||left||right), empty = zeros, a
// subtree with one leaf collapses to that leaf). Storing 4 levels per page (as Aptos' Jellyfish Merkle tree does with
// nibbles) cuts database entries per changed key by 4x against one entry per binary node. A page is addressed by its
// position (depth in nibbles + the key-hash prefix leading to it); only the latest version is kept, so a block
// overwrites the pages it changes and deletes the pages that collapse, and the database does not grow with history.
//
// Page invariant (makes the structure, and so the root, a function of the key set alone): a page below the root holds
// at least two leaves in its subtree; a slot holds an empty subtree, one leaf, or a child page. Updating is
// copy-on-write: pages read from the store are never mutated, so `prepare` can run without changing committed state.
import { assert } from '../core/errors.js';
import { HASH_BYTES, sha256Buffer, sha256Into } from '../core/hash.js';
import { treeInnerHash, treeLeafHash } from './proof.js';

const SCRATCH_IN = Buffer.alloc(1 + 2 * HASH_BYTES);
const SCRATCH_OUT = Buffer.alloc(HASH_BYTES);

/** sha256 of arbitrary bytes, as a fresh 32-byte Buffer (the one sha256 of src/core/hash.ts). */
export const fastSha256 = sha256Buffer;

/**
 * buf[outOff, +32) = sha256(tag || buf[inOff, +64)). Both hashed node shapes (a leaf's keyHash||valueHash, an inner
 * node's left||right) are 64 contiguous bytes of a page, so one copy loop and one native call, with no allocation.
 */
function hashTagged64(tag: number, buf: Buffer, inOff: number, outOff: number): void {
  SCRATCH_IN[0] = tag;
  for (let k = 0; k < 64; k++) SCRATCH_IN[1 + k] = buf[inOff + k]!;
  sha256Into(SCRATCH_OUT, SCRATCH_IN);
  for (let k = 0; k < HASH_BYTES; k++) buf[outOff + k] = SCRATCH_OUT[k]!;
}

function copy32(src: Uint8Array, srcOff: number, dst: Buffer, dstOff: number): void {
  for (let k = 0; k < HASH_BYTES; k++) dst[dstOff + k] = src[srcOff + k]!;
}

/** Node kinds. For a slot (heap index 16..31), INNER means "a child page". */
export const EMPTY = 0;
export const LEAF = 1;
export const INNER = 2;

export const SLOTS = 16;
/** Key hashes have 64 nibbles, so pages nest at most 64 deep. */
export const MAX_PAGE_DEPTH = 64;

/**
 * Memory of dead pages, reused by new ones. Allocating a fresh ~2 KB buffer per changed page made V8 run a full
 * garbage collection every few blocks (external-memory pressure), ~0.5 s each with a 1M-key tree cached.
 */
const pagePool: Buffer[] = [];
const PAGE_POOL_MAX = 65_536;

/**
 * Gives a page's memory back for reuse. Only for a page that nothing can reach any more: the store calls it for the
 * previous version of a page replaced or deleted by a committed block, and for pages its cache evicts (pages handed
 * out by loadPage are only used synchronously, and updates clone a page before changing anything).
 */
export function recyclePage(p: Page): void {
  if (pagePool.length < PAGE_POOL_MAX) pagePool.push(p.b);
}

// Page memory layout, one buffer: kinds (32 bytes, heap order), node hashes (32 x 32), leaf data (16 x keyHash||valueHash).
const KIND_OFF = 0;
const HASH_OFF = 2 * SLOTS;
const LEAF_OFF = HASH_OFF + 2 * SLOTS * HASH_BYTES;
const PAGE_BYTES = LEAF_OFF + SLOTS * 2 * HASH_BYTES;
const hashAt = (i: number): number => HASH_OFF + i * HASH_BYTES;
const leafAt = (s: number): number => LEAF_OFF + s * 2 * HASH_BYTES;

/**
 * One page: a 4-level binary subtree in heap layout. Index 1 is the page root, i has children 2i and 2i+1, slots are
 * indices 16..31. Every node's hash is kept (zeros when empty), so a change costs only the hashes on its path. One
 * buffer holds everything so a copy-on-write clone is one allocation and one memcpy.
 */
export class Page {
  readonly b: Buffer;

  /** An empty page (all slots empty, all hashes zero). */
  constructor(b?: Buffer) {
    if (b !== undefined) {
      this.b = b;
    } else {
      const reused = pagePool.pop();
      this.b = reused === undefined ? Buffer.alloc(PAGE_BYTES) : reused.fill(0);
    }
  }

  clone(): Page {
    const copy = pagePool.pop() ?? Buffer.allocUnsafe(PAGE_BYTES);
    this.b.copy(copy);
    return new Page(copy);
  }

  /** Kind of heap node i (1..31). */
  kindOf(i: number): number {
    return this.b[KIND_OFF + i]!;
  }

  rootKind(): number {
    return this.b[KIND_OFF + 1]!;
  }

  /** The page's subtree hash (zeros for an empty page). */
  rootHash(): Buffer {
    return this.nodeHash(1);
  }

  /** A copy of heap node i's hash. */
  nodeHash(i: number): Buffer {
    return Buffer.from(this.b.subarray(hashAt(i), hashAt(i) + HASH_BYTES));
  }

  slotKind(s: number): number {
    return this.b[KIND_OFF + SLOTS + s]!;
  }

  /** True when slot s is a leaf with this key hash (and, if given, this value hash). */
  leafIs(s: number, keyHash: Uint8Array, valueHash?: Uint8Array): boolean {
    const o = leafAt(s);
    for (let k = 0; k < HASH_BYTES; k++) if (this.b[o + k] !== keyHash[k]) return false;
    if (valueHash !== undefined)
      for (let k = 0; k < HASH_BYTES; k++) if (this.b[o + HASH_BYTES + k] !== valueHash[k]) return false;
    return true;
  }

  leafKeyHash(s: number): Buffer {
    return Buffer.from(this.b.subarray(leafAt(s), leafAt(s) + HASH_BYTES));
  }

  leafValueHash(s: number): Buffer {
    return Buffer.from(this.b.subarray(leafAt(s) + HASH_BYTES, leafAt(s) + 2 * HASH_BYTES));
  }

  setLeaf(s: number, keyHash: Uint8Array, valueHash: Uint8Array): void {
    const o = leafAt(s);
    this.b[KIND_OFF + SLOTS + s] = LEAF;
    copy32(keyHash, 0, this.b, o);
    copy32(valueHash, 0, this.b, o + HASH_BYTES);
    hashTagged64(0, this.b, o, hashAt(SLOTS + s));
  }

  /** Moves leaf slot s of `from` (a collapsing child page) into slot n here, with its known leaf hash. */
  takeLeaf(n: number, from: Page, s: number): void {
    this.b[KIND_OFF + SLOTS + n] = LEAF;
    from.b.copy(this.b, leafAt(n), leafAt(s), leafAt(s) + 2 * HASH_BYTES);
    from.b.copy(this.b, hashAt(SLOTS + n), hashAt(SLOTS + s), hashAt(SLOTS + s) + HASH_BYTES);
  }

  setChild(s: number, childHash: Uint8Array, childHashOff = 0): void {
    this.b[KIND_OFF + SLOTS + s] = INNER;
    this.b.fill(0, leafAt(s), leafAt(s) + 2 * HASH_BYTES);
    copy32(childHash, childHashOff, this.b, hashAt(SLOTS + s));
  }

  setEmpty(s: number): void {
    this.b[KIND_OFF + SLOTS + s] = EMPTY;
    this.b.fill(0, leafAt(s), leafAt(s) + 2 * HASH_BYTES);
    this.b.fill(0, hashAt(SLOTS + s), hashAt(SLOTS + s) + HASH_BYTES);
  }

  /** Recomputes the inner nodes above the slots in `dirtySlots` (a 16-bit mask): 4 hashes per changed slot at most. */
  recompute(dirtySlots: number): void {
    let dirty = dirtySlots << SLOTS; // heap bits 16..31
    for (let i = SLOTS - 1; i >= 1; i--) {
      if ((dirty & ((1 << (2 * i)) | (1 << (2 * i + 1)))) === 0) continue;
      this.combine(i);
      dirty |= 1 << i;
    }
  }

  private combine(i: number): void {
    const a = 2 * i;
    const ka = this.b[KIND_OFF + a]!;
    const kb = this.b[KIND_OFF + a + 1]!;
    const b = this.b;
    if (ka === EMPTY && kb === EMPTY) {
      b[KIND_OFF + i] = EMPTY;
      b.fill(0, hashAt(i), hashAt(i) + HASH_BYTES);
    } else if (ka === EMPTY && kb === LEAF) {
      b[KIND_OFF + i] = LEAF; // one leaf alone: the subtree collapses to it
      copy32(b, hashAt(a + 1), b, hashAt(i));
    } else if (ka === LEAF && kb === EMPTY) {
      b[KIND_OFF + i] = LEAF;
      copy32(b, hashAt(a), b, hashAt(i));
    } else {
      b[KIND_OFF + i] = INNER;
      hashTagged64(1, b, hashAt(a), hashAt(i)); // children 2i and 2i+1 are adjacent: left||right
    }
  }

  /** The single leaf slot under heap node i (whose kind is LEAF). */
  leafSlotUnder(i: number): number {
    let lo = i;
    let hi = i + 1;
    while (lo < SLOTS) {
      lo *= 2;
      hi *= 2;
    }
    for (let h = lo; h < hi; h++) if (this.b[KIND_OFF + h] === LEAF) return h - SLOTS;
    throw new Error(`no leaf under node ${i}`);
  }
}

// ---- page encoding: u16 leaf mask, u16 child mask, then per slot in order: keyHash||valueHash, or the child hash ----

/** Bytes of the encoded page. */
export function encodedPageSize(p: Page): number {
  let n = 4;
  for (let s = 0; s < SLOTS; s++) {
    const k = p.slotKind(s);
    if (k === LEAF) n += 64;
    else if (k === INNER) n += HASH_BYTES;
  }
  return n;
}

/** Encodes the page into out at off (encodedPageSize bytes) and returns the end offset. */
export function encodePageInto(p: Page, out: Buffer, off: number): number {
  let leafMask = 0;
  let childMask = 0;
  let o = off + 4;
  for (let s = 0; s < SLOTS; s++) {
    const k = p.slotKind(s);
    if (k === LEAF) {
      leafMask |= 1 << s;
      p.b.copy(out, o, leafAt(s), leafAt(s) + 64);
      o += 64;
    } else if (k === INNER) {
      childMask |= 1 << s;
      p.b.copy(out, o, hashAt(SLOTS + s), hashAt(SLOTS + s) + HASH_BYTES);
      o += HASH_BYTES;
    }
  }
  out.writeUInt16BE(leafMask, off);
  out.writeUInt16BE(childMask, off + 2);
  return o;
}

export function encodePage(p: Page): Uint8Array {
  let leafMask = 0;
  let childMask = 0;
  let n = 4;
  for (let s = 0; s < SLOTS; s++) {
    const k = p.slotKind(s);
    if (k === LEAF) {
      leafMask |= 1 << s;
      n += 64;
    } else if (k === INNER) {
      childMask |= 1 << s;
      n += HASH_BYTES;
    }
  }
  const out = Buffer.allocUnsafe(n);
  out.writeUInt16BE(leafMask, 0);
  out.writeUInt16BE(childMask, 2);
  let o = 4;
  for (let s = 0; s < SLOTS; s++) {
    const k = p.slotKind(s);
    if (k === LEAF) {
      p.b.copy(out, o, leafAt(s), leafAt(s) + 64);
      o += 64;
    } else if (k === INNER) {
      p.b.copy(out, o, hashAt(SLOTS + s), hashAt(SLOTS + s) + HASH_BYTES);
      o += HASH_BYTES;
    }
  }
  return out;
}

/** Decodes a stored page and recomputes its leaf and inner hashes (the stored form keeps only what cannot be derived). */
export function decodePage(b: Uint8Array): Page {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  assert(buf.length >= 4, 'tree page too short', { length: buf.length });
  const leafMask = buf.readUInt16BE(0);
  const childMask = buf.readUInt16BE(2);
  assert((leafMask & childMask) === 0, 'tree page slot is both leaf and child');
  const p = new Page();
  let o = 4;
  for (let s = 0; s < SLOTS; s++) {
    if (leafMask & (1 << s)) {
      assert(o + 64 <= buf.length, 'tree page truncated');
      buf.copy(p.b, leafAt(s), o, o + 64);
      p.b[KIND_OFF + SLOTS + s] = LEAF;
      hashTagged64(0, p.b, leafAt(s), hashAt(SLOTS + s));
      o += 64;
    } else if (childMask & (1 << s)) {
      assert(o + HASH_BYTES <= buf.length, 'tree page truncated');
      p.setChild(s, buf, o);
      o += HASH_BYTES;
    }
  }
  assert(o === buf.length, 'tree page has trailing bytes', { length: buf.length, used: o });
  p.recompute(0xffff);
  return p;
}

// ---- addressing ----

export function nibble(keyHash: Uint8Array, depth: number): number {
  const byte = keyHash[depth >> 1]!;
  return depth & 1 ? byte & 15 : byte >> 4;
}

/** A page's position: [depth, first ceil(depth/2) bytes of the key hash, with the unused low nibble zeroed]. */
export function pageId(depth: number, keyHash: Uint8Array): Buffer {
  const nBytes = (depth + 1) >> 1;
  const id = Buffer.allocUnsafe(1 + nBytes);
  id[0] = depth;
  for (let i = 0; i < nBytes; i++) id[1 + i] = keyHash[i]!;
  if (depth & 1) id[nBytes] = id[nBytes]! & 0xf0;
  return id;
}

/**
 * A page's in-memory key: a number for depth <= 11 (prefix * 16 + depth, exact below 2^53), which V8 hashes far faster
 * than a string; a string of the page id beyond (pages that deep need about 2^44 keys, but must still work).
 */
export type PageKey = number | string;
const NUMERIC_DEPTH_MAX = 11;

export function pageKey(depth: number, keyHash: Uint8Array): PageKey {
  if (depth > NUMERIC_DEPTH_MAX) return pageId(depth, keyHash).toString('latin1');
  let v = 0;
  for (let d = 0; d < depth; d++) v = v * 16 + nibble(keyHash, d);
  return v * 16 + depth;
}

export const ROOT_PAGE_KEY: PageKey = 0;
const ZERO_HASH = new Uint8Array(HASH_BYTES);

/** Where the tree reads committed pages from (the store's cache, then the database). */
export interface PageSource {
  /** The page at `depth` on the path of `keyHash`, whose key is pageKey(depth, keyHash). */
  loadPage(key: PageKey, depth: number, keyHash: Uint8Array): Page | undefined;
}

/** A change of one leaf: valueHash null deletes. keyHash = sha256(key), valueHash = sha256(value). */
export interface TreeUpdate {
  readonly keyHash: Buffer;
  readonly valueHash: Buffer | null;
}

/** A page write (Page) or deletion (null); `keyHash` is any key hash on the page's path (for its database id). */
export interface PageWrite {
  depth: number;
  keyHash: Uint8Array;
  page: Page | null;
}
export type PageWrites = Map<PageKey, PageWrite>;

export function compareUpdates(a: TreeUpdate, b: TreeUpdate): number {
  return Buffer.compare(a.keyHash, b.keyHash);
}

/**
 * Sorts by key hash: by its first 48 bits as a number (a float compare, measured far faster than Buffer.compare),
 * falling back to the bytes only on a tie.
 */
export function sortUpdates(updates: TreeUpdate[]): TreeUpdate[] {
  const keyed = updates.map((u) => ({ p: u.keyHash.readUIntBE(0, 6), u }));
  keyed.sort((x, y) => x.p - y.p || Buffer.compare(x.u.keyHash, y.u.keyHash));
  return keyed.map((x) => x.u);
}

/**
 * Applies updates (sorted by keyHash, distinct) to the tree and returns the new root hash; the pages to write or
 * delete are added to `writes`. Each changed key costs one leaf hash plus the inner hashes on its path that no other
 * changed key already recomputed, so a block of k keys in a tree of n costs O(k log n) hashes.
 */
export function applyUpdates(src: PageSource, updates: readonly TreeUpdate[], writes: PageWrites): Buffer {
  const oldRoot = src.loadPage(ROOT_PAGE_KEY, 0, ZERO_HASH);
  // Read before the walk: loading deeper pages may evict (and recycle) the root page from the store's cache.
  const oldRootHash = oldRoot === undefined ? Buffer.alloc(HASH_BYTES) : oldRoot.rootHash();
  const ctx: UpdateCtx = { src, writes };
  const next = updatePage(ctx, 0, oldRoot ?? null, updates, 0, updates.length);
  if (next === undefined) return oldRootHash;
  writes.set(ROOT_PAGE_KEY, { depth: 0, keyHash: ZERO_HASH, page: next.rootKind() === EMPTY ? null : next });
  return next.rootHash();
}

interface UpdateCtx {
  src: PageSource;
  writes: PageWrites;
}

/** Returns the updated copy of the page, or undefined when nothing in it changed. */
function updatePage(
  ctx: UpdateCtx,
  depth: number,
  old: Page | null,
  ups: readonly TreeUpdate[],
  lo: number,
  hi: number,
): Page | undefined {
  assert(depth < MAX_PAGE_DEPTH, 'tree deeper than the key hash');
  const page = old ? old.clone() : new Page();
  let dirty = 0;
  let i = lo;
  while (i < hi) {
    const n = nibble(ups[i]!.keyHash, depth);
    let j = i + 1;
    while (j < hi && nibble(ups[j]!.keyHash, depth) === n) j++;
    if (updateSlot(ctx, depth, page, n, ups, i, j)) dirty |= 1 << n;
    i = j;
  }
  if (dirty === 0) return undefined;
  page.recompute(dirty);
  return page;
}

/** Applies ups[i, j) (all in slot n) to the slot; true when the slot changed. */
function updateSlot(
  ctx: UpdateCtx,
  depth: number,
  page: Page,
  n: number,
  ups: readonly TreeUpdate[],
  i: number,
  j: number,
): boolean {
  const k = page.slotKind(n);
  if (k === INNER) {
    const kh = ups[i]!.keyHash;
    const childKey = pageKey(depth + 1, kh);
    const child = ctx.src.loadPage(childKey, depth + 1, kh);
    assert(child !== undefined, 'tree page missing', { page: pageId(depth + 1, kh).toString('hex') });
    const next = updatePage(ctx, depth + 1, child, ups, i, j);
    if (next === undefined) return false;
    placeChild(ctx, page, n, { depth: depth + 1, keyHash: kh, page: next }, childKey);
    return true;
  }
  if (j - i === 1) {
    // The common case in a large tree: one changed key lands in a slot holding no leaf or one leaf.
    const u = ups[i]!;
    if (k === EMPTY) {
      if (u.valueHash === null) return false;
      page.setLeaf(n, u.keyHash, u.valueHash);
      return true;
    }
    if (page.leafIs(n, u.keyHash)) {
      if (u.valueHash === null) {
        page.setEmpty(n);
        return true;
      }
      if (page.leafIs(n, u.keyHash, u.valueHash)) return false;
      page.setLeaf(n, u.keyHash, u.valueHash);
      return true;
    }
    if (u.valueHash === null) return false;
  }
  // General case: the slot's leaf (unless an update replaces it) plus every set; two or more make a child page.
  const leaves: TreeUpdate[] = [];
  let existing: TreeUpdate | null = null;
  if (k === LEAF) existing = { keyHash: page.leafKeyHash(n), valueHash: page.leafValueHash(n) };
  for (let x = i; x < j; x++) {
    const u = ups[x]!;
    if (existing !== null && compareUpdates(existing, u) < 0) {
      leaves.push(existing);
      existing = null;
    }
    if (existing?.keyHash.equals(u.keyHash)) existing = null;
    if (u.valueHash !== null) leaves.push(u);
  }
  if (existing !== null) leaves.push(existing);
  if (leaves.length === 0) {
    if (k === EMPTY) return false;
    page.setEmpty(n);
    return true;
  }
  if (leaves.length === 1) {
    const only = leaves[0]!;
    if (k === LEAF && page.leafIs(n, only.keyHash, only.valueHash!)) {
      return false;
    }
    page.setLeaf(n, only.keyHash, only.valueHash!);
    return true;
  }
  const kh = leaves[0]!.keyHash;
  const child = updatePage(ctx, depth + 1, null, leaves, 0, leaves.length);
  assert(child !== undefined && child.rootKind() === INNER, 'a new child page must hold two leaves');
  placeChild(ctx, page, n, { depth: depth + 1, keyHash: kh, page: child }, pageKey(depth + 1, kh));
  return true;
}

/** Puts an updated child page in slot n, or collapses it into the slot when it holds one leaf or none. */
function placeChild(ctx: UpdateCtx, page: Page, n: number, write: PageWrite, key: PageKey): void {
  const child = write.page!;
  const kind = child.rootKind();
  if (kind === INNER) {
    ctx.writes.set(key, write);
    page.setChild(n, child.b, hashAt(1));
    return;
  }
  ctx.writes.set(key, { depth: write.depth, keyHash: write.keyHash, page: null });
  if (kind === LEAF) {
    const s = child.leafSlotUnder(1);
    page.takeLeaf(n, child, s);
  } else {
    page.setEmpty(n);
  }
}

// ---- reads ----

export interface TreeProof {
  siblings: Uint8Array[];
  leaf: { keyHash: Uint8Array; valueHash: Uint8Array } | null;
}

/** Walks the key's path from the root: O(log n) pages, one sibling hash per binary level. */
export function proveKeyHash(src: PageSource, keyHash: Uint8Array): TreeProof {
  const siblings: Uint8Array[] = [];
  let page = src.loadPage(ROOT_PAGE_KEY, 0, ZERO_HASH);
  if (page === undefined) return { siblings, leaf: null };
  let depth = 0;
  let bit = 0;
  let i = 1;
  for (;;) {
    const k = page.kindOf(i);
    if (k === EMPTY) return { siblings, leaf: null };
    if (k === LEAF) {
      const s = page.leafSlotUnder(i);
      return { siblings, leaf: { keyHash: page.leafKeyHash(s), valueHash: page.leafValueHash(s) } };
    }
    if (i >= SLOTS) {
      // A child page: its root is this same binary node, so no sibling is added.
      depth++;
      const child = src.loadPage(pageKey(depth, keyHash), depth, keyHash);
      assert(child !== undefined, 'tree page missing', { depth });
      page = child;
      i = 1;
      continue;
    }
    const b = (keyHash[bit >> 3]! >> (7 - (bit & 7))) & 1;
    const sib = 2 * i + 1 - b;
    siblings.push(page.nodeHash(sib));
    i = 2 * i + b;
    bit++;
  }
}

/**
 * The root over a set of leaves computed directly from the definition (no pages, node:crypto hashing): the reference
 * the tests and the crash check compare the paged tree against. `leaves` need not be sorted; keyHashes must be distinct.
 */
export function referenceRoot(leaves: readonly { keyHash: Uint8Array; valueHash: Uint8Array }[]): Uint8Array {
  const sorted = [...leaves].sort((a, b) => Buffer.compare(a.keyHash, b.keyHash));
  const rec = (lo: number, hi: number, bit: number): Uint8Array => {
    if (hi === lo) return new Uint8Array(HASH_BYTES);
    if (hi - lo === 1) return treeLeafHash(sorted[lo]!.keyHash, sorted[lo]!.valueHash);
    let mid = lo;
    while (mid < hi && ((sorted[mid]!.keyHash[bit >> 3]! >> (7 - (bit & 7))) & 1) === 0) mid++;
    return treeInnerHash(rec(lo, mid, bit + 1), rec(mid, hi, bit + 1));
  };
  return rec(0, sorted.length, 0);
}
