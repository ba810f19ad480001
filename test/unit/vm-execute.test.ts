// Vm.execute's generic rules: chain id, signature, nonce, gas, unknown op, bad args, and what each leaves in state.
import { describe, it, expect } from 'vitest';
import { TestChain, L, addr, changedKeys, nonceKeyOf } from '../helpers/vm.js';
import { TransferArgs, IssueArgs, balanceOf } from '../../src/vm/modules/asset.js';
import { VM_CODES } from '../../src/vm/vm.js';
import { encode, struct, u64 } from '../../src/core/codec.js';
import { GAS } from '../../src/vm/gas.js';
import { encodeTx } from '../../src/core/types.js';
import { createVm } from '../../src/vm/registry.js';

function args(): { asset: string; to: Uint8Array; amount: bigint; memo: string } {
  return { asset: 'CNY', to: addr(L.bob), amount: 1_000n, memo: '' };
}

describe('Vm.execute', () => {
  it('registers the five modules', () => {
    expect(createVm().moduleNames()).toEqual(
      expect.arrayContaining(['asset', 'member', 'vehicle', 'credit', 'staking']),
    );
  });

  const untouched: { name: string; code: string; opts: Parameters<TestChain['send']>[5] }[] = [
    { name: 'a tx for another chain', code: VM_CODES.WRONG_CHAIN, opts: { chainId: 'other-chain' } },
    { name: 'a bad signature', code: VM_CODES.BAD_SIGNATURE, opts: { badSignature: true } },
    { name: 'a nonce from the future', code: VM_CODES.BAD_NONCE, opts: { nonce: 1n } },
  ];
  for (const t of untouched) {
    it(`refuses ${t.name} with ${t.code} and changes nothing at all, not even the nonce`, () => {
      const c = new TestChain();
      const before = c.snapshot();
      const r = c.send(L.alice, 'asset', 'transfer', TransferArgs, args(), t.opts);
      expect(r.code).toBe(t.code);
      expect(r.message).not.toBe('');
      expect(r.gasUsed).toBe(0n);
      expect(r.events).toEqual([]);
      expect(changedKeys(before, c.snapshot())).toEqual([]);
    });
  }

  it('refuses a replayed tx (its nonce is used) and changes nothing', () => {
    const c = new TestChain();
    const tx = c.tx(L.alice, 'asset', 'transfer', TransferArgs, args());
    expect(c.run(tx).code).toBe('OK');
    const before = c.snapshot();
    expect(c.run(tx).code).toBe(VM_CODES.BAD_NONCE);
    expect(changedKeys(before, c.snapshot())).toEqual([]);
    expect(balanceOf(c.state, 'CNY', addr(L.bob))).toBe(1_000n);
  });

  const nonceOnly: { name: string; code: string; send: (c: TestChain) => ReturnType<TestChain['send']> }[] = [
    {
      name: 'a gas limit below the tx base cost',
      code: VM_CODES.OUT_OF_GAS,
      send: (c) => c.send(L.alice, 'asset', 'transfer', TransferArgs, args(), { gasLimit: GAS.txBase - 1n }),
    },
    {
      name: 'a gas limit that runs out inside the op',
      code: VM_CODES.OUT_OF_GAS,
      send: (c) => c.send(L.alice, 'asset', 'transfer', TransferArgs, args(), { gasLimit: 3_000n }),
    },
    {
      name: 'an unknown module',
      code: VM_CODES.UNKNOWN_OP,
      send: (c) => c.send(L.alice, 'nosuch', 'transfer', TransferArgs, args()),
    },
    {
      name: 'an unknown op',
      code: VM_CODES.UNKNOWN_OP,
      send: (c) => c.send(L.alice, 'asset', 'steal', TransferArgs, args()),
    },
    {
      name: 'an inherited property name as op',
      code: VM_CODES.UNKNOWN_OP,
      send: (c) => c.send(L.alice, 'asset', 'constructor', TransferArgs, args()),
    },
    {
      name: 'args of another op (wrong arity)',
      code: VM_CODES.BAD_ARGS,
      send: (c) => c.send(L.alice, 'asset', 'transfer', IssueArgs, { asset: 'CNY', to: addr(L.bob), amount: 1n }),
    },
    {
      name: 'args with trailing bytes',
      code: VM_CODES.BAD_ARGS,
      send: (c) =>
        c.send(L.alice, 'asset', 'transfer', TransferArgs, args(), {
          rawArgs: new Uint8Array([...encode(TransferArgs, args()), 0]),
        }),
    },
    {
      name: 'args of the wrong type',
      code: VM_CODES.BAD_ARGS,
      send: (c) =>
        c.send(L.alice, 'asset', 'transfer', TransferArgs, args(), {
          rawArgs: encode(
            struct('X', [
              ['a', u64],
              ['b', u64],
              ['c', u64],
              ['d', u64],
            ] as const),
            { a: 1n, b: 2n, c: 3n, d: 4n },
          ),
        }),
    },
    {
      name: 'empty args',
      code: VM_CODES.BAD_ARGS,
      send: (c) => c.send(L.alice, 'asset', 'transfer', TransferArgs, args(), { rawArgs: new Uint8Array() }),
    },
  ];
  for (const t of nonceOnly) {
    it(`fails ${t.name} with ${t.code}: only the nonce advances`, () => {
      const c = new TestChain();
      const before = c.snapshot();
      const r = t.send(c);
      expect(r.code).toBe(t.code);
      expect(r.message).not.toBe('');
      expect(r.events).toEqual([]);
      expect(changedKeys(before, c.snapshot())).toEqual([nonceKeyOf(L.alice)]);
      expect(c.nonce(L.alice)).toBe(1n);
      // The account's next tx uses the next nonce and works.
      expect(c.send(L.alice, 'asset', 'transfer', TransferArgs, args()).code).toBe('OK');
    });
  }

  it('charges deterministic gas: exactly the used amount suffices, one less runs out and rolls back', () => {
    const a = new TestChain();
    const used = a.send(L.alice, 'asset', 'transfer', TransferArgs, args()).gasUsed;
    const tx = a.tx(L.alice, 'asset', 'transfer', TransferArgs, args());
    expect(used).toBeGreaterThan(GAS.txBase + GAS.txByte * BigInt(encodeTx(tx).length) + 1_000n);
    const b = new TestChain();
    const r = b.send(L.alice, 'asset', 'transfer', TransferArgs, args(), { gasLimit: used });
    expect(r).toMatchObject({ code: 'OK', gasUsed: used });
    const c = new TestChain();
    const before = c.snapshot();
    const r2 = c.send(L.alice, 'asset', 'transfer', TransferArgs, args(), { gasLimit: used - 1n });
    expect(r2).toMatchObject({ code: VM_CODES.OUT_OF_GAS, gasUsed: used - 1n });
    expect(changedKeys(before, c.snapshot())).toEqual([nonceKeyOf(L.alice)]);
  });

  it('a failed op reports its module code with gas used, and only the nonce advances', () => {
    const c = new TestChain();
    const before = c.snapshot();
    const r = c.send(L.alice, 'asset', 'transfer', TransferArgs, { ...args(), amount: 10n ** 12n });
    expect(r.code).toBe('asset.INSUFFICIENT_FUNDS');
    expect(r.gasUsed).toBeGreaterThan(0n);
    expect(changedKeys(before, c.snapshot())).toEqual([nonceKeyOf(L.alice)]);
  });

  it('a mempool-verified tx skips signature verification (the caller vouches for it)', () => {
    const c = new TestChain();
    const tx = c.tx(L.alice, 'asset', 'transfer', TransferArgs, args(), { badSignature: true });
    const bytes = encodeTx(tx);
    const r = c.vm.execute(c.state, c.block(), tx, {
      txBytes: bytes.length,
      txHash: new Uint8Array(32),
      signatureVerified: true,
    });
    expect(r.code).toBe('OK');
  });

  it('is deterministic: the same txs on two fresh chains give the same receipts and state', () => {
    const run = (): [unknown[], Map<string, string>] => {
      const c = new TestChain();
      const receipts = [
        c.send(L.alice, 'asset', 'transfer', TransferArgs, args()),
        c.send(L.alice, 'asset', 'transfer', TransferArgs, { ...args(), amount: 10n ** 12n }),
        c.send(L.bank, 'asset', 'issue', IssueArgs, { asset: 'USD', to: addr(L.carol), amount: 5n }),
      ];
      return [receipts, c.snapshot()];
    };
    const [r1, s1] = run();
    const [r2, s2] = run();
    expect(r1).toEqual(r2);
    expect([...s1]).toEqual([...s2]);
  });
});
