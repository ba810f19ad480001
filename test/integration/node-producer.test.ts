// Block production rules of the single-validator producer: empty blocks only when configured, block time from the
// devnet step, no blocks without > 2/3 of the power, and a node without a validator key serving RPC only.
import { describe, it, expect } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/core/bytes.js';
import { keyPairFromLabel } from '../../src/core/keys.js';
import { Node, loadNodeOptions } from '../../src/node/node.js';
import { TransferArgs } from '../../src/vm/modules/asset.js';
import { makeHome, call, buildTx, K, addrHex, genesisDoc, DAY_MS, GENESIS_TIME_MS } from './node-helpers.js';
import type { PartialConfig } from '../../src/node/config.js';
import type { GenesisDoc } from '../../src/node/genesis.js';

async function withNode(
  config: PartialConfig,
  genesis: GenesisDoc | undefined,
  fn: (url: string, node: Node) => Promise<void>,
  opts: { noKey?: boolean } = {},
): Promise<void> {
  const h = makeHome(config, genesis);
  if (opts.noKey) rmSync(join(h.home, 'validator_key.json'));
  const node = new Node(loadNodeOptions(h.home));
  try {
    const { rpcUrl } = await node.start();
    await fn(rpcUrl, node);
  } finally {
    await node.stop();
    h.cleanup();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const heightOf = async (url: string) => BigInt((await call<{ height: string }>(url, 'chain_status')).height);
const transfer = { asset: 'CNY', to: Buffer.from(addrHex(K.bob), 'hex'), amount: 1n, memo: '' };

describe('single-validator producer', () => {
  it('makes no block while nothing waits and empty blocks are off', () =>
    withNode({ block: { intervalMs: 10, emptyBlockIntervalMs: 0 } }, undefined, async (url) => {
      await sleep(150);
      expect(await heightOf(url)).toBe(0n);
    }));

  it('makes empty blocks when emptyBlockIntervalMs is set, at devnet block times', () =>
    withNode({ block: { intervalMs: 10, emptyBlockIntervalMs: 20, timeStepMs: DAY_MS } }, undefined, async (url) => {
      for (let i = 0; i < 100 && (await heightOf(url)) < 3n; i++) await sleep(20);
      expect(await heightOf(url)).toBeGreaterThanOrEqual(3n);
      const b2 = await call<{ header: { timeMs: string }; txs: unknown[] }>(url, 'chain_getBlock', { height: 2 });
      expect(b2.txs).toEqual([]);
      expect(BigInt(b2.header.timeMs)).toBe(GENESIS_TIME_MS + 2n * BigInt(DAY_MS));
    }));

  it('uses the wall clock otherwise: block times increase and are after genesis', () =>
    withNode({ block: { intervalMs: 10, emptyBlockIntervalMs: 0 } }, undefined, async (url) => {
      for (let n = 0n; n < 2n; n++) {
        await call(url, 'tx_submit', {
          tx: buildTx(K.alice, n, 'asset', 'transfer', TransferArgs, transfer).hex,
          wait: true,
        });
      }
      const b1 = await call<{ header: { timeMs: string } }>(url, 'chain_getBlock', { height: 1 });
      const b2 = await call<{ header: { timeMs: string; prevHash: string } }>(url, 'chain_getBlock', { height: 2 });
      expect(BigInt(b2.header.timeMs)).toBeGreaterThan(BigInt(b1.header.timeMs));
      expect(BigInt(b1.header.timeMs)).toBeGreaterThan(GENESIS_TIME_MS);
      const h1 = await call<{ hash: string }>(url, 'chain_getBlock', { height: 1 });
      expect(b2.header.prevHash).toBe(h1.hash);
    }));

  it('makes no block without > 2/3 of the power: the tx waits', async () => {
    const other = keyPairFromLabel('itest-validator-2');
    const g = genesisDoc();
    g.members.push({
      id: 'operator2',
      name: 'Second Operator',
      roles: ['validator'],
      accounts: [toHex(other.publicKey)],
    });
    g.validators.push({ publicKey: toHex(other.publicKey), stake: '1000000', memberId: 'operator2' });
    await withNode({ block: { intervalMs: 10, emptyBlockIntervalMs: 10 } }, g, async (url) => {
      const t = buildTx(K.alice, 0n, 'asset', 'transfer', TransferArgs, transfer);
      await call(url, 'tx_submit', { tx: t.hex });
      await sleep(150);
      expect(await heightOf(url)).toBe(0n);
      const s = await call<{ mempool: { size: number } }>(url, 'chain_status');
      expect(s.mempool.size).toBe(1);
      const v = await call<{ validators: unknown[]; totalPower: string }>(url, 'validator_list');
      expect(v.validators.length).toBe(2);
      expect(v.totalPower).toBe('2000000');
    });
  });

  it('without a validator key the node serves RPC and makes no blocks', () =>
    withNode(
      { block: { intervalMs: 10, emptyBlockIntervalMs: 10 } },
      undefined,
      async (url) => {
        await sleep(100);
        const s = await call<{ height: string; validator: string | null }>(url, 'chain_status');
        expect(s).toMatchObject({ height: '0', validator: null });
        const acct = await call<{ balances: { amount: string }[] }>(url, 'account_get', { address: addrHex(K.alice) });
        expect(acct.balances[0]!.amount).toBe('50000000');
      },
      { noKey: true },
    ));
});
