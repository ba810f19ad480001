// The application boundary on real LevelDB stores: a block built by one node re-executes to the same header on
// another node with the same genesis, and a block whose roots lie is refused without touching state.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { toHex } from '../../src/core/bytes.js';
import { addressOf } from '../../src/core/keys.js';
import { decodeTx, blockHash, type Block } from '../../src/core/types.js';
import { ChainStore } from '../../src/state/store.js';
import { createVm } from '../../src/vm/registry.js';
import { resultsRootOf } from '../../src/vm/types.js';
import { TransferArgs } from '../../src/vm/modules/asset.js';
import { ChainApp, InvalidBlockError } from '../../src/node/app.js';
import { parseGenesis } from '../../src/node/genesis.js';
import { genesisDoc, buildTx, K, addrHex, GENESIS_TIME_MS } from './node-helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function openApp(): Promise<{ app: ChainApp; store: ChainStore }> {
  const dir = mkdtempSync(join(tmpdir(), 'autochain-app-'));
  dirs.push(dir);
  const store = await ChainStore.open(dir);
  const app = new ChainApp(parseGenesis(genesisDoc()), { store, vm: createVm(), logger: pino({ level: 'silent' }) });
  expect(await app.initChain()).toBe('applied');
  return { app, store };
}

describe('ChainApp', () => {
  it("re-executes another node's block to the same header, and refuses one whose state root lies", async () => {
    const a = await openApp();
    const b = await openApp();
    expect(toHex(a.store.stateRoot())).toBe(toHex(b.store.stateRoot()));
    const txs = [0n, 1n, 2n].map((n) => {
      const t = buildTx(K.alice, n, 'asset', 'transfer', TransferArgs, {
        asset: 'CNY',
        to: Buffer.from(addrHex(K.bob), 'hex'),
        amount: 5n,
        memo: '',
      });
      return { bytes: t.bytes, tx: decodeTx(t.bytes), hash: Buffer.from(t.hash, 'hex'), signatureVerified: false };
    });
    const built = a.app.buildBlock({
      height: 1n,
      timeMs: GENESIS_TIME_MS + 1000n,
      proposer: addressOf(K.validator.publicKey),
      txs,
      lastCommit: null,
    });
    expect(built.receipts.map((r) => r.code)).toEqual(['OK', 'OK', 'OK']);
    expect(toHex(built.block.header.resultsRoot)).toBe(toHex(resultsRootOf(built.receipts)));

    const rootBefore = toHex(b.store.stateRoot());
    const lying: Block = { ...built.block, header: { ...built.block.header, stateRoot: new Uint8Array(32).fill(7) } };
    expect(() => b.app.executeBlock(lying, () => false)).toThrow(InvalidBlockError);
    expect(() => b.app.executeBlock(lying, () => false)).toThrow(/stateRoot/);
    const garbage: Block = { ...built.block, txs: [new Uint8Array([1, 2, 3])] };
    expect(() => b.app.executeBlock(garbage, () => false)).toThrow(/does not decode/);
    expect(toHex(b.store.stateRoot())).toBe(rootBefore);

    const again = b.app.executeBlock(built.block, () => false);
    expect(toHex(again.hash)).toBe(toHex(blockHash(built.block.header)));
    const commit = a.app.signCommit(built, K.validator);
    await a.app.commitBlock(built, commit);
    await b.app.commitBlock(again, commit);
    expect(toHex(a.store.stateRoot())).toBe(toHex(b.store.stateRoot()));
    expect(a.app.lastCommit()).toEqual(commit);
    await a.store.close();
    await b.store.close();
  });
});
