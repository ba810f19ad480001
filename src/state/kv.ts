// The key-value view the VM runs on: synchronous reads, buffered writes, and overlays that commit or discard.
//
// The VM only gets, sets and deletes single keys (no range scans), so execution is synchronous and deterministic;
// any list the VM needs is an explicit state entry. Overlays stack: committed state <- block overlay <- tx overlay (or a
// savepoint of the block overlay).
import { assert } from '../core/errors.js';
import { allocLasting } from '../core/bytes.js';

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
 *
 * A key also remembers the MemoryKv cell it last found (`cell`), so a memoised key reaches its entry without a map
 * lookup; a stale or foreign cell is detected and looked up again.
 *
 * A key made for a long-lived cache (`KeyBytes.lasting`) keeps its bytes in memory shared with other such keys: one
 * heap object instead of three (a small typed array of its own is the array, its ArrayBuffer and the bytes), which
 * V8's full collections then have fewer of to mark. Short-lived keys keep their own bytes, so they never pin shared
 * memory.
 */
export class KeyBytes extends Uint8Array {
  /** The key's latin1 string (its bytes are exactly this string's char codes). */
  declare readonly mapped: string;
  /** The cell this key last resolved to in a MemoryKv (checked against the store and for liveness on use). */
  declare cell: Cell | undefined;

  /** subarray/slice/map make plain Uint8Arrays (their bytes are not this string). */
  static get [Symbol.species](): Uint8ArrayConstructor {
    return Uint8Array;
  }

  /**
   * `mapped` must be latin1 (every char code below 256); callers pass ASCII. `storage`, when given, is fresh memory
   * of at least `mapped.length` bytes that the key's bytes are written into (a view of it).
   */
  constructor(mapped: string, storage?: Uint8Array<ArrayBuffer>) {
    const n = mapped.length;
    if (storage === undefined) super(n);
    else super(storage.buffer, storage.byteOffset, n);
    for (let i = 0; i < n; i++) this[i] = mapped.charCodeAt(i);
    this.mapped = mapped;
    this.cell = undefined;
  }

