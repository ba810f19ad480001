// The paged sparse Merkle tree: roots against the reference definition, collapse rules, page encoding, proofs.
import { describe, it, expect } from 'vitest';
import {
  applyUpdates,
  decodePage,
  encodePage,
  fastSha256,
  proveKeyHash,
  referenceRoot,
  sortUpdates,
  type Page,
  LEAF,
  INNER,
  type PageKey,
  type PageWrites,
  type TreeUpdate,
} from '../../src/state/smt.js';
import { verifyProof, treeLeafHash, encodeStateProof, decodeStateProof } from '../../src/state/proof.js';
import { sha256 } from '../../src/core/hash.js';
import { utf8, toHex } from '../../src/core/bytes.js';
import { InvariantError } from '../../src/core/errors.js';

/** An in-memory page store that applies each batch's writes, like ChainStore does after a commit. */
class MemTree {
  readonly pages = new Map<PageKey, Page>();
  readonly model = new Map<string, Uint8Array>();
  root: Uint8Array = new Uint8Array(32);
  loadPage = (key: PageKey): Page | undefined => this.pages.get(key);

  apply(changes: [string, string | null][]): PageWrites {
    const updates = changes.map(
      ([k, v]): TreeUpdate => ({
        keyHash: fastSha256(utf8(k)),
        valueHash: v === null ? null : fastSha256(utf8(v)),
      }),
    );
    const writes: PageWrites = new Map();
    this.root = applyUpdates(this, sortUpdates(updates), writes);
    for (const [k, { page }] of writes) {
      if (page === null) this.pages.delete(k);
      else this.pages.set(k, page);
    }
    for (const [k, v] of changes) {
      if (v === null) this.model.delete(k);
      else this.model.set(k, utf8(v));
    }
    return writes;
  }

  reference(): Uint8Array {
    return referenceRoot([...this.model].map(([k, v]) => ({ keyHash: sha256(utf8(k)), valueHash: sha256(v) })));
  }

  prove(k: string) {
    return proveKeyHash(this, sha256(utf8(k)));
  }
}

