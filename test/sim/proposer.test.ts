// Proposer frequency follows stake. In a fault-free run every height commits in round 0, so the proposers are
// exactly the weighted round-robin's picks; the stated tolerance: each validator's count is within
// 1% of the heights (at least 2 proposals) of heights * power / totalPower.
import { describe, test, expect } from 'vitest';
import { SCENARIOS, seedsOf, selected, runScenario, failureText, heightsOf, addressHexOf } from './scenarios.js';

for (const name of ['fair-4', 'fair-7', 'fair-10']) {
  const s = SCENARIOS[name]!;
  describe.runIf(selected(s))(name, () => {
    for (const seed of seedsOf(s)) {
      test(`seed ${seed}: proposer frequency matches stake`, () => {
        const run = runScenario(s, seed);
        const { cluster, report } = run;
        expect(report.violations, failureText(run, 'checker found violations')).toEqual([]);
        expect(report.roundsAboveZero, failureText(run, 'a fault-free run needed a second round')).toBe(0);
        const heights = BigInt(cluster.committed.size);
        expect(heights >= BigInt(heightsOf(s)), failureText(run, 'too few heights')).toBe(true);
        const total = cluster.opts.validators.reduce((a, v) => a + v.power, 0n);
        const tolerance = heights / 100n > 2n ? heights / 100n : 2n;
        cluster.opts.validators.forEach((v, i) => {
          const count = BigInt(report.proposerCounts.get(addressHexOf(cluster.keys[i]!.publicKey)) ?? 0);
          // |count - heights * power / total| <= tolerance, in integers: |count * total - heights * power| <= tolerance * total
          const diff = count * total - heights * v.power;
          const abs = diff < 0n ? -diff : diff;
          expect(
            abs <= tolerance * total,
            failureText(run, `validator ${i} (power ${v.power}) proposed ${count} of ${heights}`),
          ).toBe(true);
        });
      });
    }
  });
}
