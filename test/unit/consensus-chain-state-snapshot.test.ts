// ChainState snapshots: a restored state equals the replayed one at every height (sets, priorities, proposers,
// evidence window), the encoding round-trips canonically, and bad snapshots are refused.
import { describe, test, expect } from 'vitest';
import fc from 'fast-check';
import { addressOf, type KeyPair } from '../../src/core/keys.js';
import { blockHash, type Block, type Commit, type DuplicateVoteEvidence } from '../../src/core/types.js';
import { CodecError } from '../../src/core/errors.js';
import {
  ChainState,
  decodeChainStateSnapshot,
  encodeChainStateSnapshot,
  type ChainStateSnapshot,
} from '../../src/consensus/chain-state.js';
import type { ValidatorUpdate } from '../../src/consensus/validator-set.js';
import type { EvidenceParams } from '../../src/consensus/params.js';
import { keysFor, genesisOf, blockFor, unitParams } from './consensus-fixture.js';

/** Deterministic PRNG (mulberry32): the test's choices come from a seed, never Math.random. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A commit shaped like a real one: one 64-byte signature per validator of the height. */
function commitOf(chain: ChainState, block: Block): Commit {
  return {
    height: block.header.height,
    round: 0,
    blockHash: blockHash(block.header),
    signatures: chain.validators.validators.map((v, i) => ({
      validator: v.address,
      signature: new Uint8Array(64).fill(i + 1),
    })),
  };
}

/** Evidence as advance reads it (only voteA's validator and height are recorded). */
function fakeEvidence(validator: Uint8Array, height: bigint): DuplicateVoteEvidence {
  const body = { chainId: 'unit-chain', type: 2, height, round: 0, blockHash: new Uint8Array(32), validator };
  return {
    voteA: { body, signature: new Uint8Array(64) },
    voteB: { body: { ...body, blockHash: new Uint8Array(32).fill(1) }, signature: new Uint8Array(64) },
  };
}

interface Step {
  block: Block;
  commit: Commit;
  updates: ValidatorUpdate[];
}

/** Random updates over a pool of keys: power changes, joins, leaves (never emptying the set). */
function randomUpdates(rand: () => number, chain: ChainState, pool: KeyPair[]): ValidatorUpdate[] {
  if (rand() < 0.6) return [];
  const out: ValidatorUpdate[] = [];
  const used = new Set<number>();
  let members = chain.nextValidators.size;
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    const i = Math.floor(rand() * pool.length);
    if (used.has(i)) continue;
    used.add(i);
    const k = pool[i]!;
    const isMember = chain.nextValidators.has(addressOf(k.publicKey));
    if (isMember && members > 1 && rand() < 0.3) {
      out.push({ publicKey: k.publicKey, power: 0n });
      members--;
    } else {
      if (!isMember) members++;
      out.push({ publicKey: k.publicKey, power: BigInt(1 + Math.floor(rand() * 100)) });
    }
  }
  return out;
}

/** Advances `heights` random heights; calls `check(chain)` after each. */
function runChain(
  seed: number,
  heights: number,
  p: EvidenceParams,
  check: (chain: ChainState, steps: Step[]) => void,
): ChainState {
  const rand = prng(seed);
  const pool = keysFor(14, 'snap');
  const chain = ChainState.genesis(genesisOf(pool.slice(0, 4), [10n, 20n, 30n, 40n]));
  const steps: Step[] = [];
  for (let i = 0; i < heights; i++) {
    const block = blockFor(chain, pool[0]!, { timeMs: chain.lastBlockTimeMs + BigInt(1 + Math.floor(rand() * 3000)) });
    if (chain.height > 2n && rand() < 0.2) {
      const at = chain.height - 1n - BigInt(Math.floor(rand() * 3));
      const v = chain.setAt(at)?.validators[0];
      if (v !== undefined && !chain.isEvidenceCommitted(`${Buffer.from(v.address).toString('hex')}:${at}`))
        block.evidence = [fakeEvidence(v.address, at)];
    }
    const commit = commitOf(chain, block);
    const updates = randomUpdates(rand, chain, pool);
    chain.advance(block, commit, updates, p);
    steps.push({ block, commit, updates });
    check(chain, steps);
  }
  return chain;
}

function proposers(chain: ChainState, rounds: number): string[] {
  const out: string[] = [];
  for (let r = 0; r < rounds; r++) out.push(Buffer.from(chain.validators.proposerForRound(r).address).toString('hex'));
  return out;
}

/** Restored state: equal snapshot bytes, equal proposers for many rounds, equal history lookups. */
function expectSame(restored: ChainState, replayed: ChainState, label: string): void {
  expect(encodeChainStateSnapshot(restored.snapshot()), label).toEqual(encodeChainStateSnapshot(replayed.snapshot()));
  expect(proposers(restored, 40), label).toEqual(proposers(replayed, 40));
  expect(restored.nextValidators.proposer().address, label).toEqual(replayed.nextValidators.proposer().address);
  expect(restored.lastValidators?.hash(), label).toEqual(replayed.lastValidators?.hash());
  for (let h = 1n; h < replayed.height; h++) {
    expect(restored.timeAt(h), `${label} time ${h}`).toBe(replayed.timeAt(h));
    expect(restored.setAt(h)?.hash(), `${label} set ${h}`).toEqual(replayed.setAt(h)?.hash());
  }
}

