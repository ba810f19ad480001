// MemoryKv's committed values: reads give exactly the written bytes (also for views into larger buffers), the same
// array while the value is unchanged, and a commit never changes an array read before it.
import { describe, it, expect } from 'vitest';
import { KeyBytes, MemoryKv, Overlay } from '../../src/state/kv.js';
import { allocBytes } from '../../src/core/bytes.js';

const k = (s: string): KeyBytes => new KeyBytes(s);

/** A value carved from the middle of a larger buffer, with other bytes on both sides. */
function viewOf(bytes: number[]): Uint8Array {
  const buf = new Uint8Array(64).fill(0xee);
  buf.set(bytes, 10);
  return buf.subarray(10, 10 + bytes.length);
}

describe('MemoryKv committed values', () => {
  it('reads give exactly the written bytes (not their neighbours), the same view until the value changes', () => {
    const mem = new MemoryKv();
    const written = viewOf([1, 2, 3]);
    mem.set(k('a'), written);
    const first = mem.get(k('a'))!;
    expect([...first]).toEqual([1, 2, 3]);
    expect(first.byteLength).toBe(3);
    expect(mem.get(k('a'))).toBe(first);
    expect(mem.get(new Uint8Array(Buffer.from('a', 'latin1')))).toBe(first);

    // An overlay's write and commit: new bytes; the view read before still shows the old value (nothing mutated).
    const o = new Overlay(mem);
    o.set(k('a'), viewOf([9]));
    expect([...o.get(k('a'))!]).toEqual([9]);
    expect([...mem.get(k('a'))!]).toEqual([1, 2, 3]);
    o.commitTo(mem);
    const second = mem.get(k('a'))!;
    expect([...second]).toEqual([9]);
    expect(second).not.toBe(first);
    expect([...first]).toEqual([1, 2, 3]);
    expect(mem.size).toBe(1);
  });

  it('a rolled-back or discarded overlay write leaves the committed bytes readable as before', () => {
    const mem = new MemoryKv();
    mem.set(k('a'), allocBytes(2).fill(7));
    const o = new Overlay(mem);
    o.beginSavepoint();
    o.set(k('a'), Uint8Array.of(1));
    o.delete(k('b'));
    o.rollbackSavepoint();
    expect([...o.get(k('a'))!]).toEqual([7, 7]);
    o.set(k('a'), Uint8Array.of(2));
    o.discard();
    expect([...mem.get(k('a'))!]).toEqual([7, 7]);
    expect(mem.get(k('b'))).toBeUndefined();
    expect(mem.size).toBe(1);
  });
});
