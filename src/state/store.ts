// ChainStore: the node's LevelDB database — state entries, the state tree, blocks, commits, the tx index and metadata.
//
// One block is written as one atomic LevelDB batch (state changes, tree pages, block, commit, tx index, height and
// root), so reopening after kill -9 finds exactly the last committed height. Reads are synchronous (an LRU cache, then
// LevelDB getSync) because the VM executes synchronously.
import { Level } from 'level';
import { AutochainError, assert } from '../core/errors.js';
import { equalBytes, readU64be, toHex, u64be, utf8 } from '../core/bytes.js';
import { HASH_BYTES } from '../core/hash.js';
import { struct, u32, u64, bytes, encode, decode, type Infer } from '../core/codec.js';
import { decodeBlock, blockHash as headerHash, txHash, decodeCommit } from '../core/types.js';
import { MAX_BLOCK_BYTES, MAX_TX_BYTES } from '../core/constants.js';
import type { KvChange, KvReader } from './kv.js';
import { LruCache } from './lru.js';
import { Bucket, bucketKey, bucketEnd, heightKey, storeMetaKey } from './buckets.js';
import {
  applyUpdates,
  sortUpdates,
  decodePage,
  encodePageInto,
  encodedPageSize,
  fastSha256,
  pageId,
  recyclePage,
  proveKeyHash,
  referenceRoot,
  ROOT_PAGE_KEY,
  type Page,
  type PageKey,
  type PageSource,
  type PageWrites,
  type TreeUpdate,
} from './smt.js';
import type { StateProof } from './proof.js';

export type StateErrorCode =
  | 'CLOSED'
  | 'BROKEN'
  | 'BUSY'
  | 'STALE_PREPARED'
  | 'BAD_HEIGHT'
  | 'BAD_BLOCK'
  | 'BAD_COMMIT'
  | 'BAD_TX_INDEX'
  | 'BAD_FORMAT';

export class StateError extends AutochainError<StateErrorCode> {}

/** Version of the on-disk layout; a store written by another version is refused rather than misread. */
export const STORE_FORMAT = 1;

export interface ChainStoreOptions {
  /** Tree pages kept in memory (about 2.2 KB each). A 1M-key tree has about 100k pages. */
  treeCachePages?: number;
  /** State values kept in memory (absent keys are cached too). */
  valueCacheEntries?: number;
  /** fsync each block's batch (survives power loss, not only process death). Default true. */
  syncWrites?: boolean;
  /** LevelDB's own block cache, bytes (its default of 8 MB made tree-page misses cost several disk-block reads each). */
  dbCacheBytes?: number;
  /**
   * Tree pages at this depth (in nibbles) or above stay in memory once read: at most 1 + 16 + ... + 16^d pages
   * (d = 4: 69,905 pages, about 150 MB, reached only by trees of about a million keys). Every block walks these
   * levels, so evicting them only to read them back costs a database read and ~30 hashes each. Default 4.
   */
  pinnedPageDepth?: number;
}

export const DEFAULT_TREE_CACHE_PAGES = 65_536;
export const DEFAULT_VALUE_CACHE_ENTRIES = 100_000;
export const DEFAULT_DB_CACHE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_PINNED_PAGE_DEPTH = 4;

/** A block's state changes with the tree already updated (copy-on-write): `root` goes into the block header. */
export interface Prepared {
  readonly root: Uint8Array;
  /** Distinct keys changed. */
  readonly changedKeys: number;
}

export interface TxIndexEntry {
  hash: Uint8Array;
  /** Position of the tx in the block. */
  index: number;
  receiptBytes: Uint8Array;
}

export interface CommitBlockInput {
  prepared: Prepared;
  height: bigint;
  /** The encoded block; null only for a height-0 (genesis state) commit. */
  block: Uint8Array | null;
  blockHash: Uint8Array | null;
  /** The encoded commit that finalised this block, if known. */
  commit: Uint8Array | null;
  txs: readonly TxIndexEntry[];
  /** Node metadata written in the same batch. */
  meta?: readonly { key: string; value: Uint8Array }[];
}

