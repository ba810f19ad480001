// ChainStore on a real LevelDB in a temp folder: commits, block store, tx index, metadata, proofs, refusals, reopen.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChainStore, StateError, type Prepared } from '../../src/state/store.js';
import { verifyProof } from '../../src/state/proof.js';
import { referenceRoot } from '../../src/state/smt.js';
import { sha256 } from '../../src/core/hash.js';
import type { KvChange } from '../../src/state/kv.js';
import { utf8, toHex, fromUtf8 } from '../../src/core/bytes.js';
import { encodeBlock, blockHash, encodeCommit, encodeTx, signTx, txHash, type Block } from '../../src/core/types.js';
import { keyPairFromLabel } from '../../src/core/keys.js';

const ZERO = new Uint8Array(32);
const alice = keyPairFromLabel('store-test-alice');

function makeTx(nonce: bigint): Uint8Array {
  return encodeTx(
    signTx(
      {
        chainId: 'test',
        sender: alice.publicKey,
        nonce,
        gasLimit: 100_000n,
        module: 'asset',
        op: 'transfer',
        args: new Uint8Array([nonce > 0n ? 1 : 0]),
      },
      alice,
    ),
  );
}

function makeBlock(
  height: bigint,
  stateRoot: Uint8Array,
  txs: Uint8Array[] = [],
): { bytes: Uint8Array; hash: Uint8Array } {
  const block: Block = {
    header: {
      chainId: 'test',
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
    txs,
    evidence: [],
    lastCommit: null,
  };
  return { bytes: encodeBlock(block), hash: blockHash(block.header) };
}

const set = (k: string, v: string): KvChange => ({ key: utf8(k), value: utf8(v) });
const del = (k: string): KvChange => ({ key: utf8(k), value: null });

async function commitNext(
  store: ChainStore,
  changes: KvChange[],
  txs: Uint8Array[] = [],
): Promise<{ hash: Uint8Array; prepared: Prepared }> {
  const prepared = store.prepare(changes);
  const height = store.height() + 1n;
  const b = makeBlock(height, prepared.root, txs);
  await store.commitBlock({
    prepared,
    height,
    block: b.bytes,
    blockHash: b.hash,
    commit: null,
    txs: txs.map((t, index) => ({ hash: txHash(t), index, receiptBytes: utf8(`receipt-${index}`) })),
  });
  return { hash: b.hash, prepared };
}

async function expectStateError(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(StateError);
  await expect(p).rejects.toMatchObject({ code });
}

describe('ChainStore', () => {
  let dir: string;
  let store: ChainStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'autochain-store-'));
    store = await ChainStore.open(dir);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts empty: height 0, not initialized, zero root, no blocks', () => {
    expect(store.height()).toBe(0n);
    expect(store.initialized()).toBe(false);
    expect(toHex(store.stateRoot())).toBe('00'.repeat(32));
    expect(store.getBlock(1n)).toBeUndefined();
    expect(store.reader().get(utf8('x'))).toBeUndefined();
  });

  it('prepare computes the root without writing anything', async () => {
    const p = store.prepare([set('a', '1'), set('b', '2')]);
    expect(toHex(p.root)).not.toBe('00'.repeat(32));
    expect(p.changedKeys).toBe(2);
    expect(store.reader().get(utf8('a'))).toBeUndefined();
    expect(toHex(store.stateRoot())).toBe('00'.repeat(32));
    // Preparing the same content again yields the same root.
    expect(toHex(store.prepare([set('b', '2'), set('a', '1')]).root)).toBe(toHex(p.root));
    // Later changes of a key win.
    expect(toHex(store.prepare([set('a', 'x'), set('b', '2'), set('a', '1')]).root)).toBe(toHex(p.root));
  });

  it('commits genesis state at height 0, then blocks; state, blocks, txs and proofs agree', async () => {
    const g = store.prepare([set('genesis/chain', 'test'), set('acct/alice', '100')]);
    await store.commitBlock({
      prepared: g,
      height: 0n,
      block: null,
      blockHash: null,
      commit: null,
      txs: [],
      meta: [{ key: 'genesis', value: utf8('{}') }],
    });
    expect(store.initialized()).toBe(true);
    expect(store.height()).toBe(0n);
    expect(fromUtf8(store.getMeta('genesis')!)).toBe('{}');

    const txs = [makeTx(0n), makeTx(1n)];
    const { hash } = await commitNext(
      store,
      [set('acct/alice', '90'), set('acct/bob', '10'), del('genesis/chain')],
      txs,
    );
    expect(store.height()).toBe(1n);
    const r = store.reader();
    expect(fromUtf8(r.get(utf8('acct/alice'))!)).toBe('90');
    expect(fromUtf8(r.get(utf8('acct/bob'))!)).toBe('10');
    expect(r.get(utf8('genesis/chain'))).toBeUndefined();

    const blockBytes = store.getBlock(1n)!;
    expect(toHex(store.getBlockByHash(hash)!)).toBe(toHex(blockBytes));
    expect(store.getBlockHeight(hash)).toBe(1n);
    expect(store.getBlock(2n)).toBeUndefined();
    const t1 = store.getTx(txHash(txs[1]!))!;
    expect(t1.height).toBe(1n);
    expect(t1.index).toBe(1);
    expect(toHex(t1.tx)).toBe(toHex(txs[1]!));
    expect(fromUtf8(t1.receipt)).toBe('receipt-1');
    expect(store.getTx(new Uint8Array(32))).toBeUndefined();

    const root = store.stateRoot();
    for (const [k, v] of [
      ['acct/alice', '90'],
      ['acct/bob', '10'],
      ['genesis/chain', null],
      ['nobody', null],
    ] as const) {
      const { value, proof } = store.getProof(utf8(k));
      expect(value === null ? null : fromUtf8(value), k).toBe(v);
      expect(verifyProof(root, utf8(k), v === null ? null : utf8(v), proof), k).toBe(true);
    }
    expect(toHex(await store.recomputeRoot())).toBe(toHex(root));
  });

  it('stores the commit for a height and checks it names the block', async () => {
    const p = store.prepare([set('a', '1')]);
    const b = makeBlock(1n, p.root);
    const commit = encodeCommit({ height: 1n, round: 0, blockHash: b.hash, signatures: [] });
    const wrong = encodeCommit({ height: 1n, round: 0, blockHash: ZERO, signatures: [] });
    await expectStateError(
      store.commitBlock({ prepared: p, height: 1n, block: b.bytes, blockHash: b.hash, commit: wrong, txs: [] }),
      'BAD_COMMIT',
    );
    await store.commitBlock({ prepared: p, height: 1n, block: b.bytes, blockHash: b.hash, commit, txs: [] });
    expect(toHex(store.getCommit(1n)!)).toBe(toHex(commit));
  });

  it('refuses bad commits and changes nothing', async () => {
    await commitNext(store, [set('a', '1')]);
    const rootBefore = toHex(store.stateRoot());
    const p = store.prepare([set('a', '2')]);
    const good = makeBlock(2n, p.root);
    const cases: [string, Parameters<ChainStore['commitBlock']>[0], string][] = [
      [
        'height gap',
        {
          prepared: p,
          height: 3n,
          block: makeBlock(3n, p.root).bytes,
          blockHash: makeBlock(3n, p.root).hash,
          commit: null,
          txs: [],
        },
        'BAD_HEIGHT',
      ],
      [
        'height 0 again',
        { prepared: p, height: 0n, block: null, blockHash: null, commit: null, txs: [] },
        'BAD_HEIGHT',
      ],
      ['missing block', { prepared: p, height: 2n, block: null, blockHash: null, commit: null, txs: [] }, 'BAD_BLOCK'],
      [
        'garbage block',
        { prepared: p, height: 2n, block: new Uint8Array([1, 2, 3]), blockHash: good.hash, commit: null, txs: [] },
        'BAD_BLOCK',
      ],
      [
        'hash mismatch',
        { prepared: p, height: 2n, block: good.bytes, blockHash: ZERO, commit: null, txs: [] },
        'BAD_BLOCK',
      ],
      [
        'header root differs',
        {
          prepared: p,
          height: 2n,
          block: makeBlock(2n, ZERO).bytes,
          blockHash: makeBlock(2n, ZERO).hash,
          commit: null,
          txs: [],
        },
        'BAD_BLOCK',
      ],
      [
        'tx not in block',
        {
          prepared: p,
          height: 2n,
          block: good.bytes,
          blockHash: good.hash,
          commit: null,
          txs: [{ hash: ZERO, index: 0, receiptBytes: ZERO }],
        },
        'BAD_TX_INDEX',
      ],
    ];
    for (const [name, input, code] of cases) {
      await expect(store.commitBlock(input), name).rejects.toMatchObject({ code });
    }
    expect(store.height()).toBe(1n);
    expect(toHex(store.stateRoot())).toBe(rootBefore);
    expect(fromUtf8(store.reader().get(utf8('a'))!)).toBe('1');
    expect(store.getBlock(2n)).toBeUndefined();
    // The same prepared state still commits once the input is right.
    await store.commitBlock({
      prepared: p,
      height: 2n,
      block: good.bytes,
      blockHash: good.hash,
      commit: null,
      txs: [],
    });
    expect(fromUtf8(store.reader().get(utf8('a'))!)).toBe('2');
  });

  it('refuses a prepared state that another commit made stale', async () => {
    const p1 = store.prepare([set('a', '1')]);
    const p2 = store.prepare([set('b', '1')]);
    const b1 = makeBlock(1n, p1.root);
    await store.commitBlock({ prepared: p1, height: 1n, block: b1.bytes, blockHash: b1.hash, commit: null, txs: [] });
    const b2 = makeBlock(2n, p2.root);
    await expectStateError(
      store.commitBlock({ prepared: p2, height: 2n, block: b2.bytes, blockHash: b2.hash, commit: null, txs: [] }),
      'STALE_PREPARED',
    );
    expect(store.reader().get(utf8('b'))).toBeUndefined();
  });

  it('keeps everything across close and reopen, with small caches that force disk reads', async () => {
    for (let h = 0; h < 5; h++) {
      await commitNext(
        store,
        Array.from({ length: 300 }, (_, i) => set(`k/${(i * 7 + h * 13) % 500}`, `v${h}-${i}`)),
      );
    }
    const root = toHex(store.stateRoot());
    await store.close();
    store = await ChainStore.open(dir, { treeCachePages: 4, valueCacheEntries: 4, pinnedPageDepth: -1 });
    expect(store.height()).toBe(5n);
    expect(toHex(store.stateRoot())).toBe(root);
    expect(toHex(await store.recomputeRoot())).toBe(root);
    // Continue committing through the small cache: roots still match the reference over all entries.
    await commitNext(
      store,
      Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? del(`k/${i}`) : set(`k/${i}`, 'again'))),
    );
    expect(toHex(await store.recomputeRoot())).toBe(toHex(store.stateRoot()));
    for (let i = 0; i < 40; i++) {
      const { value, proof } = store.getProof(utf8(`k/${i}`));
      expect(verifyProof(store.stateRoot(), utf8(`k/${i}`), value, proof)).toBe(true);
    }
  });

  it('while a block is being written: reads see it, prepare and a second commit are refused', async () => {
    await commitNext(store, [set('a', '1')]);
    const p = store.prepare([set('a', '2'), set('b', '3')]);
    const b = makeBlock(2n, p.root);
    const writing = store.commitBlock({
      prepared: p,
      height: 2n,
      block: b.bytes,
      blockHash: b.hash,
      commit: null,
      txs: [],
    });
    expect(fromUtf8(store.reader().get(utf8('a'))!)).toBe('2');
    expect(() => store.prepare([set('c', '1')])).toThrow(expect.objectContaining({ code: 'BUSY' }));
    await expectStateError(
      store.commitBlock({ prepared: p, height: 2n, block: b.bytes, blockHash: b.hash, commit: null, txs: [] }),
      'BUSY',
    );
    const { value, proof } = store.getProof(utf8('b'));
    expect(verifyProof(p.root, utf8('b'), value, proof)).toBe(true);
    await writing;
    expect(store.height()).toBe(2n);
    expect(toHex(store.stateRoot())).toBe(toHex(p.root));
  });

  it('a tiny cache (constant eviction and reuse of page memory) still gives the model root and valid proofs', async () => {
    await store.close();
    store = await ChainStore.open(dir, { treeCachePages: 8, valueCacheEntries: 8, pinnedPageDepth: -1 });
    const model = new Map<string, string>();
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let b = 0; b < 25; b++) {
      const changes: KvChange[] = [];
      for (let i = 0; i < 80; i++) {
        const k = `m/${rand(400)}`;
        if (rand(5) === 0) {
          changes.push(del(k));
          model.delete(k);
        } else {
          const v = `v${b}-${i}`;
          changes.push(set(k, v));
          model.set(k, v);
        }
      }
      await commitNext(store, changes);
      const expected = referenceRoot(
        [...model].map(([k, v]) => ({ keyHash: sha256(utf8(k)), valueHash: sha256(utf8(v)) })),
      );
      expect(toHex(store.stateRoot()), `block ${b + 1}`).toBe(toHex(expected));
      for (let j = 0; j < 5; j++) {
        const k = `m/${rand(400)}`;
        const { value, proof } = store.getProof(utf8(k));
        expect(value === null ? undefined : fromUtf8(value)).toBe(model.get(k));
        expect(verifyProof(store.stateRoot(), utf8(k), value, proof), k).toBe(true);
      }
    }
  });

  it('cached values own their memory: views into larger buffers are copied, with the same bytes', async () => {
    // A value handed over as a view into a 16 KB slab (as allocBytes and msgpackr produce), and a small one.
    const slab = new Uint8Array(16 * 1024).fill(7);
    const view = slab.subarray(100, 234);
    await commitNext(store, [{ key: utf8('k/view'), value: view }, set('k/small', 'x')], []);
    const cached = store.reader().get(utf8('k/view'))!;
    expect(toHex(cached)).toBe(toHex(view));
    expect(cached.buffer.byteLength).toBe(134);
    // Read back from disk (small LevelDB reads come as views of Node's Buffer pool): also owned.
    await store.close();
    store = await ChainStore.open(dir, { valueCacheEntries: 1 });
    const fromDisk = store.reader().get(utf8('k/small'))!;
    expect(fromUtf8(fromDisk)).toBe('x');
    expect(fromDisk.buffer.byteLength).toBe(fromDisk.byteLength);
    expect(toHex(store.reader().get(utf8('k/view'))!)).toBe(toHex(view));
  });

  it('a closed store refuses use', async () => {
    await store.close();
    expect(() => store.reader().get(utf8('a'))).toThrow(StateError);
    expect(() => store.getBlock(1n)).toThrow(StateError);
    expect(() => store.prepare([])).toThrow(StateError);
    store = await ChainStore.open(dir);
  });

  it('putMeta writes node metadata on its own', async () => {
    await store.putMeta('app', utf8('v1'));
    expect(fromUtf8(store.getMeta('app')!)).toBe('v1');
    expect(store.getMeta('none')).toBeUndefined();
  });
});
