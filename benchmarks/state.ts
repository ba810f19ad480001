// State store throughput: committed blocks/s and changed keys/s on 100k- and 1M-key stores, proofs generated/verified/s.
//
// Run: npx tsc -p tsconfig.json && npm exec -- node dist/benchmarks/state.js [--sizes 100000,1000000] [--blocks 10]
//      [--cache-pages 131072] [--db-cache-mb 256]
// Wall-clock figures depend on what else runs on the machine; CPU figures (process user+system time, including
// LevelDB's background compaction thread) show the cost per core.
// Each measured block changes k keys (90% updates of existing keys, 10% new keys) through the real path:
// prepare (hashing + tree update) then commitBlock (one fsync'd LevelDB batch with a real encoded block).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChainStore } from '../src/state/store.js';
import { verifyProof } from '../src/state/proof.js';
import type { KvChange } from '../src/state/kv.js';
import { encodeBlock, blockHash, type Block } from '../src/core/types.js';
import { utf8 } from '../src/core/bytes.js';
import { printTable, saveResults } from './report.js';
import { applyV8Tuning, DEFAULT_V8_TUNING } from '../src/node/v8-tuning.js';

// The node's V8 settings (Node.start applies the same), so this measures the store as the node runs it.
const V8_FLAGS = applyV8Tuning(DEFAULT_V8_TUNING);

const args = process.argv.slice(2);
const argOf = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const SIZES = argOf('sizes', '100000,1000000').split(',').map(Number);
const BLOCKS = Number(argOf('blocks', '10'));
const BLOCK_KEYS = [1_000, 10_000];
const BUILD_BATCH = 20_000;
const PROOFS = 20_000;
const TREE_CACHE_PAGES = Number(argOf('cache-pages', '131072'));
const DB_CACHE_BYTES = Number(argOf('db-cache-mb', '256')) * 1024 * 1024;

// A deterministic PRNG (xorshift32) so runs are comparable.
let seed = 0x2545f491;
function rand(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 0x1_0000_0000;
}

const keyOf = (i: number): Uint8Array => utf8(`bench/account/${i.toString(16).padStart(10, '0')}`);
function valueAt(i: number, version: number): Uint8Array {
  const v = new Uint8Array(100);
  new DataView(v.buffer).setUint32(0, i);
  new DataView(v.buffer).setUint32(4, version);
  return v;
}

const ZERO = new Uint8Array(32);
function blockFor(height: bigint, stateRoot: Uint8Array): { bytes: Uint8Array; hash: Uint8Array } {
  const block: Block = {
    header: {
      chainId: 'bench',
      height,
      timeMs: height * 1000n,
      prevHash: ZERO,
      txRoot: ZERO,
      stateRoot,
      resultsRoot: ZERO,
      validatorsHash: ZERO,
      nextValidatorsHash: ZERO,
      lastCommitHash: ZERO,
      evidenceRoot: ZERO,
      proposer: new Uint8Array(20),
      gasUsed: 0n,
    },
    txs: [],
    evidence: [],
    lastCommit: null,
  };
  return { bytes: encodeBlock(block), hash: blockHash(block.header) };
}

async function commit(store: ChainStore, changes: KvChange[]): Promise<void> {
  const prepared = store.prepare(changes);
  const height = store.height() + 1n;
  const b = blockFor(height, prepared.root);
  await store.commitBlock({ prepared, height, block: b.bytes, blockHash: b.hash, commit: null, txs: [] });
}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

interface Row {
  storeKeys: number;
  blockKeys: number;
  blocks: number;
  blocksPerSec: number;
  changedKeysPerSec: number;
  prepareMsPerBlock: number;
  writeMsPerBlock: number;
  cpuMsPerBlock: number;
  changedKeysPerCpuSec: number;
  [k: string]: string | number;
}

