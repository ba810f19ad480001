// Control case: with >= 1/3 of the stake byzantine (two-faced across a partition) the safety checker must report
// the fork — proof that the checker can fail at all.
import { describe, test, expect } from 'vitest';
import { SCENARIOS, seedsOf, selected, runScenario, failureText } from './scenarios.js';

const s = SCENARIOS['control-fork']!;
describe.runIf(selected(s))('control-fork', () => {
  for (const seed of seedsOf(s)) {
    test(`seed ${seed}: the checker detects the fork`, () => {
      const run = runScenario(s, seed);
      const safety = run.report.violations.filter((v) => v.code === 'SAFETY');
      expect(safety.length, failureText(run, 'expected a SAFETY violation from the fork')).toBeGreaterThan(0);
    });
  }
});
