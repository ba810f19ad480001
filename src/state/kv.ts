// The key-value view the VM runs on: synchronous reads, buffered writes, and overlays that commit or discard.
//
// The VM only gets, sets and deletes single keys (no range scans), so execution is synchronous and deterministic;
// any list the VM needs is an explicit state entry. Overlays stack: committed state <- block overlay <- tx overlay.

export interface KvReader {
  get(key: Uint8Array): Uint8Array | undefined;
}

export interface KvWriter extends KvReader {
  set(key: Uint8Array, value: Uint8Array): void;
  delete(key: Uint8Array): void;
}

/** One change of a key: a new value, or null for a deletion. */
export interface KvChange {
  key: Uint8Array;
  value: Uint8Array | null;
}

function mapKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

function keyOf(mk: string): Uint8Array {
  return new Uint8Array(Buffer.from(mk, 'latin1'));
}

/**
 * Stores in this file keep keys as latin1 strings internally; stacked layers hand that string down instead of
 * converting the key again at every layer (the conversion dominated reads on the VM hot path).
 */
interface MappedKv {
  getMapped(mk: string, key: Uint8Array): Uint8Array | undefined;
  setMapped(mk: string, value: Uint8Array): void;
  deleteMapped(mk: string): void;
}

/** Exactly these two classes (a subclass may override get/set, so it takes the ordinary path). */
function isMapped(x: KvReader): x is KvReader & MappedKv {
  return x.constructor === Overlay || x.constructor === MemoryKv;
}

/** A writable layer over a reader. `commitTo` pushes its changes down; dropping it discards them. */
export class Overlay implements KvWriter, MappedKv {
  private readonly writes = new Map<string, Uint8Array | null>();

  constructor(private readonly parent: KvReader) {}

  get(key: Uint8Array): Uint8Array | undefined {
    return this.getMapped(mapKey(key), key);
  }

  getMapped(mk: string, key: Uint8Array): Uint8Array | undefined {
    const w = this.writes.get(mk);
    if (w === null) return undefined;
    if (w !== undefined) return w;
    const parent = this.parent;
    return isMapped(parent) ? parent.getMapped(mk, key) : parent.get(key);
  }

  set(key: Uint8Array, value: Uint8Array): void {
    this.writes.set(mapKey(key), value);
  }

  setMapped(mk: string, value: Uint8Array): void {
    this.writes.set(mk, value);
  }

  delete(key: Uint8Array): void {
    this.writes.set(mapKey(key), null);
  }

  deleteMapped(mk: string): void {
    this.writes.set(mk, null);
  }

  get size(): number {
    return this.writes.size;
  }

  /** Applies this layer's writes to `target` (usually the parent overlay). */
  commitTo(target: KvWriter): void {
    if (isMapped(target)) {
      for (const [mk, v] of this.writes) {
        if (v === null) target.deleteMapped(mk);
        else target.setMapped(mk, v);
      }
      return;
    }
    for (const [mk, v] of this.writes) {
      if (v === null) target.delete(keyOf(mk));
      else target.set(keyOf(mk), v);
    }
  }

  /** The changes in ascending key order (deterministic). */
  changes(): KvChange[] {
    return [...this.writes.keys()]
      .sort()
      .map((mk) => ({ key: keyOf(mk), value: this.writes.get(mk) ?? null }));
  }

  clear(): void {
    this.writes.clear();
  }
}

/** A plain in-memory store: the VM benchmark's "state in memory" and unit tests use it. */
export class MemoryKv implements KvWriter, MappedKv {
  private readonly map = new Map<string, Uint8Array>();

  get(key: Uint8Array): Uint8Array | undefined {
    return this.map.get(mapKey(key));
  }

  getMapped(mk: string): Uint8Array | undefined {
    return this.map.get(mk);
  }

  setMapped(mk: string, value: Uint8Array): void {
    this.map.set(mk, value);
  }

  deleteMapped(mk: string): void {
    this.map.delete(mk);
  }

  set(key: Uint8Array, value: Uint8Array): void {
    this.map.set(mapKey(key), value);
  }

  delete(key: Uint8Array): void {
    this.map.delete(mapKey(key));
  }

  get size(): number {
    return this.map.size;
  }

  *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    for (const [k, v] of this.map) yield [keyOf(k), v];
  }
}
