// staking module: bond, unbond with its delay, slashing and jailing on evidence, validator updates, every rejection.
import { describe, it, expect } from 'vitest';
import {
  TestChain,
  L,
  addr,
  key,
  expectRejected,
  testGenesis,
  supplyAndBalances,
  DAY_MS,
  VALIDATOR_STAKE,
  MIN_STAKE,
} from '../helpers/vm.js';
import {
  BondArgs,
  UnbondArgs,
  UnjailArgs,
  STAKING_CODES,
  MAX_UNBONDING,
  BONDED_POOL,
  UnbondingSchema,
  loadValidatorSet,
  loadValidator,
  loadUnbonding,
  views,
} from '../../src/vm/modules/staking.js';
import { AddAccountArgs } from '../../src/vm/modules/member.js';
import { TransferArgs, balanceOf, supplyOf } from '../../src/vm/modules/asset.js';
import { list } from '../../src/core/codec.js';
import { stateKey, save } from '../../src/vm/store.js';
import { compareBytes } from '../../src/core/bytes.js';
import type { Genesis } from '../../src/vm/types.js';
import { MAX_VALIDATORS } from '../../src/core/constants.js';

const pk = (l: string): Uint8Array => key(l).publicKey;

function invariant(c: TestChain): void {
  for (const [code, supply, sum] of supplyAndBalances(c.state)) expect(sum, `supply of ${code}`).toBe(supply);
}

/** val-a gets a second key 'val-1b' holding 2,000,000 CNY, ready to bond. */
function chainWithCandidate(g?: Genesis): TestChain {
  const c = new TestChain(g ? { genesis: g } : {});
  c.ok(L.v1, 'member', 'addAccount', AddAccountArgs, { publicKey: pk('val-1b') });
  c.ok(L.bank, 'asset', 'transfer', TransferArgs, { asset: 'CNY', to: addr('val-1b'), amount: 2_000_000n, memo: '' });
  return c;
}

