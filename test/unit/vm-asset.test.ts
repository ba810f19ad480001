// asset module: issue, redeem, transfer, every rejection, and supply = sum of balances.
import { describe, it, expect } from 'vitest';
import { TestChain, L, addr, expectRejected, supplyAndBalances } from '../helpers/vm.js';
import {
  IssueArgs,
  RedeemArgs,
  TransferArgs,
  ASSET_CODES,
  balanceOf,
  supplyOf,
  transfer,
  assetExists,
  views,
} from '../../src/vm/modules/asset.js';
import { Overlay } from '../../src/state/kv.js';

const CNY = 'CNY';

function invariant(c: TestChain): void {
  for (const [code, supply, sum] of supplyAndBalances(c.state)) expect(sum, `supply of ${code}`).toBe(supply);
}

describe('asset', () => {
  it('genesis balances count in supply', () => {
    const c = new TestChain();
    expect(balanceOf(c.state, CNY, addr(L.bank))).toBe(1_000_000_000_00n);
    expect(assetExists(c.state, CNY)).toBe(true);
    expect(assetExists(c.state, 'EUR')).toBe(false);
    invariant(c);
  });

  it('a bank issues to any account and redeems its own balance; supply follows', () => {
    const c = new TestChain();
    const supply0 = supplyOf(c.state, CNY);
    const r = c.ok(L.bank, 'asset', 'issue', IssueArgs, { asset: CNY, to: addr(L.carol), amount: 123_45n });
    expect(r.events).toEqual([
      {
        module: 'asset',
        type: 'issued',
        attrs: {
          asset: CNY,
          to: Buffer.from(addr(L.carol)).toString('hex'),
          amount: '12345',
          by: Buffer.from(addr(L.bank)).toString('hex'),
        },
      },
    ]);
    expect(balanceOf(c.state, CNY, addr(L.carol))).toBe(123_45n);
    expect(supplyOf(c.state, CNY)).toBe(supply0 + 123_45n);
    c.ok(L.bank, 'asset', 'redeem', RedeemArgs, { asset: CNY, amount: 1_00n });
    expect(supplyOf(c.state, CNY)).toBe(supply0 + 122_45n);
    expect(balanceOf(c.state, CNY, addr(L.bank))).toBe(1_000_000_000_00n - 1_00n);
    invariant(c);
  });

  it('transfers move exactly the amount and emit an event; emptied accounts leave no entry', () => {
    const c = new TestChain();
    const r = c.ok(L.alice, 'asset', 'transfer', TransferArgs, {
      asset: CNY,
      to: addr(L.bob),
      amount: 5_000_000n,
      memo: 'car deposit',
    });
    expect(r.events[0]?.type).toBe('transferred');
    expect(r.events[0]?.attrs['memo']).toBe('car deposit');
    expect(balanceOf(c.state, CNY, addr(L.alice))).toBe(0n);
    expect(balanceOf(c.state, CNY, addr(L.bob))).toBe(5_000_000n);
    expect(views.account(c.state, addr(L.alice))).toEqual({
      address: Buffer.from(addr(L.alice)).toString('hex'),
      nonce: '1',
      balances: [],
    });
    expect(views.account(c.state, addr(L.bob)).balances).toEqual([{ asset: CNY, amount: '5000000' }]);
    invariant(c);
  });

  it('the exported transfer helper fails without writing', () => {
    const c = new TestChain();
    const o = new Overlay(c.state);
    const r = transfer(o, CNY, addr(L.carol), addr(L.bob), 1n);
    expect(r).toEqual({ ok: false, code: ASSET_CODES.INSUFFICIENT_FUNDS, message: expect.any(String) });
    expect(o.size).toBe(0);
    expect(transfer(o, 'EUR', addr(L.alice), addr(L.bob), 1n)).toMatchObject({
      ok: false,
      code: ASSET_CODES.UNKNOWN_ASSET,
    });
    expect(o.size).toBe(0);
  });

  it('views list assets with their supply', () => {
    const c = new TestChain();
    const list = views.listAssets(c.state);
    expect(list.map((a) => a.code)).toEqual(['CNY', 'USD']);
    expect(list[1]).toEqual({ code: 'USD', decimals: 2, supply: '1000000000' });
  });

  const cases: { name: string; code: string; label: string; send: (c: TestChain) => ReturnType<TestChain['send']> }[] =
    [
      {
        name: 'issue by a non-bank',
        code: ASSET_CODES.NOT_BANK,
        label: L.lender,
        send: (c) => c.send(L.lender, 'asset', 'issue', IssueArgs, { asset: CNY, to: addr(L.lender), amount: 1n }),
      },
      {
        name: 'issue by a non-member',
        code: ASSET_CODES.NOT_BANK,
        label: L.outsider,
        send: (c) => c.send(L.outsider, 'asset', 'issue', IssueArgs, { asset: CNY, to: addr(L.outsider), amount: 1n }),
      },
      {
        name: 'issue of zero',
        code: ASSET_CODES.ZERO_AMOUNT,
        label: L.bank,
        send: (c) => c.send(L.bank, 'asset', 'issue', IssueArgs, { asset: CNY, to: addr(L.bob), amount: 0n }),
      },
      {
        name: 'issue of an unknown asset',
        code: ASSET_CODES.UNKNOWN_ASSET,
        label: L.bank,
        send: (c) => c.send(L.bank, 'asset', 'issue', IssueArgs, { asset: 'EUR', to: addr(L.bob), amount: 1n }),
      },
      {
        name: 'issue beyond u64 supply',
        code: ASSET_CODES.SUPPLY_OVERFLOW,
        label: L.bank,
        send: (c) =>
          c.send(L.bank, 'asset', 'issue', IssueArgs, { asset: CNY, to: addr(L.bob), amount: (1n << 64n) - 1n }),
      },
      {
        name: 'redeem by a non-bank',
        code: ASSET_CODES.NOT_BANK,
        label: L.alice,
        send: (c) => c.send(L.alice, 'asset', 'redeem', RedeemArgs, { asset: CNY, amount: 1n }),
      },
      {
        name: 'redeem of zero',
        code: ASSET_CODES.ZERO_AMOUNT,
        label: L.bank,
        send: (c) => c.send(L.bank, 'asset', 'redeem', RedeemArgs, { asset: CNY, amount: 0n }),
      },
      {
        name: 'redeem more than held',
        code: ASSET_CODES.INSUFFICIENT_FUNDS,
        label: L.bank,
        send: (c) => c.send(L.bank, 'asset', 'redeem', RedeemArgs, { asset: CNY, amount: 1_000_000_000_01n }),
      },
      {
        name: 'redeem of an unknown asset',
        code: ASSET_CODES.UNKNOWN_ASSET,
        label: L.bank,
        send: (c) => c.send(L.bank, 'asset', 'redeem', RedeemArgs, { asset: 'EUR', amount: 1n }),
      },
      {
        name: 'transfer of zero',
        code: ASSET_CODES.ZERO_AMOUNT,
        label: L.alice,
        send: (c) =>
          c.send(L.alice, 'asset', 'transfer', TransferArgs, { asset: CNY, to: addr(L.bob), amount: 0n, memo: '' }),
      },
      {
        name: 'transfer to oneself',
        code: ASSET_CODES.SELF_TRANSFER,
        label: L.alice,
        send: (c) =>
          c.send(L.alice, 'asset', 'transfer', TransferArgs, { asset: CNY, to: addr(L.alice), amount: 1n, memo: '' }),
      },
      {
        name: 'transfer more than held',
        code: ASSET_CODES.INSUFFICIENT_FUNDS,
        label: L.alice,
        send: (c) =>
          c.send(L.alice, 'asset', 'transfer', TransferArgs, {
            asset: CNY,
            to: addr(L.bob),
            amount: 5_000_001n,
            memo: '',
          }),
      },
      {
        name: 'transfer from an empty account',
        code: ASSET_CODES.INSUFFICIENT_FUNDS,
        label: L.carol,
        send: (c) =>
          c.send(L.carol, 'asset', 'transfer', TransferArgs, { asset: 'USD', to: addr(L.bob), amount: 1n, memo: '' }),
      },
      {
        name: 'transfer of an unknown asset',
        code: ASSET_CODES.UNKNOWN_ASSET,
        label: L.alice,
        send: (c) =>
          c.send(L.alice, 'asset', 'transfer', TransferArgs, { asset: 'EUR', to: addr(L.bob), amount: 1n, memo: '' }),
      },
    ];
  for (const t of cases) {
    it(`rejects ${t.name} with ${t.code}, changing nothing but the nonce`, () => {
      const c = new TestChain();
      expectRejected(c, t.label, t.code, () => t.send(c));
      invariant(c);
    });
  }

  it('every asset error code is covered by the rejection table', () => {
    const covered = new Set(cases.map((t) => t.code));
    for (const code of Object.values(ASSET_CODES)) expect(covered.has(code), code).toBe(true);
  });
});
