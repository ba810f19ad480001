// Property: an Overlay over a MemoryKv in cell mode (its writes kept in the store's cells) behaves exactly like one in
// map mode and like a plain model: reads, savepoints (release and rollback), changes, commit, clear, and a second
// overlay (map mode) working on the same store at the same time.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { KeyBytes, MemoryKv, Overlay } from '../../src/state/kv.js';
import { allocBytes } from '../../src/core/bytes.js';

const KEYS = ['a/1', 'a/2', 'b/1', 'b/22', 'c'];
/** Values of their own and views into shared slabs (allocBytes: a non-zero offset in a larger buffer), by parity. */
const val = (n: number): Uint8Array => {
  if (n % 2 === 0) return Uint8Array.of(n);
  const b = allocBytes(1);
  b[0] = n;
  return b;
};
/** Memoised KeyBytes (as the VM's hot keys are), fresh KeyBytes and plain bytes all name the same entry. */
const memo = new Map(KEYS.map((k) => [k, new KeyBytes(k)]));
const keyForm = (k: string, form: number): Uint8Array =>
  form === 0 ? memo.get(k)! : form === 1 ? new KeyBytes(k) : new Uint8Array(Buffer.from(k, 'latin1'));

type Op =
  | { k: 'set'; key: string; v: number; form: number }
  | { k: 'del'; key: string; form: number }
  | { k: 'get'; key: string; form: number }
  | { k: 'begin' | 'release' | 'rollback' | 'commit' | 'clear' | 'other' | 'direct'; key: string; v: number };

const key = fc.constantFrom(...KEYS);
const form = fc.integer({ min: 0, max: 2 });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ k: fc.constant('set' as const), key, v: fc.integer({ min: 0, max: 255 }), form }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('del' as const), key, form }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('get' as const), key, form }) },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constantFrom(
        'begin' as const,
        'release' as const,
        'rollback' as const,
        'commit' as const,
        'clear' as const,
        'other' as const,
        'direct' as const,
      ),
      key,
      v: fc.integer({ min: 0, max: 255 }),
    }),
  },
);

/** The model: committed entries, the layer's writes (null = deleted) and a savepoint's copy of them. */
class Model {
  base = new Map<string, number>();
  writes = new Map<string, number | null>();
  saved: Map<string, number | null> | null = null;
  get(k: string): number | undefined {
    const w = this.writes.get(k);
    return w === null ? undefined : w !== undefined ? w : this.base.get(k);
  }
}

const dumpStore = (m: MemoryKv): string[] =>
  [...m.entries()].map(([k, v]) => `${Buffer.from(k).toString('latin1')}=${v[0]}`).sort();
const dumpModel = (m: Map<string, number>): string[] => [...m].map(([k, v]) => `${k}=${v}`).sort();

describe('Overlay cell mode (property)', () => {
  it('matches the model through writes, savepoints, commits, clears and a concurrent map-mode overlay', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => {
        const mem = new MemoryKv();
        let o = new Overlay(mem);
        const model = new Model();
        for (const x of ops) {
          switch (x.k) {
            case 'set':
              o.set(keyForm(x.key, x.form), val(x.v));
              model.writes.set(x.key, x.v);
              break;
            case 'del':
              o.delete(keyForm(x.key, x.form));
              model.writes.set(x.key, null);
              break;
            case 'get':
              expect(o.get(keyForm(x.key, x.form))?.[0], x.key).toBe(model.get(x.key));
              break;
            case 'begin':
              if (model.saved !== null) break;
              o.beginSavepoint();
              model.saved = new Map(model.writes);
              break;
            case 'release':
              if (model.saved === null) break;
              o.releaseSavepoint();
              model.saved = null;
              break;
            case 'rollback':
              if (model.saved === null) break;
              o.rollbackSavepoint();
              model.writes = model.saved;
              model.saved = null;
              break;
            case 'commit':
              if (model.saved !== null) break;
              o.commitTo(mem);
              for (const [k, v] of model.writes) {
                if (v === null) model.base.delete(k);
                else model.base.set(k, v);
              }
              model.writes.clear();
              // A committed overlay is dropped; the next one takes the store's cell mode again.
              o = new Overlay(mem);
              break;
            case 'clear':
              if (model.saved !== null) break;
              o.clear();
              model.writes.clear();
              break;
            case 'other': {
              // Another overlay (map mode while `o` holds the cells) commits one write straight into the store.
              const other = new Overlay(mem);
              if (x.v % 2 === 0) other.set(keyForm(x.key, 1), val(x.v));
              else other.delete(keyForm(x.key, 2));
              expect(other.get(keyForm(x.key, 0))?.[0]).toBe(x.v % 2 === 0 ? x.v : undefined);
              other.commitTo(mem);
              if (x.v % 2 === 0) model.base.set(x.key, x.v);
              else model.base.delete(x.key);
              break;
            }
            case 'direct':
              mem.set(keyForm(x.key, 0), val(x.v));
              model.base.set(x.key, x.v);
              break;
          }
          for (const k of KEYS) expect(o.get(keyForm(k, 0))?.[0], `read ${k}`).toBe(model.get(k));
          expect(mem.size).toBe(model.base.size);
          expect(dumpStore(mem)).toEqual(dumpModel(model.base));
        }
        const changes = o
          .changes()
          .map((c) => `${Buffer.from(c.key).toString('latin1')}=${c.value === null ? 'del' : c.value[0]}`);
        const expected = [...model.writes]
          .sort((a, b) => (a[0] < b[0] ? -1 : 1))
          .map(([k, v]) => `${k}=${v === null ? 'del' : v}`);
        expect(changes).toEqual(expected);
        expect(o.size).toBe(model.writes.size);
      }),
      { numRuns: 400 },
    );
  });

  it('an abandoned overlay leaves the store correct for the next ones (they work in map mode)', () => {
    const mem = new MemoryKv();
    mem.set(new KeyBytes('k'), val(1));
    const abandoned = new Overlay(mem);
    abandoned.set(new KeyBytes('k'), val(2));
    abandoned.set(new KeyBytes('new'), val(3));
    const next = new Overlay(mem);
    expect(next.get(new KeyBytes('k'))?.[0]).toBe(1);
    expect(next.get(new KeyBytes('new'))).toBeUndefined();
    next.set(new KeyBytes('k'), val(4));
    next.commitTo(mem);
    expect(dumpStore(mem)).toEqual(['k=4']);
    expect(mem.size).toBe(1);
    abandoned.discard();
    expect(dumpStore(mem)).toEqual(['k=4']);
    // The store's cell mode is free again.
    const after = new Overlay(mem);
    after.delete(new KeyBytes('k'));
    after.commitTo(mem);
    expect(mem.size).toBe(0);
  });
});