describe('staking', () => {
  it('genesis stake sits in the bonded pool and counts in supply; the set is sorted by power then address', () => {
    const c = new TestChain();
    expect(balanceOf(c.state, 'CNY', BONDED_POOL)).toBe(3n * VALIDATOR_STAKE);
    invariant(c);
    const set = loadValidatorSet(c.state);
    expect(set.length).toBe(3);
    const sorted = [...set].sort((a, b) => compareBytes(a.address, b.address));
    expect(set).toEqual(sorted);
    // No update at the first end-block: consensus starts from the genesis set.
    expect(c.nextBlock().validatorUpdates).toEqual([]);
  });

  it('a validator-operator account bonds and joins the set at end-block; bonding more raises its power', () => {
    const c = chainWithCandidate();
    const r = c.ok('val-1b', 'staking', 'bond', BondArgs, { amount: 1_500_000n });
    expect(r.events[0]).toMatchObject({ type: 'bonded', attrs: { stake: '1500000', member: 'val-a' } });
    expect(loadValidatorSet(c.state)[0]).toEqual({
      publicKey: pk('val-1b'),
      address: addr('val-1b'),
      power: 1_500_000n,
    });
    expect(c.nextBlock().validatorUpdates).toEqual([{ publicKey: pk('val-1b'), power: 1_500_000n }]);
    expect(c.nextBlock().validatorUpdates).toEqual([]);
    c.ok(L.v1, 'staking', 'bond', BondArgs, { amount: 1n });
    expect(c.nextBlock().validatorUpdates).toEqual([{ publicKey: pk(L.v1), power: VALIDATOR_STAKE + 1n }]);
    invariant(c);
  });

  it('unbonding returns funds only after the unbonding period; exiting reports power 0', () => {
    const c = new TestChain();
    const before = balanceOf(c.state, 'CNY', addr(L.v1));
    const r = c.ok(L.v1, 'staking', 'unbond', UnbondArgs, { amount: 400_000n });
    expect(r.events[0]).toMatchObject({
      type: 'unbonding',
      attrs: { stake: '600000', completeAtMs: (c.timeMs + 7n * DAY_MS).toString() },
    });
    expect(c.nextBlock(7n * DAY_MS - 1n).validatorUpdates).toEqual([{ publicKey: pk(L.v1), power: 600_000n }]);
    expect(c.nextBlock(1n).events).toEqual([]); // end-block 1 ms before completeAtMs
    expect(balanceOf(c.state, 'CNY', addr(L.v1))).toBe(before);
    const done = c.nextBlock(); // end-block at exactly completeAtMs
    expect(done.events.map((e) => e.type)).toEqual(['unbondingCompleted']);
    expect(balanceOf(c.state, 'CNY', addr(L.v1))).toBe(before + 400_000n);
    expect(loadUnbonding(c.state)).toEqual([]);
    c.ok(L.v2, 'staking', 'unbond', UnbondArgs, { amount: VALIDATOR_STAKE });
    expect(loadValidator(c.state, addr(L.v2))).toBeNull();
    expect(c.nextBlock().validatorUpdates).toEqual([{ publicKey: pk(L.v2), power: 0n }]);
    invariant(c);
  });

  it('evidence slashes slashBps of bonded and unbonding stake once, burns it from supply, and jails', () => {
    const c = new TestChain();
    c.ok(L.v1, 'staking', 'unbond', UnbondArgs, { amount: 200_000n });
    const supply = supplyOf(c.state, 'CNY');
    c.nextBlock();
    const events = c.beginBlock([{ validator: addr(L.v1), height: 1n, timeMs: c.timeMs - 5_000n }]);
    expect(events.map((e) => e.type)).toEqual(['jailed', 'slashed']);
    // 5% of 800,000 bonded + 5% of 200,000 unbonding
    expect(events[1]?.attrs['amount']).toBe('50000');
    expect(loadValidator(c.state, addr(L.v1))).toMatchObject({ stake: 760_000n, jailedUntilMs: c.timeMs + DAY_MS });
    expect(loadUnbonding(c.state)[0]?.amount).toBe(190_000n);
    expect(supplyOf(c.state, 'CNY')).toBe(supply - 50_000n);
    invariant(c);
    // The same (validator, height) again, even by public key, does nothing.
    expect(c.beginBlock([{ validator: pk(L.v1), height: 1n, timeMs: 0n }])).toEqual([]);
    expect(loadValidator(c.state, addr(L.v1))?.stake).toBe(760_000n);
    expect(c.nextBlock().validatorUpdates).toEqual([{ publicKey: pk(L.v1), power: 0n }]);
    expect(loadValidatorSet(c.state).length).toBe(2);
    // Another height is another offence.
    expect(c.beginBlock([{ validator: pk(L.v1), height: 2n, timeMs: 0n }]).map((e) => e.type)).toEqual([
      'jailed',
      'slashed',
    ]);
    expect(loadValidator(c.state, addr(L.v1))?.stake).toBe(722_000n);
    invariant(c);
  });

  it('a jailed validator unjails after jailMs and returns to the set', () => {
    const c = new TestChain();
    c.beginBlock([{ validator: addr(L.v2), height: 1n, timeMs: c.timeMs }]);
    c.nextBlock(DAY_MS);
    const r = c.ok(L.v2, 'staking', 'unjail', UnjailArgs, {});
    expect(r.events[0]?.type).toBe('unjailed');
    expect(c.nextBlock().validatorUpdates).toEqual([{ publicKey: pk(L.v2), power: 950_000n }]);
    expect(
      views.listValidators(c.state).validators.find((v) => v.publicKey === Buffer.from(pk(L.v2)).toString('hex')),
    ).toMatchObject({ stake: '950000', power: '950000', jailedUntilMs: null });
  });

  it('evidence for an unknown validator changes nothing but the slashed marker', () => {
    const c = new TestChain();
    const supply = supplyOf(c.state, 'CNY');
    const events = c.beginBlock([{ validator: addr(L.outsider), height: 3n, timeMs: 0n }]);
    expect(events).toEqual([
      {
        module: 'staking',
        type: 'slashed',
        attrs: { validator: Buffer.from(addr(L.outsider)).toString('hex'), height: '3', amount: '0', asset: 'CNY' },
      },
    ]);
    expect(supplyOf(c.state, 'CNY')).toBe(supply);
  });

  type Case = {
    name: string;
    code: string;
    label: string;
    genesis?: () => Genesis;
    setup?: (c: TestChain) => void;
    send: (c: TestChain) => ReturnType<TestChain['send']>;
  };
  const cases: Case[] = [
    {
      name: 'bond by a non-validator member',
      code: STAKING_CODES.NOT_VALIDATOR_OPERATOR,
      label: L.bank,
      send: (c) => c.send(L.bank, 'staking', 'bond', BondArgs, { amount: MIN_STAKE }),
    },
    {
      name: 'bond by a non-member',
      code: STAKING_CODES.NOT_VALIDATOR_OPERATOR,
      label: L.alice,
      send: (c) => c.send(L.alice, 'staking', 'bond', BondArgs, { amount: MIN_STAKE }),
    },
    {
      name: 'bond of zero',
      code: STAKING_CODES.ZERO_AMOUNT,
      label: L.v1,
      send: (c) => c.send(L.v1, 'staking', 'bond', BondArgs, { amount: 0n }),
    },
    {
      name: 'bond beyond the balance',
      code: STAKING_CODES.INSUFFICIENT_FUNDS,
      label: L.v3,
      send: (c) => c.send(L.v3, 'staking', 'bond', BondArgs, { amount: 1n }),
    },
    {
      name: 'a first bond below the minimum stake',
      code: STAKING_CODES.BELOW_MIN_STAKE,
      label: 'val-1b',
      setup: (c) => {
        c.ok(L.v1, 'member', 'addAccount', AddAccountArgs, { publicKey: pk('val-1b') });
      },
      send: (c) => c.send('val-1b', 'staking', 'bond', BondArgs, { amount: MIN_STAKE - 1n }),
    },
    {
      name: 'a new validator past the set limit',
      code: STAKING_CODES.TOO_MANY_VALIDATORS,
      label: 'val-1b',
      genesis: () => {
        const g = testGenesis();
        for (let i = g.validators.length; i < MAX_VALIDATORS; i++) {
          g.members.push({ id: `fv-${i}`, name: 'Filler', roles: ['validator'], accounts: [pk(`fv-${i}`)] });
          g.validators.push({ publicKey: pk(`fv-${i}`), stake: MIN_STAKE, memberId: `fv-${i}` });
        }
        return g;
      },
      setup: (c) => {
        c.ok(L.v1, 'member', 'addAccount', AddAccountArgs, { publicKey: pk('val-1b') });
        c.ok(L.v1, 'asset', 'transfer', TransferArgs, {
          asset: 'CNY',
          to: addr('val-1b'),
          amount: MIN_STAKE,
          memo: '',
        });
      },
      send: (c) => c.send('val-1b', 'staking', 'bond', BondArgs, { amount: MIN_STAKE }),
    },
    {
      name: 'unbond by an account without stake',
      code: STAKING_CODES.NOT_VALIDATOR,
      label: L.bank,
      send: (c) => c.send(L.bank, 'staking', 'unbond', UnbondArgs, { amount: 1n }),
    },
    {
      name: 'unbond of zero',
      code: STAKING_CODES.ZERO_AMOUNT,
      label: L.v1,
      send: (c) => c.send(L.v1, 'staking', 'unbond', UnbondArgs, { amount: 0n }),
    },
    {
      name: 'unbond of more than bonded',
      code: STAKING_CODES.INSUFFICIENT_STAKE,
      label: L.v1,
      send: (c) => c.send(L.v1, 'staking', 'unbond', UnbondArgs, { amount: VALIDATOR_STAKE + 1n }),
    },
    {
      name: 'unbond leaving less than the minimum',
      code: STAKING_CODES.BELOW_MIN_STAKE,
      label: L.v1,
      send: (c) => c.send(L.v1, 'staking', 'unbond', UnbondArgs, { amount: VALIDATOR_STAKE - MIN_STAKE + 1n }),
    },
    {
      name: 'unbond when the queue is full',
      code: STAKING_CODES.UNBONDING_QUEUE_FULL,
      label: L.v1,
      setup: (c) => {
        const entry = { address: addr(L.outsider), amount: 0n, completeAtMs: c.timeMs + DAY_MS };
        save(
          c.state,
          stateKey('staking', 'unbonding'),
          list(UnbondingSchema, { max: 4096 }),
          Array.from({ length: MAX_UNBONDING }, () => entry),
        );
      },
      send: (c) => c.send(L.v1, 'staking', 'unbond', UnbondArgs, { amount: 1n }),
    },
    {
      name: 'the last active validator leaving',
      code: STAKING_CODES.LAST_VALIDATOR,
      label: L.v1,
      genesis: () => ({ ...testGenesis(), validators: testGenesis().validators.slice(0, 1) }),
      send: (c) => c.send(L.v1, 'staking', 'unbond', UnbondArgs, { amount: VALIDATOR_STAKE }),
    },
    {
      name: 'unjail by an account without stake',
      code: STAKING_CODES.NOT_VALIDATOR,
      label: L.bank,
      send: (c) => c.send(L.bank, 'staking', 'unjail', UnjailArgs, {}),
    },
    {
      name: 'unjail when not jailed',
      code: STAKING_CODES.NOT_JAILED,
      label: L.v1,
      send: (c) => c.send(L.v1, 'staking', 'unjail', UnjailArgs, {}),
    },
    {
      name: 'unjail before the jail time ends',
      code: STAKING_CODES.STILL_JAILED,
      label: L.v1,
      setup: (c) => {
        c.beginBlock([{ validator: addr(L.v1), height: 1n, timeMs: c.timeMs }]);
        c.timeMs += DAY_MS - 1n;
      },
      send: (c) => c.send(L.v1, 'staking', 'unjail', UnjailArgs, {}),
    },
    {
      name: 'unjail with stake slashed below the minimum',
      code: STAKING_CODES.BELOW_MIN_STAKE,
      label: L.v1,
      genesis: () => ({ ...testGenesis(), staking: { ...testGenesis().staking, slashBps: 9_500 } }),
      setup: (c) => {
        c.beginBlock([{ validator: addr(L.v1), height: 1n, timeMs: c.timeMs }]);
        c.timeMs += DAY_MS;
      },
      send: (c) => c.send(L.v1, 'staking', 'unjail', UnjailArgs, {}),
    },
  ];
  for (const t of cases) {
    it(`rejects ${t.name} with ${t.code}, changing nothing but the nonce`, () => {
      const c = new TestChain(t.genesis ? { genesis: t.genesis() } : {});
      t.setup?.(c);
      expectRejected(c, t.label, t.code, () => t.send(c));
    });
  }

  it('every staking error code is covered by the rejection table', () => {
    const covered = new Set(cases.map((t) => t.code));
    for (const code of Object.values(STAKING_CODES)) expect(covered.has(code), code).toBe(true);
  });
});

