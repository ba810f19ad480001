// Smoke: a single-validator node starts, commits blocks with transfers, serves them over RPC, and restarts in place.
import { describe, it, expect, afterAll } from 'vitest';
import { Node, loadNodeOptions } from '../../src/node/node.js';
import { TransferArgs } from '../../src/vm/modules/asset.js';
import { makeHome, call, buildTx, K, addrHex, Nonces } from './node-helpers.js';

const home = makeHome();
afterAll(() => home.cleanup());

describe('node smoke', () => {
  it('commits a transfer, serves it, and resumes after a restart', async () => {
    const node = new Node(loadNodeOptions(home.home));
    const { rpcUrl } = await node.start();
    const nonces = new Nonces();
    const tx = buildTx(K.alice, nonces.next(K.alice), 'asset', 'transfer', TransferArgs, { asset: 'CNY', to: Buffer.from(addrHex(K.bob), 'hex'), amount: 1234n, memo: 'hi' });
    const r = await call<{ hash: string; committed: { height: string; receipt: { code: string } } }>(rpcUrl, 'tx_submit', { tx: tx.hex, wait: true });
    expect(r.hash).toBe(tx.hash);
    expect(r.committed.receipt.code).toBe('OK');
    const acct = await call<{ balances: { asset: string; amount: string }[] }>(rpcUrl, 'account_get', { address: addrHex(K.bob) });
    expect(acct.balances).toEqual([{ asset: 'CNY', amount: '1234' }]);
    const status = await call<{ height: string; stateRoot: string }>(rpcUrl, 'chain_status');
    await node.stop();

    const again = new Node(loadNodeOptions(home.home));
    const s2 = await again.start();
    expect(s2.height).toBe(BigInt(status.height));
    const got = await call<{ height: string; receipt: { code: string } }>(s2.rpcUrl, 'tx_get', { hash: tx.hash });
    expect(got.receipt.code).toBe('OK');
    await again.stop();
  });
});
