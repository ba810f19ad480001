// Validator sets: CometBFT's proposer-priority algorithm against hand-computed sequences, updates, hash, quorum.
import { describe, test, expect } from 'vitest';
import { compareBytes } from '../../src/core/bytes.js';
import { addressOf, type KeyPair } from '../../src/core/keys.js';
import { ValidatorSet, MAX_TOTAL_VOTING_POWER } from '../../src/consensus/validator-set.js';
import { ConsensusError } from '../../src/consensus/errors.js';
import { keysFor } from './consensus-fixture.js';

/** Keys sorted by address, so names A < B < C follow the tie-break order. */
function sortedKeys(n: number): KeyPair[] {
  return keysFor(n, 'vs').sort((a, b) => compareBytes(addressOf(a.publicKey), addressOf(b.publicKey)));
}

function names(keys: KeyPair[]): (set: ValidatorSet) => string {
  return (set) => 'ABCDEFG'[keys.findIndex((k) => compareBytes(addressOf(k.publicKey), set.proposer().address) === 0)]!;
}

function prioritiesByName(keys: KeyPair[], set: ValidatorSet): bigint[] {
  return keys.map((k) => set.priorities[set.indexOf(addressOf(k.publicKey))]!);
}

describe('proposer priority (CometBFT algorithm)', () => {
  test('powers A=1, B=2, C=3: hand-computed sequence C B A C B C, priorities back to 0 after a full cycle', () => {
    // Hand computation (total 6; start 0,0,0; each step: +power, pick max (tie -> lower address), -6):
    //  1: 1,2,3 -> C -> 1,2,-3     2: 2,4,0 -> B -> 2,-2,0     3: 3,0,3 -> A (tie, A < C) -> -3,0,3
    //  4: -2,2,6 -> C -> -2,2,0    5: -1,4,3 -> B -> -1,-2,3   6: 0,0,6 -> C -> 0,0,0
    const k = sortedKeys(3);
    const name = names(k);
    let set = ValidatorSet.fromGenesis([
      { publicKey: k[0]!.publicKey, power: 1n },
      { publicKey: k[1]!.publicKey, power: 2n },
      { publicKey: k[2]!.publicKey, power: 3n },
    ]);
    const seq = [name(set)];
    const prios = [prioritiesByName(k, set)];
    for (let i = 0; i < 5; i++) {
      set = set.incrementProposerPriority(1);
      seq.push(name(set));
      prios.push(prioritiesByName(k, set));
    }
    expect(seq.join(' ')).toBe('C B A C B C');
    expect(prios).toEqual([
      [1n, 2n, -3n],
      [2n, -2n, 0n],
      [-3n, 0n, 3n],
      [-2n, 2n, 0n],
      [-1n, -2n, 3n],
      [0n, 0n, 0n],
    ]);
  });

  test('the CometBFT spec example p1=1, p2=3: p2 p1 p2 p2 repeating', () => {
    const k = sortedKeys(2);
    const name = names(k);
    let set = ValidatorSet.fromGenesis([
      { publicKey: k[0]!.publicKey, power: 1n },
      { publicKey: k[1]!.publicKey, power: 3n },
    ]);
    const seq = [name(set)];
    for (let i = 0; i < 7; i++) {
      set = set.incrementProposerPriority(1);
      seq.push(name(set));
    }
    expect(seq.join('')).toBe('BABBBABB');
  });

  test('rescale: a spread above 2 * total is divided by ceil(spread / (2 * total)), truncating', () => {
    const k = sortedKeys(2);
    // total 2, window 4; priorities 10, -10: spread 20 -> ratio 5 -> 2, -2; average 0; +1 each -> 3, -1; A -> 1, -1.
    const set = ValidatorSet.withPriorities([
      { publicKey: k[0]!.publicKey, power: 1n, priority: 10n },
      { publicKey: k[1]!.publicKey, power: 1n, priority: -10n },
    ]).incrementProposerPriority(1);
    expect(prioritiesByName(k, set)).toEqual([1n, -1n]);
    expect(names(k)(set)).toBe('A');
  });

  test('centring subtracts the floor of the average (Go big.Int division), not the truncated one', () => {
    const k = sortedKeys(2);
    // -3, 0: average floor(-1.5) = -2 -> -1, 2; +1 -> 0, 3; B -> 0, 1. (Truncation would give -1, 0.)
    const set = ValidatorSet.withPriorities([
      { publicKey: k[0]!.publicKey, power: 1n, priority: -3n },
      { publicKey: k[1]!.publicKey, power: 1n, priority: 0n },
    ]).incrementProposerPriority(1);
    expect(prioritiesByName(k, set)).toEqual([0n, 1n]);
    expect(names(k)(set)).toBe('B');
  });

  test('proposerForRound(r) is the height set incremented r times; round 0 is the set proposer', () => {
    const k = sortedKeys(3);
    const set = ValidatorSet.fromGenesis(k.map((x, i) => ({ publicKey: x.publicKey, power: BigInt(i + 1) })));
    expect(set.proposerForRound(0)).toBe(set.proposer());
    for (const r of [1, 2, 7])
      expect(set.proposerForRound(r).address).toEqual(set.incrementProposerPriority(r).proposer().address);
  });

  test('frequency is proportional to power over a full cycle', () => {
    const k = sortedKeys(4);
    const powers = [1n, 2n, 3n, 4n];
    let set = ValidatorSet.fromGenesis(k.map((x, i) => ({ publicKey: x.publicKey, power: powers[i]! })));
    const counts = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const n = names(k)(set);
      counts.set(n, (counts.get(n) ?? 0) + 1);
      set = set.incrementProposerPriority(1);
    }
    expect(Object.fromEntries(counts)).toEqual({ A: 10, B: 20, C: 30, D: 40 });
  });
});