async function benchSize(size: number): Promise<{ rows: Row[]; proofs: Record<string, number> }> {
  const dir = mkdtempSync(join(tmpdir(), 'autochain-bench-state-'));
  const store = await ChainStore.open(dir, { treeCachePages: TREE_CACHE_PAGES, dbCacheBytes: DB_CACHE_BYTES });
  let nextKey = 0;
  const version = new Map<number, number>();
  try {
    const t0 = performance.now();
    while (nextKey < size) {
      const changes: KvChange[] = [];
      const end = Math.min(size, nextKey + BUILD_BATCH);
      for (; nextKey < end; nextKey++) changes.push({ key: keyOf(nextKey), value: valueAt(nextKey, 0) });
      await commit(store, changes);
      if (nextKey % 100_000 === 0 || nextKey === size) {
        log(
          `  built ${nextKey.toLocaleString('en')} / ${size.toLocaleString('en')} keys (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
        );
      }
    }
    const rows: Row[] = [];
    for (const k of BLOCK_KEYS) {
      let prepareMs = 0;
      let writeMs = 0;
      let cpuUs = 0;
      for (let b = 0; b < BLOCKS; b++) {
        const changes: KvChange[] = [];
        for (let j = 0; j < k; j++) {
          if (rand() < 0.1) {
            const i = nextKey++;
            changes.push({ key: keyOf(i), value: valueAt(i, 0) });
          } else {
            const i = Math.floor(rand() * size);
            const v = (version.get(i) ?? 0) + 1;
            version.set(i, v);
            changes.push({ key: keyOf(i), value: valueAt(i, v) });
          }
        }
        const c0 = process.cpuUsage();
        const p0 = performance.now();
        const prepared = store.prepare(changes);
        const p1 = performance.now();
        const height = store.height() + 1n;
        const blk = blockFor(height, prepared.root);
        await store.commitBlock({ prepared, height, block: blk.bytes, blockHash: blk.hash, commit: null, txs: [] });
        const p2 = performance.now();
        const c1 = process.cpuUsage(c0);
        cpuUs += c1.user + c1.system;
        prepareMs += p1 - p0;
        writeMs += p2 - p1;
      }
      const totalS = (prepareMs + writeMs) / 1000;
      rows.push({
        storeKeys: size,
        blockKeys: k,
        blocks: BLOCKS,
        blocksPerSec: Math.round((BLOCKS / totalS) * 10) / 10,
        changedKeysPerSec: Math.round((BLOCKS * k) / totalS),
        prepareMsPerBlock: Math.round(prepareMs / BLOCKS),
        writeMsPerBlock: Math.round(writeMs / BLOCKS),
        cpuMsPerBlock: Math.round(cpuUs / 1000 / BLOCKS),
        changedKeysPerCpuSec: Math.round((BLOCKS * k) / (cpuUs / 1e6)),
      });
      log(`  ${size} keys, blocks of ${k}: ${rows[rows.length - 1]!.changedKeysPerSec} changed keys/s`);
    }
    // Proofs: random existing and missing keys against the committed root.
    const root = store.stateRoot();
    const samples: { key: Uint8Array; value: Uint8Array | null; proof: ReturnType<ChainStore['getProof']>['proof'] }[] =
      [];
    const g0 = performance.now();
    for (let j = 0; j < PROOFS; j++) {
      const i = j % 10 === 0 ? size * 4 + j : Math.floor(rand() * size);
      const key = keyOf(i);
      const { value, proof } = store.getProof(key);
      samples.push({ key, value, proof });
    }
    const g1 = performance.now();
    let ok = 0;
    for (const s of samples) if (verifyProof(root, s.key, s.value, s.proof)) ok++;
    const g2 = performance.now();
    if (ok !== PROOFS) throw new Error(`${PROOFS - ok} proofs failed to verify`);
    const depth = samples.reduce((a, s) => a + s.proof.siblings.length, 0) / samples.length;
    return {
      rows,
      proofs: {
        storeKeys: size,
        proofsGeneratedPerSec: Math.round(PROOFS / ((g1 - g0) / 1000)),
        proofsVerifiedPerSec: Math.round(PROOFS / ((g2 - g1) / 1000)),
        meanSiblings: Math.round(depth * 10) / 10,
      },
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const allRows: Row[] = [];
const proofRows: Record<string, number>[] = [];
for (const size of SIZES) {
  log(`store of ${size.toLocaleString('en')} keys`);
  const r = await benchSize(size);
  allRows.push(...r.rows);
  proofRows.push(r.proofs);
}
printTable("state commits (prepare + one fsync'd batch per block), one core", allRows);
printTable('state proofs, one core', proofRows);
const path = saveResults('state', {
  settings: {
    blocksPerCase: BLOCKS,
    treeCachePages: TREE_CACHE_PAGES,
    dbCacheBytes: DB_CACHE_BYTES,
    valueBytes: 100,
    mix: '90% updates, 10% inserts',
    v8Flags: V8_FLAGS,
  },
  commits: allRows,
  proofs: proofRows,
});
log(`saved ${path}`);