export const TxIndexRecordSchema = struct('TxIndexRecord', [
  ['height', u64],
  ['index', u32],
  ['tx', bytes({ max: MAX_TX_BYTES })],
  ['receipt', bytes({ max: 1 << 20 })],
] as const);
export type TxIndexRecord = Infer<typeof TxIndexRecordSchema>;

class PreparedImpl implements Prepared {
  constructor(
    readonly store: ChainStore,
    readonly generation: number,
    readonly root: Uint8Array,
    readonly changes: readonly KvChange[],
    /** The latin1 cache key of each change, in the same order. */
    readonly cacheKeys: readonly string[],
    readonly pages: PageWrites,
  ) {}
  get changedKeys(): number {
    return this.changes.length;
  }
}

type Db = Level<Buffer, Buffer>;
type BatchOp = { type: 'put'; key: Buffer; value: Buffer | Uint8Array } | { type: 'del'; key: Buffer };

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A key's latin1 string (the cache index). Keys that already carry it (kv.ts KeyBytes: `mapped`) skip the conversion. */
/**
 * A value the value cache may keep for long: a view into a larger buffer (an allocBytes slab, msgpackr's output
 * buffer, Node's Buffer pool behind a small LevelDB read) is copied, so cached entries cannot pin whole slabs.
 */
function ownBytes(v: Uint8Array): Uint8Array {
  if (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) return v;
  // Same kind as given (a Buffer stays a Buffer), in memory of its own (allocUnsafeSlow is never pooled).
  const own = Buffer.isBuffer(v) ? Buffer.allocUnsafeSlow(v.length) : new Uint8Array(v.length);
  own.set(v);
  return own;
}

function latin1Of(key: Uint8Array): string {
  const mapped = (key as { mapped?: unknown }).mapped;
  return typeof mapped === 'string' ? mapped : asBuffer(key).toString('latin1');
}

export class ChainStore implements PageSource {
  private readonly pageCache: LruCache<PageKey, Page>;
  /** The top levels of the tree (depth <= pinnedDepth), bounded by the tree's shape rather than by eviction. */
  private readonly pinnedPages = new Map<PageKey, Page>();
  private readonly pinnedDepth: number;
  private readonly valueCache: LruCache<string, Uint8Array | null>;
  private readonly syncWrites: boolean;
  private heightValue = 0n;
  private initializedValue = false;
  private root: Uint8Array = new Uint8Array(HASH_BYTES);
  /** Bumped by each commit: a Prepared built on an older state cannot be committed. */
  private generation = 0;
  private closed = false;
  private broken: Error | null = null;
  /** While a batch is being written, its changes are visible to reads here (so reads never mix old and new). */
  private pending: PreparedImpl | null = null;
  private pendingValues: Map<string, Uint8Array | null> | null = null;
  private encodeScratch: Buffer = Buffer.alloc(0);

  private constructor(
    private readonly db: Db,
    opts: ChainStoreOptions,
  ) {
    this.pageCache = new LruCache<PageKey, Page>(opts.treeCachePages ?? DEFAULT_TREE_CACHE_PAGES, recyclePage);
    this.pinnedDepth = opts.pinnedPageDepth ?? DEFAULT_PINNED_PAGE_DEPTH;
    assert(
      Number.isInteger(this.pinnedDepth) && this.pinnedDepth >= -1 && this.pinnedDepth <= 5,
      'pinnedPageDepth must be -1..5',
    );
    this.valueCache = new LruCache(opts.valueCacheEntries ?? DEFAULT_VALUE_CACHE_ENTRIES);
    this.syncWrites = opts.syncWrites ?? true;
  }

