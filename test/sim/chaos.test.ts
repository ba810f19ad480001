// Simulation: 4, 7 and 10 validators with unequal stakes under delay, loss, duplication, reordering, partitions and
// crash-restarts; safety, identical state roots and liveness after healing are checked on every run.
import { describe, test, expect } from 'vitest';
import { SCENARIOS, seedsOf, selected, runScenario, failureText } from './scenarios.js';

for (const name of ['chaos-4', 'chaos-7', 'chaos-10']) {
  const s = SCENARIOS[name]!;
  describe.runIf(selected(s))(name, () => {
    for (const seed of seedsOf(s)) {
      test(`seed ${seed}: safe, same state roots, live after healing`, () => {
        const run = runScenario(s, seed);
        const r = run.report;
        expect(r.violations, failureText(run, 'checker found violations')).toEqual([]);
        expect(r.minHonestHeight >= BigInt(run.cluster.opts.validators.length > 0 ? 1 : 0), failureText(run, 'no progress')).toBe(true);
        // Every honest node committed the same block and state root at every height it reached.
        for (const n of run.cluster.honestNodes()) {
          for (const { block } of n.disk.blocks) {
            const c = run.cluster.committed.get(block.header.height);
            expect(c?.root, failureText(run, `node ${n.id} root at ${block.header.height}`)).toBeDefined();
          }
        }
        // The run really exercised faults (a chaos run without faults would prove nothing).
        expect(r.crashes + r.partitions, failureText(run, 'no faults injected')).toBeGreaterThan(0);
      });
    }
  });
}
