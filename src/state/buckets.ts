// Database key layout: one numbered bucket (a one-byte prefix) per record type. Numbers are never reused.
import { u64be, utf8 } from '../core/bytes.js';

export const Bucket = {
  /** Store bookkeeping: format version, committed height, state root. Key: ASCII name. */
  STORE_META: 1,
  /** Committed state entries, flat: key -> value (the VM's keys, e.g. "asset/balance/..."). */
  STATE: 2,
  /** State tree pages: page id (depth byte + key-hash prefix) -> encoded page. */
  TREE: 3,
  /** Blocks: u64be height -> encoded block. */
  BLOCK: 4,
  /** Block hash -> u64be height. */
  BLOCK_HASH: 5,
  /** Commits: u64be height -> encoded commit that committed the block at that height. */
  COMMIT: 6,
  /** Tx index: tx hash -> encoded TxIndexRecord (height, index, tx bytes, receipt bytes). */
  TX: 7,
  /** Node metadata (genesis, app data): UTF-8 name -> bytes. */
  NODE_META: 8,
} as const;
export type BucketId = (typeof Bucket)[keyof typeof Bucket];

export function bucketKey(bucket: BucketId, ...parts: Uint8Array[]): Buffer {
  let n = 1;
  for (const p of parts) n += p.length;
  const out = Buffer.allocUnsafe(n);
  out[0] = bucket;
  let o = 1;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const storeMetaKey = (name: string): Buffer => bucketKey(Bucket.STORE_META, utf8(name));
export const heightKey = (b: BucketId, height: bigint): Buffer => bucketKey(b, u64be(height));

/** First key after every key of the bucket: the exclusive upper bound of a bucket scan. */
export function bucketEnd(bucket: BucketId): Buffer {
  return Buffer.from([bucket + 1]);
}