describe('state tree', () => {
  it('an empty tree has the all-zero root and proves any key absent', () => {
    const t = new MemTree();
    expect(toHex(t.root)).toBe('00'.repeat(32));
    t.apply([['nothing', null]]);
    expect(toHex(t.root)).toBe('00'.repeat(32));
    expect(t.pages.size).toBe(0);
    const p = t.prove('a');
    expect(p).toEqual({ siblings: [], leaf: null });
    expect(verifyProof(t.root, utf8('a'), null, p)).toBe(true);
    expect(verifyProof(t.root, utf8('a'), utf8('x'), p)).toBe(false);
  });

  it('a single entry collapses: the root is its leaf hash', () => {
    const t = new MemTree();
    t.apply([['k', 'v']]);
    expect(toHex(t.root)).toBe(toHex(treeLeafHash(sha256(utf8('k')), sha256(utf8('v')))));
    const p = t.prove('k');
    expect(p.siblings).toHaveLength(0);
    expect(verifyProof(t.root, utf8('k'), utf8('v'), p)).toBe(true);
    // Absence of another key is shown by the one leaf that sits where its path leads.
    const q = t.prove('other');
    expect(q.leaf).not.toBeNull();
    expect(verifyProof(t.root, utf8('other'), null, q)).toBe(true);
  });

  it('matches the reference root through inserts, updates and deletes, and returns to empty', () => {
    const t = new MemTree();
    const keys = Array.from({ length: 600 }, (_, i) => `acct/${i}`);
    t.apply(keys.map((k) => [k, `v1:${k}`]));
    expect(toHex(t.root)).toBe(toHex(t.reference()));
    t.apply(keys.filter((_, i) => i % 3 === 0).map((k) => [k, `v2:${k}`]));
    expect(toHex(t.root)).toBe(toHex(t.reference()));
    t.apply(keys.filter((_, i) => i % 2 === 0).map((k) => [k, null]));
    expect(toHex(t.root)).toBe(toHex(t.reference()));
    t.apply(keys.map((k) => [k, null]));
    expect(toHex(t.root)).toBe('00'.repeat(32));
    expect(t.pages.size).toBe(0); // every page collapsed and was deleted: nothing left behind
  });

  it('the root depends on the content only, not on the order or batching of writes', () => {
    const entries: [string, string][] = Array.from({ length: 300 }, (_, i) => [`k${i}`, `v${i * 7}`]);
    const a = new MemTree();
    a.apply(entries);
    const b = new MemTree();
    for (const e of [...entries].reverse()) b.apply([e]);
    const c = new MemTree();
    c.apply([...entries.slice(0, 100), ['extra', 'x']]);
    c.apply([['extra', null], ...entries.slice(100)]);
    expect(toHex(b.root)).toBe(toHex(a.root));
    expect(toHex(c.root)).toBe(toHex(a.root));
    // Same content, same pages: the structure is canonical.
    expect([...b.pages.keys()].sort()).toEqual([...a.pages.keys()].sort());
  });

  it('rewriting a key with its current value changes no page', () => {
    const t = new MemTree();
    t.apply([
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
    ]);
    const root = t.root;
    const writes = t.apply([
      ['b', '2'],
      ['missing', null],
    ]);
    expect(writes.size).toBe(0);
    expect(toHex(t.root)).toBe(toHex(root));
  });

  it('handles key hashes that share long prefixes (deep page chains) and collapses them again', () => {
    // Crafted key hashes: all share the first 250 bits, so the tree nests pages down to depth 62.
    const base = Buffer.alloc(32, 0xab);
    const mk = (last: number): Buffer => {
      const h = Buffer.from(base);
      h[31] = (h[31]! & 0xc0) | last;
      return h;
    };
    const leaves = [1, 2, 3, 40].map((x) => ({ keyHash: mk(x), valueHash: fastSha256(Buffer.from([x])) }));
    const pages = new Map<PageKey, Page>();
    const src = { loadPage: (key: PageKey) => pages.get(key) };
    const apply = (ups: TreeUpdate[]): Uint8Array => {
      const w: PageWrites = new Map();
      const r = applyUpdates(src, sortUpdates(ups), w);
      for (const [k, { page }] of w) {
        if (page === null) pages.delete(k);
        else pages.set(k, page);
      }
      return r;
    };
    const root = apply(leaves);
    expect(toHex(root)).toBe(toHex(referenceRoot(leaves)));
    expect(pages.size).toBeGreaterThan(60);
    const p = proveKeyHash(src, leaves[0]!.keyHash);
    expect(p.siblings.length).toBeGreaterThan(248);
    const root2 = apply(leaves.slice(1).map((l) => ({ keyHash: l.keyHash, valueHash: null })));
    expect(toHex(root2)).toBe(toHex(referenceRoot(leaves.slice(0, 1))));
    expect(pages.size).toBe(1); // only the root page, holding the one remaining leaf
  });

  it('proves every present key and many absent ones; wrong values and keys fail', () => {
    const t = new MemTree();
    t.apply(Array.from({ length: 400 }, (_, i) => [`key-${i}`, `value-${i}`]));
    for (let i = 0; i < 400; i += 7) {
      const p = t.prove(`key-${i}`);
      expect(verifyProof(t.root, utf8(`key-${i}`), utf8(`value-${i}`), p), `key-${i}`).toBe(true);
      expect(verifyProof(t.root, utf8(`key-${i}`), utf8(`value-${i}!`), p)).toBe(false);
      expect(verifyProof(t.root, utf8(`key-${i}`), null, p)).toBe(false);
      expect(verifyProof(t.root, utf8(`key-${i + 1}`), utf8(`value-${i}`), p)).toBe(false);
    }
    for (let i = 0; i < 60; i++) {
      const k = `absent-${i}`;
      const p = t.prove(k);
      expect(verifyProof(t.root, utf8(k), null, p), k).toBe(true);
      expect(verifyProof(t.root, utf8(k), utf8('anything'), p)).toBe(false);
      // The proof bytes round trip canonically and verify as bytes too.
      const bytes = encodeStateProof(p);
      expect(toHex(encodeStateProof(decodeStateProof(bytes)))).toBe(toHex(bytes));
      expect(verifyProof(t.root, utf8(k), null, bytes)).toBe(true);
    }
  });

  it('verifyProof returns false (never throws) on garbage', () => {
    const root = new Uint8Array(32);
    expect(verifyProof(root, utf8('k'), null, new Uint8Array([1, 2, 3]))).toBe(false);
    expect(verifyProof(new Uint8Array(5), utf8('k'), null, { siblings: [], leaf: null })).toBe(false);
    expect(verifyProof(root, utf8('k'), null, { siblings: [new Uint8Array(31)], leaf: null })).toBe(false);
    expect(verifyProof(root, utf8('k'), null, { siblings: Array(257).fill(new Uint8Array(32)), leaf: null })).toBe(
      false,
    );
  });

  it('encodes pages compactly and decodes them to the same hashes; corrupt pages are refused', () => {
    const t = new MemTree();
    t.apply(Array.from({ length: 200 }, (_, i) => [`p${i}`, `v${i}`]));
    for (const page of t.pages.values()) {
      const bytes = encodePage(page);
      const again = decodePage(bytes);
      expect(toHex(again.rootHash())).toBe(toHex(page.rootHash()));
      expect(toHex(encodePage(again))).toBe(toHex(bytes));
      let leaves = 0;
      let children = 0;
      for (let s = 0; s < 16; s++) {
        if (page.slotKind(s) === LEAF) leaves++;
        if (page.slotKind(s) === INNER) children++;
      }
      expect(bytes.length).toBe(4 + 64 * leaves + 32 * children);
    }
    const some = encodePage([...t.pages.values()][0]!);
    expect(() => decodePage(some.subarray(0, some.length - 1))).toThrow(InvariantError);
    expect(() => decodePage(new Uint8Array([...some, 0]))).toThrow(InvariantError);
    expect(() => decodePage(new Uint8Array([0, 1, 0, 1]))).toThrow(InvariantError);
    expect(() => decodePage(new Uint8Array([0]))).toThrow(InvariantError);
  });
});
