// A double-signing validator under 1/3 of the stake: detected, its evidence committed once per (validator, height),
// slashed once and jailed by the application, removed from the set; the honest nodes stay safe and live.
import { describe, test, expect } from 'vitest';
import { toHex } from '../../src/core/bytes.js';
import { evidenceKey } from '../../src/consensus/evidence.js';
import { SCENARIOS, seedsOf, selected, runScenario, failureText } from './scenarios.js';

const s = SCENARIOS['byzantine-7']!;
describe.runIf(selected(s))('byzantine-7', () => {
  for (const seed of seedsOf(s)) {
    test(`seed ${seed}: double-signer detected, evidence committed once, slashed and jailed`, () => {
      const run = runScenario(s, seed);
      const { cluster, report } = run;
      expect(report.violations, failureText(run, 'checker found violations')).toEqual([]);
      const byzIndex = cluster.opts.validators.findIndex((v) => v.behaviour === 'doubleSign');
      const byzAddr = cluster.nodes.find((n) => n.validatorIndex === byzIndex)!.address;
      const byzHex = toHex(byzAddr);
      const initialStake = cluster.opts.validators[byzIndex]!.power;
      for (const n of cluster.honestNodes()) {
        const seen = new Map<string, number>();
        for (const { block } of n.disk.blocks) {
          for (const ev of block.evidence) {
            expect(toHex(ev.voteA.body.validator), failureText(run, 'evidence against an honest validator')).toBe(
              byzHex,
            );
            const k = evidenceKey(ev);
            seen.set(k, (seen.get(k) ?? 0) + 1);
          }
        }
        expect(seen.size, failureText(run, `node ${n.id}: no evidence committed`)).toBeGreaterThan(0);
        for (const [k, count] of seen)
          expect(count, failureText(run, `evidence ${k} committed ${count} times`)).toBe(1);
        const stake = n.app.stakes.get(byzHex)!;
        expect(stake.jailed && stake.tombstoned, failureText(run, `node ${n.id}: not jailed`)).toBe(true);
        expect(stake.slashes, failureText(run, 'slashed more than once')).toBe(1);
        expect(stake.stake, failureText(run, 'slash amount')).toBe(initialStake - (initialStake * 500n) / 10_000n);
        expect(n.engine.chain.validators.has(byzAddr), failureText(run, 'still in the validator set')).toBe(false);
      }
    });
  }
});

const t = SCENARIOS['twofaced-7']!;
describe.runIf(selected(t))('twofaced-7', () => {
  for (const seed of seedsOf(t)) {
    test(`seed ${seed}: a two-faced validator under 1/3 cannot fork the chain or stop it`, () => {
      const run = runScenario(t, seed);
      expect(run.report.violations, failureText(run, 'checker found violations')).toEqual([]);
    });
  }
});
