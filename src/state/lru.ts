// A bounded cache with least-recently-used-like eviction, for tree pages and state values.
//
// Two generations instead of a strict LRU list: a strict LRU on a JS Map (delete + re-insert on every hit) measured
// as the single largest cost of a block commit. Here hits in the young generation cost one lookup; when the young
// generation fills, the old one is dropped whole and the young one becomes old. Entries used within the last
// capacity/2 insertions always survive; at most `capacity` entries are held.
import { assert } from '../core/errors.js';

export class LruCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 0, 'cache capacity must be a non-negative integer', { capacity });
    this.half = Math.max(1, Math.floor(capacity / 2));
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  has(key: K): boolean {
    return this.young.has(key) || this.old.has(key);
  }

  /** Returns the value; a hit in the old generation moves it to the young one. */
  get(key: K): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) {
      this.old.delete(key);
      this.insert(key, o);
    }
    return o;
  }

  set(key: K, value: V): void {
    if (this.capacity === 0) return;
    this.old.delete(key);
    this.insert(key, value);
  }

  private insert(key: K, value: V): void {
    if (!this.young.has(key) && this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  delete(key: K): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }
}
