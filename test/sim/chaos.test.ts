// Simulation: 4, 7 and 10 validators with unequal stakes under delay, loss, duplication, reordering, partitions and
// crash-restarts; safety, identical state roots and liveness after healing are checked on every run.
import { describe, test, expect } from 'vitest';
import { toHex } from '../../src/core/bytes.js';
import { blockHash } from '../../src/core/types.js';
import { SCENARIOS, seedsOf, selected, runScenario, failureText, heightsOf } from './scenarios.js';

for (const name of ['chaos-4', 'chaos-7', 'chaos-10']) {
  const s = SCENARIOS[name]!;
  describe.runIf(selected(s))(name, () => {
    for (const seed of seedsOf(s)) {
      test(`seed ${seed}: safe, same state roots, live after healing`, () => {
        const run = runScenario(s, seed);
        const r = run.report;
        expect(r.violations, failureText(run, 'checker found violations')).toEqual([]);
        expect(r.minHonestHeight >= BigInt(heightsOf(s)), failureText(run, 'target height not reached')).toBe(true);
        // Independently of the online checker: every honest node's stored chain agrees block by block, and nodes at
        // the same height hold the same application state root.
        const honest = run.cluster.honestNodes();
        const ref = honest[0]!;
        for (const n of honest) {
          const common = Math.min(n.disk.blocks.length, ref.disk.blocks.length);
          for (let i = 0; i < common; i++) {
            expect(
              toHex(blockHash(n.disk.blocks[i]!.block.header)),
              failureText(run, `node ${n.id} block ${i + 1}`),
            ).toBe(toHex(blockHash(ref.disk.blocks[i]!.block.header)));
          }
          const twin = honest.find((m) => m.app.height === n.app.height);
          expect(toHex(n.app.root), failureText(run, `node ${n.id} app root`)).toBe(toHex(twin!.app.root));
          expect(toHex(n.app.root), failureText(run, `node ${n.id} app root vs header`)).toBe(
            toHex(n.disk.blocks[n.disk.blocks.length - 1]!.block.header.stateRoot),
          );
        }
        // The run really exercised faults (a chaos run without faults would prove nothing).
        expect(r.crashes + r.partitions, failureText(run, 'no faults injected')).toBeGreaterThan(0);
      });
    }
  });
}
