// The key-value view the VM runs on: synchronous reads, buffered writes, and overlays that commit or discard.
//
// The VM only gets, sets and deletes single keys (no range scans), so execution is synchronous and deterministic;
// any list the VM needs is an explicit state entry. Overlays stack: committed state <- block overlay <- tx overlay (or a
// savepoint of the block overlay).
import { assert } from '../core/errors.js';

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

/**
 * Key bytes that carry their latin1 string, the form the stores in this file index by. State keys built by the VM
 * (ASCII text) come as KeyBytes, so no layer converts bytes to a string again: that conversion cost ~1.7 µs per
 * access and dominated the VM's hot path (benchmarks/vm.ts). The bytes are exactly the string's char codes.
 */
export class KeyBytes extends Uint8Array {
  readonly #mapped: string;

  /** subarray/slice/map make plain Uint8Arrays (their bytes are not this string). */
  static get [Symbol.species](): Uint8ArrayConstructor {
    return Uint8Array;
  }

  /** `mapped` must be latin1 (every char code below 256); callers pass ASCII. */
  constructor(mapped: string) {
    const n = mapped.length;
    super(n);
    for (let i = 0; i < n; i++) this[i] = mapped.charCodeAt(i);
    this.#mapped = mapped;
  }

  get mapped(): string {
    return this.#mapped;
  }
}

function mapKey(key: Uint8Array): string {
  if (key instanceof KeyBytes) return key.mapped;
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
  /**
   * Undo log of the open savepoint as pairs (map key, previous entry: undefined when there was none), or null when
   * none is open. The VM runs each tx under a savepoint of the block's overlay instead of a tx overlay of its own:
   * reads then cross one layer fewer and a successful tx needs no copy of its writes.
   */
  private undo: (string | Uint8Array | null | undefined)[] | null = null;

  constructor(private readonly parent: KvReader) {}

  /** Starts recording how to undo this layer's writes (one savepoint at a time). */
  beginSavepoint(): void {
    assert(this.undo === null, 'savepoint already open');
    this.undo = [];
  }

  /** Keeps the writes made since beginSavepoint. */
  releaseSavepoint(): void {
    assert(this.undo !== null, 'no savepoint open');
    this.undo = null;
  }

  /** Undoes every write made since beginSavepoint: the layer is exactly as it was then. */
  rollbackSavepoint(): void {
    const undo = this.undo;
    assert(undo !== null, 'no savepoint open');
    for (let i = undo.length - 2; i >= 0; i -= 2) {
      const mk = undo[i] as string;
      const prev = undo[i + 1] as Uint8Array | null | undefined;
      if (prev === undefined) this.writes.delete(mk);
      else this.writes.set(mk, prev);
    }
    this.undo = null;
  }

  private write(mk: string, value: Uint8Array | null): void {
    const undo = this.undo;
    if (undo !== null) undo.push(mk, this.writes.get(mk));
    this.writes.set(mk, value);
  }

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
    this.write(mapKey(key), value);
  }

  setMapped(mk: string, value: Uint8Array): void {
    this.write(mk, value);
  }

  delete(key: Uint8Array): void {
    this.write(mapKey(key), null);
  }

  deleteMapped(mk: string): void {
    this.write(mk, null);
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
    assert(this.undo === null, 'clear during a savepoint');
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