describe('staking genesis', () => {
  const bad: [string, (g: Genesis) => void, RegExp][] = [
    [
      'a validator key that is not an account of its member',
      (g) => {
        g.validators[0]!.memberId = 'val-b';
      },
      /must be an account of validator-operator member/,
    ],
    [
      'a validator whose member lacks the validator role',
      (g) => {
        g.members.push({ id: 'rogue', name: 'Rogue', roles: ['dealer'], accounts: [pk('rogue')] });
        g.validators.push({ publicKey: pk('rogue'), stake: MIN_STAKE, memberId: 'rogue' });
      },
      /validator-operator/,
    ],
    [
      'a stake below the minimum',
      (g) => {
        g.validators[0]!.stake = MIN_STAKE - 1n;
      },
      /below minimum/,
    ],
    [
      'a validator listed twice',
      (g) => {
        g.validators.push({ ...g.validators[0]! });
      },
      /listed twice/,
    ],
    [
      'an undefined bond asset',
      (g) => {
        g.staking.bondAsset = 'EUR';
      },
      /bond asset EUR/,
    ],
    [
      'slashBps above 100%',
      (g) => {
        g.staking.slashBps = 10_001;
      },
      /slashBps/,
    ],
  ];
  for (const [name, mutate, why] of bad) {
    it(`refuses ${name}`, () => {
      const g = testGenesis();
      mutate(g);
      expect(() => new TestChain({ genesis: g })).toThrow(why);
    });
  }
});