  static async open(dir: string, opts: ChainStoreOptions = {}): Promise<ChainStore> {
    // Snappy off: tree pages are hashes (incompressible) and compression measured 1.7x slower block writes here.
    const db: Db = new Level<Buffer, Buffer>(dir, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      compression: false,
      cacheSize: opts.dbCacheBytes ?? DEFAULT_DB_CACHE_BYTES,
    });
    await db.open();
    const store = new ChainStore(db, opts);
    try {
      await store.load();
    } catch (e) {
      await db.close();
      throw e;
    }
    return store;
  }

  private async load(): Promise<void> {
    const format = this.db.getSync(storeMetaKey('format'));
    if (format === undefined) {
      const anyKey = await this.db.keys({ limit: 1 }).all();
      if (anyKey.length > 0)
        throw new StateError('BAD_FORMAT', 'database has data but no autochain store format marker');
      await this.db.put(storeMetaKey('format'), Buffer.from(u64be(STORE_FORMAT)));
      return;
    }
    if (readU64be(format) !== BigInt(STORE_FORMAT)) {
      throw new StateError('BAD_FORMAT', `store format ${readU64be(format)} is not ${STORE_FORMAT}`);
    }
    const h = this.db.getSync(storeMetaKey('height'));
    const r = this.db.getSync(storeMetaKey('root'));
    if (h === undefined) return;
    assert(r !== undefined && r.length === HASH_BYTES, 'store has a height but no state root');
    this.heightValue = readU64be(h);
    this.initializedValue = true;
    this.root = new Uint8Array(r);
    // Read-back check: the tree on disk must hash to the root recorded with the height.
    const rootPage = this.loadPage(ROOT_PAGE_KEY, 0, new Uint8Array(HASH_BYTES));
    const treeRoot = rootPage === undefined ? new Uint8Array(HASH_BYTES) : rootPage.rootHash();
    assert(equalBytes(treeRoot, this.root), 'state tree does not match the committed state root', {
      height: this.heightValue.toString(),
      root: toHex(this.root),
      tree: toHex(treeRoot),
    });
  }

  /** The last committed height (0 for a fresh store and after a genesis-state commit). */
  height(): bigint {
    return this.heightValue;
  }

  /** False until the first commit (genesis state or block 1). */
  initialized(): boolean {
    return this.initializedValue;
  }

  /** The root over all committed state entries. */
  stateRoot(): Uint8Array {
    return this.root.slice();
  }

  /** Synchronous reads of committed state: an LRU lookup, else one LevelDB getSync. */
  reader(): KvReader {
    return { get: (key) => this.getValue(key) };
  }

  private getValue(key: Uint8Array): Uint8Array | undefined {
    this.checkUsable();
    const mk = latin1Of(key);
    if (this.pendingValues !== null) {
      const p = this.pendingValues.get(mk);
      if (p !== undefined) return p ?? undefined;
    }
    const cached = this.valueCache.get(mk);
    if (cached !== undefined) return cached ?? undefined;
    const raw = this.db.getSync(bucketKey(Bucket.STATE, key));
    const v = raw === undefined ? undefined : ownBytes(raw);
    this.valueCache.set(mk, v ?? null);
    return v;
  }

  /** PageSource for the tree: pending batch, then cache, then disk. */
  loadPage(key: PageKey, depth: number, keyHash: Uint8Array): Page | undefined {
    if (this.pending !== null) {
      const w = this.pending.pages.get(key);
      if (w !== undefined) return w.page ?? undefined;
    }
    const pinned = depth <= this.pinnedDepth;
    const cached = pinned ? this.pinnedPages.get(key) : this.pageCache.get(key);
    if (cached !== undefined) return cached;
    const raw = this.db.getSync(bucketKey(Bucket.TREE, pageId(depth, keyHash)));
    if (raw === undefined) return undefined;
    const page = decodePage(raw);
    this.cachePage(key, depth, page);
    return page;
  }

  /** Caches a page read from disk (nothing cached under its key yet). */
  private cachePage(key: PageKey, depth: number, page: Page): void {
    if (depth <= this.pinnedDepth) this.pinnedPages.set(key, page);
    else this.pageCache.set(key, page);
  }

  /** After a commit: the new version of a page replaces the cached one, whose memory is then reused. */
  private replaceCachedPage(key: PageKey, depth: number, page: Page | null): void {
    const pinned = depth <= this.pinnedDepth;
    const old = pinned ? this.pinnedPages.get(key) : this.pageCache.peek(key);
    if (old !== undefined && old !== page) recyclePage(old);
    if (pinned) {
      if (page === null) this.pinnedPages.delete(key);
      else this.pinnedPages.set(key, page);
    } else if (page === null) {
      this.pageCache.delete(key);
    } else {
      this.pageCache.set(key, page);
    }
  }

  /**
   * Computes the state root after `changes` without writing anything (the proposer puts it in the header). Later
   * changes of the same key win. Commit the result with commitBlock; any commit in between makes it stale.
   */
  prepare(changes: readonly KvChange[]): Prepared {
    this.checkUsable();
    if (this.pending !== null) throw new StateError('BUSY', 'prepare while a block is being committed');
    const byKey = new Map<string, KvChange>();
    for (const c of changes) {
      assert(c.key instanceof Uint8Array && c.key.length > 0, 'state key must be non-empty bytes');
      assert(c.value === null || c.value instanceof Uint8Array, 'state value must be bytes or null');
      byKey.set(latin1Of(c.key), c);
    }
    const distinct = [...byKey.values()];
    const cacheKeys = [...byKey.keys()];
    const updates = sortUpdates(
      distinct.map(
        (c): TreeUpdate => ({
          keyHash: fastSha256(c.key),
          valueHash: c.value === null ? null : fastSha256(c.value),
        }),
      ),
    );
    const pages: PageWrites = new Map();
    const root = applyUpdates(this, updates, pages);
    return new PreparedImpl(this, this.generation, new Uint8Array(root), distinct, cacheKeys, pages);
  }

  /** Writes one block and everything it changes as one atomic batch. */
  async commitBlock(input: CommitBlockInput): Promise<void> {
    this.checkUsable();
    if (this.pending !== null) throw new StateError('BUSY', 'a commit is already in progress');
    const prepared = input.prepared;
    if (!(prepared instanceof PreparedImpl) || prepared.store !== this) {
      throw new StateError('STALE_PREPARED', 'prepared state does not come from this store');
    }
    if (prepared.generation !== this.generation) {
      throw new StateError('STALE_PREPARED', 'state changed since prepare: prepare again');
    }
    const ops = this.blockOps(input, prepared);
    for (const c of prepared.changes) {
      const key = bucketKey(Bucket.STATE, c.key);
      ops.push(c.value === null ? { type: 'del', key } : { type: 'put', key, value: asBuffer(c.value) });
    }
    // All pages are encoded into one reused buffer (safe: it is rewritten only after this batch has been written).
    let pageBytes = 0;
    for (const { page } of prepared.pages.values()) if (page !== null) pageBytes += encodedPageSize(page);
    if (this.encodeScratch.length < pageBytes) this.encodeScratch = Buffer.allocUnsafeSlow(pageBytes * 2);
    let off = 0;
    for (const { depth, keyHash, page } of prepared.pages.values()) {
      const key = bucketKey(Bucket.TREE, pageId(depth, keyHash));
      if (page === null) {
        ops.push({ type: 'del', key });
      } else {
        const end = encodePageInto(page, this.encodeScratch, off);
        ops.push({ type: 'put', key, value: this.encodeScratch.subarray(off, end) });
        off = end;
      }
    }
    ops.push({ type: 'put', key: storeMetaKey('height'), value: Buffer.from(u64be(input.height)) });
    ops.push({ type: 'put', key: storeMetaKey('root'), value: asBuffer(prepared.root) });
    for (const m of input.meta ?? [])
      ops.push({ type: 'put', key: bucketKey(Bucket.NODE_META, utf8(m.key)), value: asBuffer(m.value) });

    const pendingValues = new Map<string, Uint8Array | null>();
    prepared.changes.forEach((c, i) => pendingValues.set(prepared.cacheKeys[i]!, c.value));
    this.pending = prepared;
    this.pendingValues = pendingValues;
    try {
      await this.db.batch(ops, { sync: this.syncWrites });
    } catch (e) {
      // The batch is atomic, but memory may now disagree with disk: stop rather than guess (reopen to recover).
      this.broken = e as Error;
      throw new StateError('BROKEN', `block batch failed: ${(e as Error).message}`);
    } finally {
      this.pending = null;
      this.pendingValues = null;
    }
    for (const [mk, v] of pendingValues) this.valueCache.set(mk, v === null ? null : ownBytes(v));
    for (const [k, { depth, page }] of prepared.pages) this.replaceCachedPage(k, depth, page);
    this.heightValue = input.height;
    this.initializedValue = true;
    this.root = prepared.root.slice();
    this.generation++;
  }

  /** Validates the block, commit and tx index entries against each other and returns their batch operations. */
  private blockOps(input: CommitBlockInput, prepared: PreparedImpl): BatchOp[] {
    const { height } = input;
    if (typeof height !== 'bigint') throw new StateError('BAD_HEIGHT', 'height must be a bigint');
    const ops: BatchOp[] = [];
    if (height === 0n) {
      if (this.initializedValue) throw new StateError('BAD_HEIGHT', 'height 0 (genesis state) is already committed');
      if (input.block !== null || input.commit !== null || input.txs.length > 0) {
        throw new StateError('BAD_BLOCK', 'a height-0 commit carries genesis state only');
      }
      return ops;
    }
    if (height !== this.heightValue + 1n) {
      throw new StateError('BAD_HEIGHT', `expected height ${this.heightValue + 1n}, got ${height}`);
    }
    if (input.block === null || input.blockHash === null)
      throw new StateError('BAD_BLOCK', `block ${height} is missing`);
    let block: ReturnType<typeof decodeBlock>;
    try {
      block = decodeBlock(input.block);
    } catch (e) {
      throw new StateError('BAD_BLOCK', `block ${height} does not decode: ${(e as Error).message}`);
    }
    const hash = headerHash(block.header);
    if (!equalBytes(hash, input.blockHash)) throw new StateError('BAD_BLOCK', 'block hash does not match the header');
    if (block.header.height !== height)
      throw new StateError('BAD_BLOCK', `block header says height ${block.header.height}`);
    if (!equalBytes(block.header.stateRoot, prepared.root)) {
      throw new StateError('BAD_BLOCK', 'header stateRoot differs from the prepared state root');
    }
    ops.push({ type: 'put', key: heightKey(Bucket.BLOCK, height), value: asBuffer(input.block) });
    ops.push({ type: 'put', key: bucketKey(Bucket.BLOCK_HASH, hash), value: Buffer.from(u64be(height)) });
    if (input.commit !== null) {
      let commit: ReturnType<typeof decodeCommit>;
      try {
        commit = decodeCommit(input.commit);
      } catch (e) {
        throw new StateError('BAD_COMMIT', `commit does not decode: ${(e as Error).message}`);
      }
      if (commit.height !== height || !equalBytes(commit.blockHash, hash)) {
        throw new StateError('BAD_COMMIT', 'commit is for another block');
      }
      ops.push({ type: 'put', key: heightKey(Bucket.COMMIT, height), value: asBuffer(input.commit) });
    }
    const seen = new Set<number>();
    for (const t of input.txs) {
      const tx = block.txs[t.index];
      if (!Number.isInteger(t.index) || tx === undefined || seen.has(t.index)) {
        throw new StateError('BAD_TX_INDEX', `tx index ${t.index} is not a distinct position in block ${height}`);
      }
      seen.add(t.index);
      if (!equalBytes(txHash(tx), t.hash))
        throw new StateError('BAD_TX_INDEX', `tx ${t.index} hash does not match the block`);
      const record = encode(TxIndexRecordSchema, { height, index: t.index, tx, receipt: t.receiptBytes });
      ops.push({ type: 'put', key: bucketKey(Bucket.TX, t.hash), value: asBuffer(record) });
    }
    return ops;
  }

  /** Writes one node-metadata entry on its own (use CommitBlockInput.meta to write it with a block). */
  async putMeta(key: string, value: Uint8Array): Promise<void> {
    this.checkUsable();
    await this.db.put(bucketKey(Bucket.NODE_META, utf8(key)), asBuffer(value), { sync: this.syncWrites });
  }

  getMeta(key: string): Uint8Array | undefined {
    this.checkUsable();
    return this.db.getSync(bucketKey(Bucket.NODE_META, utf8(key)));
  }

  getBlock(height: bigint): Uint8Array | undefined {
    this.checkUsable();
    if (height < 1n || height > this.heightValue) return undefined;
    return this.db.getSync(heightKey(Bucket.BLOCK, height));
  }

  /** The height of the committed block with this hash. */
  getBlockHeight(hash: Uint8Array): bigint | undefined {
    this.checkUsable();
    const h = this.db.getSync(bucketKey(Bucket.BLOCK_HASH, hash));
    return h === undefined ? undefined : readU64be(h);
  }

  getBlockByHash(hash: Uint8Array): Uint8Array | undefined {
    const h = this.getBlockHeight(hash);
    return h === undefined ? undefined : this.getBlock(h);
  }

  getCommit(height: bigint): Uint8Array | undefined {
    this.checkUsable();
    return this.db.getSync(heightKey(Bucket.COMMIT, height));
  }

  getTx(hash: Uint8Array): TxIndexRecord | undefined {
    this.checkUsable();
    const raw = this.db.getSync(bucketKey(Bucket.TX, hash));
    return raw === undefined ? undefined : decode(TxIndexRecordSchema, raw, MAX_BLOCK_BYTES);
  }

  /** The committed value of `key` (null when absent) and a proof of it against stateRoot(). */
  getProof(key: Uint8Array): { value: Uint8Array | null; proof: StateProof } {
    this.checkUsable();
    const value = this.getValue(key) ?? null;
    const keyHash = fastSha256(key);
    const proof = proveKeyHash(this, keyHash);
    const ownLeaf = proof.leaf !== null && equalBytes(proof.leaf.keyHash, keyHash);
    assert(ownLeaf === (value !== null), 'state tree and state entries disagree about a key', { key: toHex(key) });
    return { value, proof };
  }

  /**
   * Recomputes the root from the flat state entries alone (a full scan, independent of the tree pages): the check a
   * crash test or an operator runs to prove the tree and the entries agree.
   */
  async recomputeRoot(): Promise<Uint8Array> {
    this.checkUsable();
    const leaves: { keyHash: Uint8Array; valueHash: Uint8Array }[] = [];
    for await (const [k, v] of this.db.iterator({ gt: Buffer.from([Bucket.STATE]), lt: bucketEnd(Bucket.STATE) })) {
      leaves.push({ keyHash: fastSha256(k.subarray(1)), valueHash: fastSha256(v) });
    }
    return referenceRoot(leaves);
  }

  /** Every committed state entry in key order (tests, export). */
  async *entries(): AsyncGenerator<[Uint8Array, Uint8Array]> {
    this.checkUsable();
    for await (const [k, v] of this.db.iterator({ gt: Buffer.from([Bucket.STATE]), lt: bucketEnd(Bucket.STATE) })) {
      yield [new Uint8Array(k.subarray(1)), new Uint8Array(v)];
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }

  private checkUsable(): void {
    if (this.closed) throw new StateError('CLOSED', 'store is closed');
    if (this.broken !== null)
      throw new StateError('BROKEN', `store stopped after a failed write: ${this.broken.message}`);
  }
}
