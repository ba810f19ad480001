// State keys and typed records for VM modules: `<module>/<kind>/<id>` keys, values in the canonical codec.
import { encode, decode, type Schema } from '../core/codec.js';
import { allocLasting, equalBytes, utf8, toHex } from '../core/bytes.js';
import { KeyBytes, type KvReader, type KvWriter } from '../state/kv.js';

/** Largest stored record, bytes (a sanity bound for decoding our own state). */
export const MAX_RECORD_BYTES = 1024 * 1024;

/**
 * Values derived from a byte array and remembered on the array itself, by its identity: the hex of an address, the
 * state keys built from it, the decoded form of a stored record. The hot arrays live across many accesses (a tx's
 * sender from the VM's cache, a loan's borrower and lender, a record's stored bytes), so each value is computed once.
 * Callers never mutate byte values they hand to the VM (stored values are encoded copies), so a remembered value is
 * what computing it again would give. The values hang off a symbol property (an array of slots): a property load,
 * where a WeakMap lookup measured ~5x slower with 20,000 borrowers. Symbol keys are invisible to Object.keys,
 * JSON, msgpack, structured clone and test equality; the property is assigned rather than defined non-enumerable
 * because Object.defineProperty cost ~0.9 µs per array against ~0.09 µs.
 */
const DERIVED = Symbol('autochain.derived');
type Derived = unknown[];
let nextSlot = 1;

function derivedOf(b: Uint8Array): Derived {
  let d = (b as unknown as { [DERIVED]?: Derived })[DERIVED];
  if (d === undefined) {
    d = [];
    (b as unknown as { [DERIVED]: Derived })[DERIVED] = d;
  }
  return d;
}

/** A new memo slot: `get(b)` is what `compute(b)` gave the first time for this array, `set` seeds it. */
export function bytesMemo<T>(compute: (b: Uint8Array) => T): { get(b: Uint8Array): T; set(b: Uint8Array, v: T): void } {
  const slot = nextSlot++;
  return {
    get(b) {
      const d = derivedOf(b);
      let v = d[slot] as T | undefined;
      if (v === undefined) {
        v = compute(b);
        d[slot] = v;
      }
      return v;
    },
    set(b, v) {
      derivedOf(b)[slot] = v;
    },
  };
}

const hexMemo = bytesMemo(toHex);

/** An entry of a BytesFifoMap: its key (a copy of its own), its value and the next entry in its hash bucket. */
interface FifoEntry<V> {
  readonly key: Uint8Array;
  readonly value: V;
  next: FifoEntry<V> | undefined;
}

/**
 * A map from byte strings whose first bytes are uniformly spread (sha256 outputs, ed25519 public keys) to values,
 * holding at most `max` entries and forgetting the oldest first. Buckets by 30 bits of the key, compared in full:
 * no string made from the key. Keys are copied into lasting memory (allocLasting). The VM's sender cache and the
 * address intern table use it.
 */
export class BytesFifoMap<V> {
  private readonly buckets = new Map<number, FifoEntry<V>>();
  private readonly order: FifoEntry<V>[] = [];
  private oldest = 0;

  constructor(readonly max: number) {
    if (!(Number.isSafeInteger(max) && max >= 1)) throw new RangeError(`max must be a positive integer, got ${max}`);
  }

  /** The entry for `key` (its stored key and value), if held. */
  entry(key: Uint8Array): { readonly key: Uint8Array; readonly value: V } | undefined {
    for (let e = this.buckets.get(spreadHash(key)); e !== undefined; e = e.next) if (equalBytes(e.key, key)) return e;
    return undefined;
  }

  /**
   * Adds `key` (not held: the caller looked it up) with its value, forgetting the oldest entry when full; returns the
   * stored copy of the key.
   */
  add(key: Uint8Array, value: V): Uint8Array {
    const h = spreadHash(key);
    const copy = allocLasting(key.length);
    copy.set(key);
    const entry: FifoEntry<V> = { key: copy, value, next: this.buckets.get(h) };
    this.buckets.set(h, entry);
    if (this.order.length < this.max) {
      this.order.push(entry);
    } else {
      this.evict(this.order[this.oldest]!);
      this.order[this.oldest] = entry;
      this.oldest = (this.oldest + 1) % this.order.length;
    }
    return copy;
  }

  get size(): number {
    return this.order.length;
  }

  private evict(old: FifoEntry<V>): void {
    const h = spreadHash(old.key);
    let e = this.buckets.get(h);
    if (e === old) {
      if (old.next === undefined) this.buckets.delete(h);
      else this.buckets.set(h, old.next);
      return;
    }
    for (; e !== undefined; e = e.next) {
      if (e.next === old) {
        e.next = old.next;
        return;
      }
    }
  }
}

/** Addresses interned at most (FIFO eviction, ~6 MB): beyond that an address may get a second canonical array. */
export const ADDRESS_INTERN_MAX = 65_536;