describe('ChainState snapshot', () => {
  test('restored at every height of a random chain with validator updates, it equals the replayed state and keeps equal after more blocks', () => {
    const p = { ...unitParams().evidence, maxAgeHeights: 12n, maxAgeMs: 20_000n };
    let restoredFrom = 0;
    let sawEvidence = false;
    let sawSetChange = false;
    runChain(7, 150, p, (chain) => {
      const s = chain.snapshot();
      sawEvidence ||= s.committedEvidence.length > 0;
      sawSetChange ||= s.segments.length > 1;
      const restored = ChainState.fromSnapshot(decodeChainStateSnapshot(encodeChainStateSnapshot(chain.snapshot())));
      expectSame(restored, chain, `height ${chain.height}`);
      restoredFrom++;
    });
    expect(restoredFrom).toBe(150);
    expect(sawEvidence && sawSetChange, 'the random chain exercises evidence and set changes').toBe(true);
    // A restored state continues exactly like the original: replay a tail from a mid-chain snapshot.
    const snaps = new Map<number, ChainStateSnapshot>();
    const full = runChain(11, 120, p, (chain, steps) => {
      if (steps.length % 10 === 0) snaps.set(steps.length, chain.snapshot());
    });
    const steps: Step[] = [];
    runChain(11, 120, p, (_c, s) => {
      steps.length = 0;
      steps.push(...s);
    });
    for (const [at, snap] of snaps) {
      const restored = ChainState.fromSnapshot(decodeChainStateSnapshot(encodeChainStateSnapshot(snap)));
      for (const s of steps.slice(at)) restored.advance(s.block, s.commit, s.updates, p);
      expectSame(restored, full, `tail replayed from ${at}`);
    }
  });

  test('property: snapshot -> encode -> decode -> restore is the identity for random chains', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 40 }), (seed, heights) => {
        const p = { ...unitParams().evidence, maxAgeHeights: 5n, maxAgeMs: 4000n };
        const chain = runChain(seed, heights, p, () => {});
        const bytes = encodeChainStateSnapshot(chain.snapshot());
        const restored = ChainState.fromSnapshot(decodeChainStateSnapshot(bytes));
        expect(encodeChainStateSnapshot(restored.snapshot())).toEqual(bytes);
        expect(proposers(restored, 20)).toEqual(proposers(chain, 20));
      }),
      { numRuns: 40, seed: 42 },
    );
  });

  test('the genesis state round-trips (no last set, no commit, empty window)', () => {
    const keys = keysFor(3, 'snap-g');
    const chain = ChainState.genesis(genesisOf(keys, [1n, 2n, 3n]));
    const restored = ChainState.fromSnapshot(decodeChainStateSnapshot(encodeChainStateSnapshot(chain.snapshot())));
    expect(restored.height).toBe(1n);
    expect(restored.lastValidators).toBeNull();
    expect(restored.lastCommit).toBeNull();
    expect(proposers(restored, 10)).toEqual(proposers(chain, 10));
  });

  test('a snapshot with 10 validators stays small (a few KB) while the evidence window is short', () => {
    const keys = keysFor(10, 'snap-size');
    const chain = ChainState.genesis(
      genesisOf(
        keys,
        keys.map((_, i) => BigInt(10 + i)),
      ),
    );
    const p = { ...unitParams().evidence, maxAgeHeights: 100n, maxAgeMs: 100_000n };
    for (let i = 0; i < 300; i++) {
      const b = blockFor(chain, keys[0]!);
      chain.advance(b, commitOf(chain, b), [], p);
    }
    const size = encodeChainStateSnapshot(chain.snapshot()).length;
    // 3 sets x 10 x ~50 B, one segment, a 10-signature commit, 101 times x 8 B.
    expect(size).toBeGreaterThan(8 * 100);
    expect(size).toBeLessThan(6000);
  });

  test('bad snapshots are refused: wrong arity, trailing bytes, broken invariants, bad proposer index', () => {
    const p = { ...unitParams().evidence, maxAgeHeights: 5n, maxAgeMs: 4000n };
    const chain = runChain(3, 12, p, () => {});
    const good = chain.snapshot();
    const bytes = encodeChainStateSnapshot(good);
    expect(() => decodeChainStateSnapshot(Uint8Array.of(...bytes, 0))).toThrow(CodecError);
    expect(() => decodeChainStateSnapshot(bytes.subarray(0, bytes.length - 3))).toThrow(CodecError);
    const cases: [string, ChainStateSnapshot, RegExp][] = [
      ['times do not reach the height', { ...good, times: good.times.slice(1) }, /block times/],
      ['height 0', { ...good, height: 0n }, /height/],
      ['lastCommit of another height', { ...good, lastCommit: { ...good.lastCommit!, height: 3n } }, /lastCommit/],
      ['no last set above height 1', { ...good, lastValidators: null }, /lastValidators/],
      [
        'segments in the future',
        { ...good, segments: [{ ...good.segments[0]!, fromHeight: good.height }] },
        /segments/,
      ],
      [
        'proposer index out of range',
        { ...good, validators: { ...good.validators, proposerIndex: 200 } },
        /proposer index/,
      ],
      [
        'validators out of canonical order',
        { ...good, validators: { ...good.validators, validators: [...good.validators.validators].reverse() } },
        /canonical order/,
      ],
    ];
    for (const [label, s, why] of cases) expect(() => ChainState.fromSnapshot(s), label).toThrow(why);
    // The original is untouched by the failed restores.
    expect(encodeChainStateSnapshot(chain.snapshot())).toEqual(bytes);
  });
});
