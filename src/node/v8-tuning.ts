// The V8 settings the node runs with, in one place: the node applies them when it starts (Node.start), and the
// benchmarks that measure the node's parts in-process (benchmarks/vm.ts, state.ts, consensus.ts) apply the same, so
// they measure what the node runs (benchmarks/node.ts starts the node itself).
//
// Allocation-site pretenuring is off by default. V8 pretenures an allocation site (allocates its objects straight in
// the old generation) when nearly all of its objects are found alive at a young-generation collection. A block's txs,
// receipts and events are all alive until the block commits, so a collection in the middle of a block finds them alive
// and V8 starts allocating them as if they lived for ever: in benchmarks/vm.ts ~1.2 KB per repayment went to the old
// generation instead of ~0.4 KB (the state values that do live on), the old generation grew ~2x as fast and full
// collections (marking ~160 MB) came twice as often. With pretenuring off, repayments ran ~12% faster (median of ten
// concurrent pinned pairs, docs/vm-loan.md#performance); the flag can be switched back with config key
// `v8.allocationSitePretenuring`.
import { setFlagsFromString } from 'node:v8';

export interface V8Tuning {
  /** V8's allocation-site pretenuring (V8's own default is on; the node's is off). */
  allocationSitePretenuring: boolean;
}

export const DEFAULT_V8_TUNING: V8Tuning = { allocationSitePretenuring: false };

/** The V8 flags that give `tuning`. */
export function v8FlagsOf(tuning: V8Tuning): string[] {
  return [tuning.allocationSitePretenuring ? '--allocation-site-pretenuring' : '--no-allocation-site-pretenuring'];
}

/**
 * Applies `tuning` to this process's V8 (flags are process-wide and take effect from the next collection on) and
 * returns the flags set, for the start-up log. Safe to call again: the last call wins.
 */
export function applyV8Tuning(tuning: V8Tuning = DEFAULT_V8_TUNING): string[] {
  const flags = v8FlagsOf(tuning);
  for (const f of flags) setFlagsFromString(f);
  return flags;
}