/**
 * One canonical array per address value (20 bytes), so that every holder of an address shares its memos (bytesMemo:
 * hex, state keys, their store cells). Without it each decoded loan carried its own copies of its lender's and
 * borrower's addresses, and each copy built its own hex, keys and memo arrays: 20,000 loans of one lender kept
 * 20,000 copies of that lender's balance key and hex, and every repayment walked its own copy to the same store cell.
 * The table is bounded; an evicted address stays valid wherever it is held, and only loses sharing. Interning changes
 * identity, never a value: callers never mutate byte values they hand to the VM.
 */
export class AddressIntern {
  private readonly table: BytesFifoMap<true>;

  constructor(max: number) {
    this.table = new BytesFifoMap(max);
  }

  intern(b: Uint8Array): Uint8Array {
    if (b.length !== 20) return b;
    const found = this.table.entry(b);
    if (found !== undefined) return found.key;
    // The table keeps a copy of its own: `b` may be a view that would pin a larger buffer (a hash output, a record).
    return this.table.add(b, true);
  }

  get size(): number {
    return this.table.size;
  }
}

/** 30 bits of a key whose first bytes are uniformly spread: its bucket in a BytesFifoMap. */
function spreadHash(b: Uint8Array): number {
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | ((b[3]! & 0x3f) << 24)) >>> 0;
}

const addresses = new AddressIntern(ADDRESS_INTERN_MAX);

/** The canonical array for this address's bytes (a copy of the argument the first time it is seen). */
export function internAddress(b: Uint8Array): Uint8Array {
  return addresses.intern(b);
}

export function hexOf(b: Uint8Array): string {
  return hexMemo.get(b);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Builds a state key from a module name and parts; byte parts are written as lowercase hex. The key is the UTF-8 of
 * the text; when that text is ASCII (hex and numbers always are, so only string parts are checked) it comes as
 * KeyBytes, the same bytes with the string attached for the stores.
 */
export function stateKey(module: string, ...parts: (string | Uint8Array | bigint | number)[]): Uint8Array {
  let text = module;
  let ascii = isAscii(module);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (typeof p === 'string') {
      if (ascii && !isAscii(p)) ascii = false;
      text += '/' + p;
    } else {
      text += '/' + (p instanceof Uint8Array ? hexOf(p) : String(p));
    }
  }
  return ascii ? new KeyBytes(text) : utf8(text);
}

/**
 * Memoises a key builder over one bytes part by the part's identity (bytesMemo): the hot parts are addresses that
 * live across many accesses (a sender from the VM's cache, a loan's borrower and lender), so each key is built once
 * and keeps its store cell. Keys are shared: key bytes are never mutated. Memoised keys live as long as their part,
 * so they are made lasting (KeyBytes.lasting).
 */
export function memoByBytes(build: (b: Uint8Array) => Uint8Array): (b: Uint8Array) => Uint8Array {
  const memo = bytesMemo((b) => KeyBytes.lasting(build(b)));
  return (b) => memo.get(b);
}

/**
 * Memoises a builder over a numeric id (keys, or an object of keys for one record) for the last `max` ids, evicting
 * the oldest first: a tx reads and writes the same record's keys several times, and a hot record's keys keep the
 * store cells they found (KeyBytes.cell). Ids below 2^53 are looked up as numbers (a cheaper map key than a bigint);
 * numeric ids (days) are taken as they are.
 */
export function memoById<T, I extends bigint | number = bigint>(build: (id: I) => T, max = 64): (id: I) => T {
  const memo = new Map<number | bigint, T>();
  // The last id asked for and its value, checked first: one step asks for the same record's keys several times (a
  // repayment four times), and a map lookup among 65,536 loans is a cache miss or two. An entry evicted from the map
  // meanwhile is still a valid value for its id.
  let lastId: I | undefined;
  let last: T | undefined;
  return (id) => {
    if (id === lastId) return last!;
    const mk = typeof id === 'number' ? id : id <= MAX_SAFE ? Number(id) : id;
    let k = memo.get(mk);
    if (k === undefined) {
      k = build(id);
      if (memo.size >= max) memo.delete(memo.keys().next().value!);
      memo.set(mk, k);
    }
    lastId = id;
    last = k;
    return k;
  };
}

/** The largest bigint that converts to a number exactly (2^53 - 1). */
export const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Fixed-width decimal for numeric key parts whose byte order must follow numeric order. */
export function padded(n: bigint | number, width = 20): string {
  return n.toString().padStart(width, '0');
}

export function load<T>(state: KvReader, key: Uint8Array, schema: Schema<T>): T | undefined {
  const raw = state.get(key);
  return raw === undefined ? undefined : decode(schema, raw, MAX_RECORD_BYTES);
}

export function save<T>(state: KvWriter, key: Uint8Array, schema: Schema<T>, value: T): void {
  state.set(key, encode(schema, value));
}