  /**
   * The same key for a long-lived cache (memoised keys, the VM's sender cache): its bytes in lasting shared memory
   * (allocLasting). Any other key comes back as it is.
   */
  static lasting(key: Uint8Array): Uint8Array {
    if (!(key instanceof KeyBytes)) return key;
    return new KeyBytes(key.mapped, allocLasting(key.length));
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

/**
 * One MemoryKv entry. Besides the committed value it holds the pending write of the one overlay that works on the
 * store in cell mode (see Overlay), so that overlay reads and writes a key through the cell its KeyBytes remembers:
 * no map lookup in the overlay, none in the store, and no re-insertion at commit.
 */
export class Cell {
  /** Committed value; undefined while the cell only holds a pending write for an absent key. */
  value: Uint8Array | undefined;
  /** The owner's pending write: a value, or null for a deletion. Meaningful only while `owner` is set. */
  pending: Uint8Array | null = null;
  /** The cell-mode overlay whose write `pending` is, or null. */
  owner: Overlay | null = null;
  /** Removed from its store: keys that remember it look the key up again. */
  dead = false;

  constructor(
    readonly kv: MemoryKv,
    readonly mk: string,
    value: Uint8Array | undefined,
  ) {
    this.value = value;
  }
}

/** An undo entry's "the overlay did not own this cell before" marker. */
const NOT_OWNED = 0;

type UndoLog = (string | Cell | Uint8Array | null | undefined | typeof NOT_OWNED)[];

/**
 * A writable layer over a reader. `commitTo` pushes its changes down; dropping it discards them.
 *
 * Two representations, the same behaviour (property-tested against each other, test/property/kv-cells.test.ts):
 * - map mode: the layer's writes in a Map by key string; reads that miss go to the parent.
 * - cell mode, when the parent is a MemoryKv no other overlay is using in cell mode: writes are kept in the store's
 *   cells as pending values owned by this overlay, and `touched` lists them. A read or write is then one cell access
 *   (a memoised key finds its cell directly), and commit assigns the pending values in place. The VM benchmark's
 *   state in memory runs this way; a 20,000-loan store made each map lookup cost ~0.3-0.8 µs.
 * After commitTo or clear the overlay holds nothing and gives up cell mode (it continues in map mode), so the next
 * overlay can take it. An overlay dropped without either keeps the store's cell mode to itself: later overlays work
 * in map mode, correct and slower; `discard()` hands it back.
 */
export class Overlay implements KvWriter, MappedKv {
  private readonly writes = new Map<string, Uint8Array | null>();
  /** The store whose cells hold this overlay's writes (cell mode), or null (map mode). */
  private cells: MemoryKv | null = null;
  /** Cell mode: the cells this overlay owns, each once, in first-write order. */
  private touched: Cell[] = [];
  /**
   * Undo log of the open savepoint, or null when none is open. Map mode: pairs (map key, previous entry: undefined
   * when there was none). Cell mode: pairs (cell, previous pending value or NOT_OWNED). The VM runs each tx under a
   * savepoint of the block's overlay instead of a tx overlay of its own: reads then cross one layer fewer and a
   * successful tx needs no copy of its writes.
   */
  private undo: UndoLog | null = null;
  /**
   * The undo log's storage, reused by every savepoint. Entries past `undoLen` are stale. Written by index and never
   * truncated: `length = 0` frees an array's backing store in V8, so each tx's savepoint grew a new one (~190 B per tx
   * in benchmarks/vm.ts). Stale entries keep at most one savepoint's worth of cells and values reachable.
   */
  private readonly undoLog: UndoLog = [];
  private undoLen = 0;
  /** touched.length when the savepoint began (cell mode): a rollback un-owns the cells after it. */
  private touchedMark = 0;

  constructor(private readonly parent: KvReader) {
    if (parent.constructor === MemoryKv) {
      const mem = parent as MemoryKv;
      if (mem.cellOverlay === null) {
        mem.cellOverlay = this;
        this.cells = mem;
      }
    }
  }

  /** Starts recording how to undo this layer's writes (one savepoint at a time). */
  beginSavepoint(): void {
    assert(this.undo === null, 'savepoint already open');
    this.undoLen = 0;
    this.undo = this.undoLog;
    this.touchedMark = this.touched.length;
  }

  /** Keeps the writes made since beginSavepoint. */
  releaseSavepoint(): void {
    assert(this.undo !== null, 'no savepoint open');
    this.undoLen = 0;
    this.undo = null;
  }

  /** Undoes every write made since beginSavepoint: the layer is exactly as it was then. */
  rollbackSavepoint(): void {
    const undo = this.undo;
    assert(undo !== null, 'no savepoint open');
    if (this.cells !== null) {
      for (let i = this.undoLen - 2; i >= 0; i -= 2) {
        const cell = undo[i] as Cell;
        const prev = undo[i + 1] as Uint8Array | null | typeof NOT_OWNED;
        if (prev === NOT_OWNED) {
          cell.owner = null;
          cell.pending = null;
          if (cell.value === undefined) cell.kv.dropCell(cell);
        } else {
          cell.pending = prev;
        }
      }
      this.touched.length = this.touchedMark;
    } else {
      for (let i = this.undoLen - 2; i >= 0; i -= 2) {
        const mk = undo[i] as string;
        const prev = undo[i + 1] as Uint8Array | null | undefined;
        if (prev === undefined) this.writes.delete(mk);
        else this.writes.set(mk, prev);
      }
    }
    this.undoLen = 0;
    this.undo = null;
  }

  /** Appends one undo pair (what was changed, what it held) to the open savepoint's log. */
  private logUndo(what: string | Cell, prev: UndoLog[number]): void {
    const log = this.undoLog;
    const n = this.undoLen;
    log[n] = what;
    log[n + 1] = prev;
    this.undoLen = n + 2;
  }

  private write(mk: string, value: Uint8Array | null): void {
    if (this.undo !== null) this.logUndo(mk, this.writes.get(mk));
    this.writes.set(mk, value);
  }

  private writeCell(cell: Cell, value: Uint8Array | null): void {
    const undo = this.undo;
    if (cell.owner !== this) {
      if (undo !== null) this.logUndo(cell, NOT_OWNED);
      cell.owner = this;
      this.touched.push(cell);
    } else if (undo !== null) {
      this.logUndo(cell, cell.pending);
    }
    cell.pending = value;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const mem = this.cells;
    if (mem !== null) {
      const cell = mem.cellOf(key);
      if (cell === undefined) return undefined;
      return cell.owner === this ? (cell.pending ?? undefined) : cell.value;
    }
    return this.getMapped(mapKey(key), key);
  }

  getMapped(mk: string, key: Uint8Array): Uint8Array | undefined {
    const mem = this.cells;
    if (mem !== null) {
      const cell = key instanceof KeyBytes ? mem.cellOf(key) : mem.cellByMapped(mk);
      if (cell === undefined) return undefined;
      return cell.owner === this ? (cell.pending ?? undefined) : cell.value;
    }
    const w = this.writes.get(mk);
    if (w === null) return undefined;
    if (w !== undefined) return w;
    const parent = this.parent;
    return isMapped(parent) ? parent.getMapped(mk, key) : parent.get(key);
  }

  set(key: Uint8Array, value: Uint8Array): void {
    const mem = this.cells;
    if (mem !== null) this.writeCell(mem.cellFor(key), value);
    else this.write(mapKey(key), value);
  }

  setMapped(mk: string, value: Uint8Array): void {
    const mem = this.cells;
    if (mem !== null) this.writeCell(mem.cellForMapped(mk), value);
    else this.write(mk, value);
  }

  delete(key: Uint8Array): void {
    const mem = this.cells;
    if (mem !== null) this.writeCell(mem.cellFor(key), null);
    else this.write(mapKey(key), null);
  }

  deleteMapped(mk: string): void {
    const mem = this.cells;
    if (mem !== null) this.writeCell(mem.cellForMapped(mk), null);
    else this.write(mk, null);
  }

  /** Number of keys this layer writes or deletes. */
  get size(): number {
    return this.cells !== null ? this.touched.length : this.writes.size;
  }

  /** The layer's writes as (map key, value or null), in no particular order. */
  private *entries(): IterableIterator<[string, Uint8Array | null]> {
    if (this.cells !== null) {
      for (const c of this.touched) yield [c.mk, c.pending];
    } else {
      yield* this.writes;
    }
  }

  /** Applies this layer's writes to `target` (usually the parent, and then this layer is left empty). */
  commitTo(target: KvWriter): void {
    const mem = this.cells;
    if (mem !== null && target === mem) {
      assert(this.undo === null, 'commit during a savepoint');
      // Indexed: runs once per block, often before it is optimised, and an iterator allocates a result per cell.
      const touched = this.touched;
      for (let i = 0; i < touched.length; i++) mem.applyPending(touched[i]!);
      this.touched = [];
      this.leaveCellMode();
      return;
    }
    if (isMapped(target)) {
      for (const [mk, v] of this.entries()) {
        if (v === null) target.deleteMapped(mk);
        else target.setMapped(mk, v);
      }
      return;
    }
    for (const [mk, v] of this.entries()) {
      if (v === null) target.delete(keyOf(mk));
      else target.set(keyOf(mk), v);
    }
  }

  /** The changes in ascending key order (deterministic). */
  changes(): KvChange[] {
    const all = [...this.entries()];
    all.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return all.map(([mk, v]) => ({ key: keyOf(mk), value: v }));
  }

  /** Drops every write; the layer then reads through to its parent. */
  clear(): void {
    assert(this.undo === null, 'clear during a savepoint');
    if (this.cells !== null) {
      for (const c of this.touched) {
        c.owner = null;
        c.pending = null;
        if (c.value === undefined) c.kv.dropCell(c);
      }
      this.touched = [];
      this.leaveCellMode();
    }
    this.writes.clear();
  }

  /** Drops every write and gives the store's cell mode back (an overlay that will not be committed). */
  discard(): void {
    this.clear();
  }

  /** An empty cell-mode overlay continues in map mode (lossless: it holds no writes) and frees the store. */
  private leaveCellMode(): void {
    const mem = this.cells;
    if (mem !== null && mem.cellOverlay === this) mem.cellOverlay = null;
    this.cells = null;
  }
}

/** A plain in-memory store: the VM benchmark's "state in memory" and unit tests use it. */
export class MemoryKv implements KvWriter, MappedKv {
  /** Every live entry, plus cells that only hold a pending write of the cell-mode overlay (value undefined). */
  private readonly map = new Map<string, Cell>();
  private live = 0;
  /** The overlay working on this store in cell mode, if any (see Overlay). */
  cellOverlay: Overlay | null = null;

  /** The key's cell, if the store has one (through the key's remembered cell when it is still this store's). */
  cellOf(key: Uint8Array): Cell | undefined {
    if (key instanceof KeyBytes) {
      const c = key.cell;
      if (c !== undefined && c.kv === this && !c.dead) return c;
      const found = this.map.get(key.mapped);
      if (found !== undefined) key.cell = found;
      return found;
    }
    return this.map.get(mapKey(key));
  }

  cellByMapped(mk: string): Cell | undefined {
    return this.map.get(mk);
  }

  /** The key's cell, created (with no committed value) if there is none. */
  cellFor(key: Uint8Array): Cell {
    const c = this.cellOf(key);
    if (c !== undefined) return c;
    const cell = this.cellForMapped(mapKey(key));
    if (key instanceof KeyBytes) key.cell = cell;
    return cell;
  }

  cellForMapped(mk: string): Cell {
    let cell = this.map.get(mk);
    if (cell === undefined) {
      cell = new Cell(this, mk, undefined);
      this.map.set(mk, cell);
    }
    return cell;
  }

  /** Removes a cell that holds neither a value nor a pending write. */
  dropCell(cell: Cell): void {
    if (cell.dead || cell.value !== undefined || cell.owner !== null) return;
    this.map.delete(cell.mk);
    cell.dead = true;
  }

  /** Commits the owner's pending write of a cell. */
  applyPending(cell: Cell): void {
    if (cell.owner === null) return;
    const v = cell.pending;
    cell.owner = null;
    cell.pending = null;
    this.assign(cell, v ?? undefined);
  }

  private assign(cell: Cell, v: Uint8Array | undefined): void {
    if (v === undefined) {
      if (cell.value !== undefined) this.live -= 1;
      cell.value = undefined;
      this.dropCell(cell);
    } else {
      if (cell.value === undefined) this.live += 1;
      cell.value = v;
    }
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.cellOf(key)?.value;
  }

  getMapped(mk: string): Uint8Array | undefined {
    return this.map.get(mk)?.value;
  }

  setMapped(mk: string, value: Uint8Array): void {
    this.assign(this.cellForMapped(mk), value);
  }

  deleteMapped(mk: string): void {
    const cell = this.map.get(mk);
    if (cell !== undefined) this.assign(cell, undefined);
  }

  set(key: Uint8Array, value: Uint8Array): void {
    this.assign(this.cellFor(key), value);
  }

  delete(key: Uint8Array): void {
    const cell = this.cellOf(key);
    if (cell !== undefined) this.assign(cell, undefined);
  }

  /** Number of keys with a committed value. */
  get size(): number {
    return this.live;
  }

  *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    for (const [k, c] of this.map) if (c.value !== undefined) yield [keyOf(k), c.value];
  }
}
