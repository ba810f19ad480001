// Property: a tx run under a savepoint of the block's overlay (the VM's fast path) gives exactly the receipts and the
// state of a tx run in its own overlay (the path for any other store), including txs that fail or run out of gas
// between two writes.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { TestChain, L } from '../helpers/vm.js';
import { IssueArgs, RedeemArgs, TransferArgs } from '../../src/vm/modules/asset.js';
import { BondArgs, UnbondArgs } from '../../src/vm/modules/staking.js';
import { encodeTx, txHash, type Tx } from '../../src/core/types.js';
import { Overlay } from '../../src/state/kv.js';
import { encodeReceipt } from '../../src/vm/types.js';
import { toHex } from '../../src/core/bytes.js';
import { addr } from '../helpers/vm.js';

const ACCOUNTS = [L.bank, L.lender, L.alice, L.bob, L.v1, L.v2] as const;
const who = fc.constantFrom(...ACCOUNTS);
const asset = fc.constantFrom('CNY', 'USD', 'EUR');
const amount = fc.oneof(fc.bigInt({ min: 0n, max: 3_000_000n }), fc.bigInt({ min: 0n, max: 10n ** 11n }));
// Generous, too small for the tx base, and around what a transfer or bond costs (so gas can run out mid-op).
const gasLimit = fc.oneof(fc.constant(10_000_000n), fc.constant(500n), fc.bigInt({ min: 3_000n, max: 9_000n }));

type Step =
  | { k: 'issue' | 'transfer'; by: string; to: string; asset: string; amount: bigint; gas: bigint }
  | { k: 'redeem'; by: string; asset: string; amount: bigint; gas: bigint }
  | { k: 'bond' | 'unbond'; by: string; amount: bigint; gas: bigint }
  | { k: 'block' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    k: fc.constantFrom('issue' as const, 'transfer' as const),
    by: who,
    to: who,
    asset,
    amount,
    gas: gasLimit,
  }),
  fc.record({ k: fc.constant('redeem' as const), by: who, asset, amount, gas: gasLimit }),
  fc.record({ k: fc.constantFrom('bond' as const, 'unbond' as const), by: who, amount, gas: gasLimit }),
  fc.record({ k: fc.constant('block' as const) }),
);

function txOf(c: TestChain, s: Exclude<Step, { k: 'block' }>): Tx {
  const o = { gasLimit: s.gas };
  switch (s.k) {
    case 'issue':
      return c.tx(s.by, 'asset', 'issue', IssueArgs, { asset: s.asset, to: addr(s.to), amount: s.amount }, o);
    case 'transfer':
      return c.tx(
        s.by,
        'asset',
        'transfer',
        TransferArgs,
        { asset: s.asset, to: addr(s.to), amount: s.amount, memo: 'm' },
        o,
      );
    case 'redeem':
      return c.tx(s.by, 'asset', 'redeem', RedeemArgs, { asset: s.asset, amount: s.amount }, o);
    case 'bond':
      return c.tx(s.by, 'staking', 'bond', BondArgs, { amount: s.amount }, o);
    case 'unbond':
      return c.tx(s.by, 'staking', 'unbond', UnbondArgs, { amount: s.amount }, o);
  }
}

describe('savepoint execution (property)', () => {
  it('equals execution in a tx overlay: same receipts, same state', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
        const plain = new TestChain();
        const fast = new TestChain();
        let block = new Overlay(fast.state);
        for (const s of steps) {
          if (s.k === 'block') {
            const endFast = fast.vm.endBlock(block, fast.block());
            block.commitTo(fast.state);
            block = new Overlay(fast.state);
            expect(endFast).toEqual(plain.nextBlock());
            fast.height += 1n;
            fast.timeMs += 5_000n;
            continue;
          }
          const tx = txOf(plain, s);
          const bytes = encodeTx(tx);
          const opts = { txBytes: bytes.length, txHash: txHash(bytes), signatureVerified: false };
          const a = plain.vm.execute(plain.state, plain.block(), tx, opts);
          const b = fast.vm.execute(block, fast.block(), tx, opts);
          expect(toHex(encodeReceipt(b)), `${s.k} by ${s.by}: ${a.code}`).toBe(toHex(encodeReceipt(a)));
        }
        block.commitTo(fast.state);
        expect(fast.snapshot()).toEqual(plain.snapshot());
      }),
      { numRuns: 60 },
    );
  });
});
