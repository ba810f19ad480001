// Smoke: a single-validator node starts, commits blocks with transfers, serves them over RPC, and restarts in place.
import { describe, it, expect, afterAll } from 'vitest';
import { Node, loadNodeOptions } from '../../src/node/node.js';
import { TransferArgs } from '../../src/vm/modules/asset.js';
import { keyPairFromLabel } from '../../src/core/keys.js';
import { makeHome, call, rpc, buildTx, K, addrHex, Nonces } from './node-helpers.js';

const home = makeHome();
afterAll(() => home.cleanup());

describe('node smoke', () => {
  it('commits a transfer, serves it, and resumes after a restart', async () => {
    const node = new Node(loadNodeOptions(home.home));
    const { rpcUrl } = await node.start();
    const nonces = new Nonces();
    const tx = buildTx(K.alice, nonces.next(K.alice), 'asset', 'transfer', TransferArgs, {
      asset: 'CNY',
      to: Buffer.from(addrHex(K.bob), 'hex'),
      amount: 1234n,
      memo: 'hi',
    });
    const r = await call<{ hash: string; committed: { height: string; receipt: { code: string } } }>(
      rpcUrl,
      'tx_submit',
      { tx: tx.hex, wait: true },
    );
    expect(r.hash).toBe(tx.hash);
    expect(r.committed.receipt.code).toBe('OK');
    const acct = await call<{ balances: { asset: string; amount: string }[] }>(rpcUrl, 'account_get', {
      address: addrHex(K.bob),
    });
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

describe('graceful stop', () => {
  it('finishes the block in progress: every tx acknowledged before stop() is there after a restart', async () => {
    const h = makeHome({ block: { intervalMs: 15, emptyBlockIntervalMs: 0 } });
    try {
      const node = new Node(loadNodeOptions(h.home));
      const { rpcUrl } = await node.start();
      const senders = [0, 1, 2, 3].map((i) => keyPairFromLabel(`itest-stop-${i}`));
      for (const [i, s] of senders.entries()) {
        const fund = buildTx(K.alice, BigInt(i), 'asset', 'transfer', TransferArgs, {
          asset: 'CNY',
          to: Buffer.from(addrHex(s), 'hex'),
          amount: 100n,
          memo: '',
        });
        await call(rpcUrl, 'tx_submit', { tx: fund.hex, wait: true });
      }
      const acked: string[] = [];
      const outcomes: string[] = [];
      let stopping = false;
      const flows = senders.map(async (s) => {
        for (let n = 0n; !stopping; n++) {
          const t = buildTx(s, n, 'asset', 'transfer', TransferArgs, {
            asset: 'CNY',
            to: Buffer.from(addrHex(K.bob), 'hex'),
            amount: 1n,
            memo: '',
          });
          try {
            const r = await rpc(rpcUrl, 'tx_submit', { tx: t.hex, wait: true, timeoutMs: 5000 });
            if (r.result) acked.push(t.hash);
            else outcomes.push(String(r.error?.code));
          } catch {
            outcomes.push('connection closed');
            return;
          }
        }
      });
      while (acked.length < 12) await new Promise((r) => setTimeout(r, 5));
      stopping = true;
      await node.stop();
      await Promise.all(flows);
      // Anything not acknowledged ended with "node stopping" (-32005) or a closed connection, never a wrong answer.
      for (const o of outcomes) expect(['-32005', 'connection closed'], o).toContain(o);

      const again = new Node(loadNodeOptions(h.home));
      const s2 = await again.start();
      for (const hash of acked) {
        const got = await call<{ receipt: { code: string } }>(s2.rpcUrl, 'tx_get', { hash });
        expect(got.receipt.code, hash).toBe('OK');
      }
      await again.stop();
    } finally {
      h.cleanup();
    }
  });
});