describe('updates (UpdateWithChangeSet)', () => {
  test('a new validator starts at -(P + P/8) with P the total after updates, then the set is re-centred', () => {
    const k = sortedKeys(3);
    const base = ValidatorSet.withPriorities([
      { publicKey: k[0]!.publicKey, power: 4n, priority: 0n },
      { publicKey: k[1]!.publicKey, power: 4n, priority: 0n },
    ]);
    // P = 8 + 8 = 16 -> new priority -(16 + 2) = -18; priorities 0, 0, -18: spread 18 <= 32; average floor(-18/3) = -6
    // -> 6, 6, -12.
    const next = base.applyUpdates([{ publicKey: k[2]!.publicKey, power: 8n }]);
    expect(prioritiesByName(k, next)).toEqual([6n, 6n, -12n]);
    expect(next.totalPower).toBe(16n);
  });

  test('power 0 removes; changed power keeps the priority; the canonical order is power desc, address asc', () => {
    const k = sortedKeys(3);
    const set = ValidatorSet.fromGenesis(k.map((x) => ({ publicKey: x.publicKey, power: 5n })));
    const next = set.applyUpdates([
      { publicKey: k[0]!.publicKey, power: 0n },
      { publicKey: k[2]!.publicKey, power: 9n },
    ]);
    expect(next.size).toBe(2);
    expect(next.has(addressOf(k[0]!.publicKey))).toBe(false);
    expect(next.validators[0]!.power).toBe(9n);
  });

  test('refuses: duplicate update, removing an unknown validator, emptying the set, bad key, overflow', () => {
    const k = sortedKeys(3);
    const set = ValidatorSet.fromGenesis([{ publicKey: k[0]!.publicKey, power: 5n }]);
    const cases: [string, () => unknown][] = [
      [
        'duplicate',
        () =>
          set.applyUpdates([
            { publicKey: k[1]!.publicKey, power: 1n },
            { publicKey: k[1]!.publicKey, power: 2n },
          ]),
      ],
      ['unknown removal', () => set.applyUpdates([{ publicKey: k[2]!.publicKey, power: 0n }])],
      ['empty', () => set.applyUpdates([{ publicKey: k[0]!.publicKey, power: 0n }])],
      ['bad key', () => set.applyUpdates([{ publicKey: new Uint8Array(31), power: 1n }])],
      ['overflow', () => set.applyUpdates([{ publicKey: k[1]!.publicKey, power: MAX_TOTAL_VOTING_POWER }])],
      ['negative', () => set.applyUpdates([{ publicKey: k[1]!.publicKey, power: -1n }])],
    ];
    for (const [what, f] of cases) {
      expect(f, what).toThrow(ConsensusError);
    }
    expect(set.size).toBe(1);
  });
});

describe('hash and quorum', () => {
  test('validatorsHash depends on members and powers, not on priorities or input order', () => {
    const k = sortedKeys(3);
    const a = ValidatorSet.fromGenesis(k.map((x, i) => ({ publicKey: x.publicKey, power: BigInt(i + 1) })));
    const b = ValidatorSet.fromGenesis(k.map((x, i) => ({ publicKey: x.publicKey, power: BigInt(i + 1) })).reverse());
    expect(a.hash()).toEqual(b.hash());
    expect(a.incrementProposerPriority(3).hash()).toEqual(a.hash());
    const c = a.applyUpdates([{ publicKey: k[0]!.publicKey, power: 7n }]);
    expect(c.hash()).not.toEqual(a.hash());
  });

  test('quorum is strictly more than 2/3 and f + 1 strictly more than 1/3, in bigint', () => {
    const k = sortedKeys(3);
    const set = ValidatorSet.fromGenesis(k.map((x) => ({ publicKey: x.publicKey, power: 1n })));
    expect(set.isQuorum(2n)).toBe(false); // exactly 2/3
    expect(set.isQuorum(3n)).toBe(true);
    expect(set.exceedsOneThird(1n)).toBe(false); // exactly 1/3
    expect(set.exceedsOneThird(2n)).toBe(true);
  });
});

describe('proposer frequency (property)', () => {
  test('from genesis, the first P heights give each validator exactly `power` turns (P = total power)', async () => {
    const fc = await import('fast-check');
    const k = sortedKeys(7);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 7 }), (powers) => {
        let set = ValidatorSet.fromGenesis(powers.map((p, i) => ({ publicKey: k[i]!.publicKey, power: BigInt(p) })));
        const total = powers.reduce((a, b) => a + b, 0);
        const counts = new Map<string, number>();
        for (let i = 0; i < total; i++) {
          const a = names(k)(set);
          counts.set(a, (counts.get(a) ?? 0) + 1);
          set = set.incrementProposerPriority(1);
        }
        powers.forEach((p, i) => expect(counts.get('ABCDEFG'[i]!) ?? 0, `powers ${powers.join(',')}`).toBe(p));
        // The window stays bounded: max - min <= 2 * P after every step.
        const max = set.priorities.reduce((a, b) => (a > b ? a : b));
        const min = set.priorities.reduce((a, b) => (a < b ? a : b));
        expect(max - min <= 2n * set.totalPower).toBe(true);
      }),
      { numRuns: 200, seed: 20261129 },
    );
  });
});
