// The state tree against a plain Map model over random operation sequences: roots, proofs, tampering, order.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  applyUpdates,
  fastSha256,
  proveKeyHash,
  referenceRoot,
  sortUpdates,
  type Page,
  type PageKey,
  type PageWrites,
} from '../../src/state/smt.js';
import { verifyProof, type StateProof } from '../../src/state/proof.js';
import { sha256 } from '../../src/core/hash.js';
import { toHex, utf8 } from '../../src/core/bytes.js';

type Op = [key: string, value: string | null];

/** The paged tree over an in-memory page map, driven like ChainStore drives it (copy-on-write, then apply writes). */
class Tree {
  private readonly pages = new Map<PageKey, Page>();
  root: Uint8Array = new Uint8Array(32);
  readonly loadPage = (key: PageKey): Page | undefined => this.pages.get(key);

  apply(batch: Op[]): void {
    const last = new Map<string, string | null>(batch);
    const updates = [...last].map(([k, v]) => ({
      keyHash: fastSha256(utf8(k)),
      valueHash: v === null ? null : fastSha256(utf8(v)),
    }));
    const writes: PageWrites = new Map();
    this.root = applyUpdates(this, sortUpdates(updates), writes);
    for (const [k, { page }] of writes) {
      if (page === null) this.pages.delete(k);
      else this.pages.set(k, page);
    }
  }

  prove(key: string): StateProof {
    return proveKeyHash(this, sha256(utf8(key)));
  }
}

function applyModel(model: Map<string, string>, batch: Op[]): void {
  for (const [k, v] of batch) {
    if (v === null) model.delete(k);
    else model.set(k, v);
  }
}

const modelRoot = (model: Map<string, string>): Uint8Array =>
  referenceRoot([...model].map(([k, v]) => ({ keyHash: sha256(utf8(k)), valueHash: sha256(utf8(v)) })));

// A small key space so that updates, deletes and re-inserts of the same keys are frequent.
const keyArb = fc.integer({ min: 0, max: 120 }).map((i) => `k/${i}`);
const opArb: fc.Arbitrary<Op> = fc.tuple(keyArb, fc.option(fc.string({ maxLength: 6 }), { freq: 4, nil: null }));
const batchesArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 8 });

/** Every way of corrupting one proof: a flipped bit in a sibling or the leaf, a sibling dropped, added or swapped. */
function tamperings(p: StateProof, pick: number): StateProof[] {
  const out: StateProof[] = [];
  const flip = (b: Uint8Array, i: number): Uint8Array => {
    const c = new Uint8Array(b);
    c[i % c.length]! ^= 1 << (pick % 8);
    return c;
  };
  if (p.siblings.length > 0) {
    const at = pick % p.siblings.length;
    out.push({ ...p, siblings: p.siblings.map((s, i) => (i === at ? flip(s, pick) : s)) });
    out.push({ ...p, siblings: p.siblings.slice(0, -1) });
    out.push({ ...p, siblings: p.siblings.slice(1) });
  }
  out.push({ ...p, siblings: [...p.siblings, new Uint8Array(32)] });
  out.push({ ...p, siblings: [new Uint8Array(32), ...p.siblings] });
  if (p.leaf !== null) {
    out.push({ ...p, leaf: { keyHash: flip(p.leaf.keyHash, pick), valueHash: p.leaf.valueHash } });
    out.push({ ...p, leaf: { keyHash: p.leaf.keyHash, valueHash: flip(p.leaf.valueHash, pick) } });
    out.push({ ...p, leaf: null });
  } else {
    out.push({ ...p, leaf: { keyHash: sha256(utf8('x')), valueHash: sha256(utf8('y')) } });
  }
  return out;
}

describe('state tree vs a Map model', () => {
  it('root equals the model root after every batch; every proof verifies; tampered proofs, keys and values fail', () => {
    fc.assert(
      fc.property(batchesArb, fc.nat(), (batches, pick) => {
        const tree = new Tree();
        const model = new Map<string, string>();
        for (const batch of batches) {
          tree.apply(batch);
          applyModel(model, batch);
          expect(toHex(tree.root)).toBe(toHex(modelRoot(model)));
        }
        for (let i = 0; i <= 120; i += 3) {
          const key = `k/${i}`;
          const value = model.get(key) ?? null;
          const v = value === null ? null : utf8(value);
          const proof = tree.prove(key);
          expect(verifyProof(tree.root, utf8(key), v, proof), key).toBe(true);
          // A wrong value: another string, or presence claimed for an absent key, or absence for a present one.
          expect(verifyProof(tree.root, utf8(key), utf8(`${value ?? ''}!`), proof)).toBe(false);
          if (v !== null) expect(verifyProof(tree.root, utf8(key), null, proof)).toBe(false);
          // A wrong key: a presence proof never proves another key; an absence proof never hides a present key.
          const other = `k/${(i + 1 + (pick % 119)) % 121}`;
          if (v !== null) expect(verifyProof(tree.root, utf8(other), v, proof)).toBe(false);
          if (v === null && model.has(other)) expect(verifyProof(tree.root, utf8(other), null, proof)).toBe(false);
          for (const bad of tamperings(proof, pick + i)) {
            expect(verifyProof(tree.root, utf8(key), v, bad)).toBe(false);
          }
        }
        // A wrong root.
        const anyKey = 'k/0';
        const rootFlip = new Uint8Array(tree.root);
        rootFlip[0]! ^= 1;
        expect(
          verifyProof(rootFlip, utf8(anyKey), model.has(anyKey) ? utf8(model.get(anyKey)!) : null, tree.prove(anyKey)),
        ).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it('proves absence for keys never written', () => {
    fc.assert(
      fc.property(
        batchesArb,
        fc.array(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 20 }),
        (batches, probes) => {
          const tree = new Tree();
          const model = new Map<string, string>();
          for (const b of batches) {
            tree.apply(b);
            applyModel(model, b);
          }
          for (const probe of probes) {
            const key = `absent/${probe}`;
            const proof = tree.prove(key);
            expect(proof.leaf === null || toHex(proof.leaf.keyHash) !== toHex(sha256(utf8(key)))).toBe(true);
            expect(verifyProof(tree.root, utf8(key), null, proof)).toBe(true);
            expect(verifyProof(tree.root, utf8(key), utf8('v'), proof)).toBe(false);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('the same content gives the same root whatever the order and batching of writes', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(keyArb, fc.string({ maxLength: 6 })), {
          selector: (e) => e[0],
          minLength: 0,
          maxLength: 80,
        }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        fc.array(keyArb, { maxLength: 20 }),
        (entries, cuts, noise) => {
          const a = new Tree();
          a.apply(entries);
          // Reverse order, split into batches at arbitrary cuts, with keys written then deleted in between.
          const b = new Tree();
          const rev = [...entries].reverse();
          let start = 0;
          for (const c of cuts) {
            const end = Math.min(rev.length, start + (c % 20));
            b.apply([...noise.map((k): Op => [`noise/${k}`, 'tmp']), ...rev.slice(start, end)]);
            start = end;
          }
          b.apply([...rev.slice(start), ...noise.map((k): Op => [`noise/${k}`, null])]);
          expect(toHex(b.root)).toBe(toHex(a.root));
          expect(toHex(a.root)).toBe(toHex(modelRoot(new Map(entries))));
        },
      ),
      { numRuns: 80 },
    );
  });
});
