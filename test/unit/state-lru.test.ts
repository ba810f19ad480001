// The bounded page/value cache: never holds more than its capacity, keeps entries in use, forgets idle ones.
import { describe, it, expect } from 'vitest';
import { LruCache } from '../../src/state/lru.js';
import { InvariantError } from '../../src/core/errors.js';

describe('LruCache (CLOCK)', () => {
  it('never holds more than its capacity', () => {
    const c = new LruCache<number, string>(100);
    for (let i = 0; i < 10_000; i++) {
      c.set(i, `v${i}`);
      expect(c.size).toBeLessThanOrEqual(100);
    }
    expect(c.size).toBe(100);
  });

  it('keeps a hot working set while a stream of one-off entries passes through', () => {
    const c = new LruCache<string, number>(1000);
    const hot = Array.from({ length: 600 }, (_, i) => `hot${i}`);
    for (const k of hot) c.set(k, 1);
    for (let round = 0; round < 50; round++) {
      for (const k of hot) if (c.get(k) === undefined) c.set(k, 1);
      for (let j = 0; j < 300; j++) c.set(`cold${round}-${j}`, 0);
    }
    // Everything hot was used each round, so nearly all of it survived the cold stream.
    const kept = hot.filter((k) => c.has(k)).length;
    expect(kept).toBeGreaterThan(550);
    expect(c.size).toBeLessThanOrEqual(1000);
  });

  it('updates values in place, deletes, clears, and reuses freed slots', () => {
    const c = new LruCache<number, string>(3);
    c.set(1, 'a');
    c.set(1, 'b');
    expect(c.get(1)).toBe('b');
    expect(c.size).toBe(1);
    c.set(2, 'x');
    c.set(3, 'y');
    c.delete(2);
    expect(c.has(2)).toBe(false);
    expect(c.get(2)).toBeUndefined();
    c.set(4, 'z');
    expect(c.size).toBe(3);
    expect([c.get(1), c.get(3), c.get(4)]).toEqual(['b', 'y', 'z']);
    c.clear();
    expect(c.size).toBe(0);
    c.set(5, 'q');
    expect(c.get(5)).toBe('q');
  });

  it('a zero capacity caches nothing; a negative one is refused', () => {
    const c = new LruCache<number, number>(0);
    c.set(1, 1);
    expect(c.get(1)).toBeUndefined();
    expect(() => new LruCache(-1)).toThrow(InvariantError);
  });
});
