// Property: over random sequences of asset and staking ops, evidence and block times, money is conserved per asset:
// supply = sum of balances always, and supply moves only by issues, redemptions and slashing.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { TestChain, L, addr, supplyAndBalances, DAY_MS } from '../helpers/vm.js';
import { IssueArgs, RedeemArgs, TransferArgs, supplyOf } from '../../src/vm/modules/asset.js';
import { BondArgs, UnbondArgs, UnjailArgs } from '../../src/vm/modules/staking.js';

const ACCOUNTS = [L.bank, L.lender, L.alice, L.bob, L.v1, L.v2, L.v3, L.outsider] as const;
const ASSETS = ['CNY', 'USD', 'EUR'] as const; // EUR is unknown: those ops must fail and change nothing
const who = fc.constantFrom(...ACCOUNTS);
const asset = fc.constantFrom(...ASSETS);
const amount = fc.oneof(
  fc.bigInt({ min: 0n, max: 2_000_000n }),
  fc.constant(0n),
  fc.bigInt({ min: 0n, max: 10n ** 12n }),
);

type Step =
  | { k: 'issue'; by: string; to: string; asset: string; amount: bigint }
  | { k: 'redeem'; by: string; asset: string; amount: bigint }
  | { k: 'transfer'; by: string; to: string; asset: string; amount: bigint }
  | { k: 'bond' | 'unbond'; by: string; amount: bigint }
  | { k: 'unjail'; by: string }
  | { k: 'evidence'; validator: string; height: bigint }
  | { k: 'block'; ms: bigint };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ k: fc.constant('issue' as const), by: who, to: who, asset, amount }),
  fc.record({ k: fc.constant('redeem' as const), by: who, asset, amount }),
  fc.record({ k: fc.constant('transfer' as const), by: who, to: who, asset, amount }),
  fc.record({ k: fc.constantFrom('bond' as const, 'unbond' as const), by: who, amount }),
  fc.record({ k: fc.constant('unjail' as const), by: who }),
  fc.record({
    k: fc.constant('evidence' as const),
    validator: fc.constantFrom(L.v1, L.v2, L.v3),
    height: fc.bigInt({ min: 1n, max: 4n }),
  }),
  fc.record({ k: fc.constant('block' as const), ms: fc.constantFrom(1_000n, DAY_MS, 3n * DAY_MS, 8n * DAY_MS) }),
);

describe('asset conservation (property)', () => {
  it('supply equals the sum of balances and moves only by issue, redeem and slashing', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        const c = new TestChain();
        const expected = new Map<string, bigint>(
          ASSETS.filter((a) => a !== 'EUR').map((a) => [a, supplyOf(c.state, a)]),
        );
        for (const s of steps) {
          if (s.k === 'block') {
            c.nextBlock(s.ms);
          } else if (s.k === 'evidence') {
            for (const e of c.beginBlock([{ validator: addr(s.validator), height: s.height, timeMs: c.timeMs }])) {
              if (e.type === 'slashed') expected.set('CNY', expected.get('CNY')! - BigInt(e.attrs['amount']!));
            }
          } else if (s.k === 'issue') {
            const r = c.send(s.by, 'asset', 'issue', IssueArgs, { asset: s.asset, to: addr(s.to), amount: s.amount });
            if (r.code === 'OK') expected.set(s.asset, expected.get(s.asset)! + s.amount);
          } else if (s.k === 'redeem') {
            const r = c.send(s.by, 'asset', 'redeem', RedeemArgs, { asset: s.asset, amount: s.amount });
            if (r.code === 'OK') expected.set(s.asset, expected.get(s.asset)! - s.amount);
          } else if (s.k === 'transfer') {
            c.send(s.by, 'asset', 'transfer', TransferArgs, {
              asset: s.asset,
              to: addr(s.to),
              amount: s.amount,
              memo: '',
            });
          } else if (s.k === 'unjail') {
            c.send(s.by, 'staking', 'unjail', UnjailArgs, {});
          } else {
            c.send(s.by, 'staking', s.k, s.k === 'bond' ? BondArgs : UnbondArgs, { amount: s.amount });
          }
          for (const [code, supply, sum] of supplyAndBalances(c.state)) {
            expect(sum, `sum of ${code} balances after ${s.k}`).toBe(supply);
            expect(supply, `supply of ${code} after ${s.k}`).toBe(expected.get(code));
          }
        }
      }),
      { numRuns: 60 },
    );
  });
});
