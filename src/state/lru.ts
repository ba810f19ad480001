// A bounded cache with least-recently-used-like eviction (CLOCK, second chance), for tree pages and state values.
//
// CLOCK instead of a strict LRU list: a strict LRU on a JS Map (delete + re-insert on every hit) measured as the
// largest single cost of a block commit, and a two-generation scheme lost hot pages whenever the working set was
// larger than half the capacity. Here a hit costs one Map lookup and sets a bit; an insert into a full cache moves
// the clock hand past recently used entries (clearing their bit) to the first one not used since the last pass.
import { assert } from '../core/errors.js';

export class LruCache<K, V> {
  private readonly index = new Map<K, number>();
  private readonly keys: (K | undefined)[] = [];
  private readonly values: (V | undefined)[] = [];
  private readonly used: Uint8Array;
  private readonly free: number[] = [];
  private hand = 0;

  /** `onEvict` is called with each entry the clock evicts (not for delete or overwrite). */
  constructor(
    readonly capacity: number,
    private readonly onEvict?: (value: V, key: K) => void,
  ) {
    assert(Number.isInteger(capacity) && capacity >= 0, 'cache capacity must be a non-negative integer', { capacity });
    this.used = new Uint8Array(capacity);
  }

  get size(): number {
    return this.index.size;
  }

  has(key: K): boolean {
    return this.index.has(key);
  }

  /** The value without marking it used. */
  peek(key: K): V | undefined {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.values[i];
  }

  get(key: K): V | undefined {
    const i = this.index.get(key);
    if (i === undefined) return undefined;
    this.used[i] = 1;
    return this.values[i];
  }

  set(key: K, value: V): void {
    if (this.capacity === 0) return;
    const existing = this.index.get(key);
    if (existing !== undefined) {
      this.values[existing] = value;
      this.used[existing] = 1;
      return;
    }
    const slot = this.free.pop() ?? (this.keys.length < this.capacity ? this.keys.length : this.evict());
    this.keys[slot] = key;
    this.values[slot] = value;
    this.used[slot] = 0; // a new entry must be used again before the hand comes round to survive it
    this.index.set(key, slot);
  }

  /** Frees the first slot, from the hand on, not used since the hand last passed it. */
  private evict(): number {
    for (;;) {
      const i = this.hand;
      this.hand = (this.hand + 1) % this.capacity;
      if (this.used[i] === 1) {
        this.used[i] = 0;
        continue;
      }
      const k = this.keys[i];
      if (k !== undefined) {
        this.index.delete(k);
        const v = this.values[i];
        this.keys[i] = undefined;
        this.values[i] = undefined;
        if (v !== undefined) this.onEvict?.(v, k);
      }
      return i;
    }
  }

  delete(key: K): void {
    const i = this.index.get(key);
    if (i === undefined) return;
    this.index.delete(key);
    this.keys[i] = undefined;
    this.values[i] = undefined;
    this.used[i] = 0;
    this.free.push(i);
  }

  clear(): void {
    this.index.clear();
    this.keys.length = 0;
    this.values.length = 0;
    this.used.fill(0);
    this.free.length = 0;
    this.hand = 0;
  }
}
