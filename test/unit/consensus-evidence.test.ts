// Duplicate-vote evidence: one test per validity rule, the pool (dedup, cap, expiry), and blocks carrying evidence.
import { describe, test, expect } from 'vitest';
import { compareBytes } from '../../src/core/bytes.js';
import { addressOf, keyPairFromLabel, type KeyPair } from '../../src/core/keys.js';
import { sha256 } from '../../src/core/hash.js';
import { utf8 } from '../../src/core/bytes.js';
import {
  signVote,
  blockHash,
  VOTE_PREVOTE,
  VOTE_PRECOMMIT,
  type Block,
  type Commit,
  type DuplicateVoteEvidence,
  type VoteBody,
} from '../../src/core/types.js';
import { ChainState } from '../../src/consensus/chain-state.js';
import {
  checkEvidence,
  makeEvidence,
  evidenceKey,
  EvidencePool,
  type EvidenceContext,
} from '../../src/consensus/evidence.js';
import { assembleBlock } from '../../src/consensus/app.js';
import { ConsensusEngine } from '../../src/consensus/engine.js';
import { keysFor, genesisOf, blockFor, unitParams, CHAIN } from './consensus-fixture.js';

const params = unitParams();
const dummyCommit = (height: bigint) => ({ height, round: 0, blockHash: new Uint8Array(32), signatures: [] });
const hashA = sha256(utf8('a'));
const hashB = sha256(utf8('b'));
const [LOW, HIGH] = compareBytes(hashA, hashB) < 0 ? [hashA, hashB] : [hashB, hashA];

/** A real commit: every validator precommits the block. */
function commitFor(block: Block, keys: KeyPair[]): Commit {
  const hash = blockHash(block.header);
  const signatures = keys.map((k) => ({
    validator: addressOf(k.publicKey),
    signature: signVote(
      {
        chainId: CHAIN,
        type: VOTE_PRECOMMIT,
        height: block.header.height,
        round: 0,
        blockHash: hash,
        validator: addressOf(k.publicKey),
      },
      k,
    ).signature,
  }));
  return { height: block.header.height, round: 0, blockHash: hash, signatures };
}

function setup(heights = 3) {
  const keys = keysFor(4, 'ev');
  const chain = ChainState.genesis(genesisOf(keys, [10n, 10n, 10n, 10n]));
  for (let i = 0; i < heights; i++) {
    const b = blockFor(chain, keys[0]!, { timeMs: chain.lastBlockTimeMs + 1000n });
    chain.advance(b, commitFor(b, keys), [], params.evidence);
  }
  return { keys, chain };
}

function body(keys: KeyPair[], over: Partial<VoteBody> & { who?: number } = {}): VoteBody {
  const { who, ...rest } = over;
  return {
    chainId: CHAIN,
    type: VOTE_PREVOTE,
    height: 2n,
    round: 0,
    blockHash: LOW,
    validator: addressOf(keys[who ?? 1]!.publicKey),
    ...rest,
  };
}

function evidence(
  keys: KeyPair[],
  a: Partial<VoteBody> & { who?: number } = {},
  b: Partial<VoteBody> & { who?: number } = {},
  signer?: KeyPair,
): DuplicateVoteEvidence {
  const ka = signer ?? keys[a.who ?? 1]!;
  const kb = signer ?? keys[b.who ?? 1]!;
  return { voteA: signVote(body(keys, a), ka), voteB: signVote(body(keys, { blockHash: HIGH, ...b }), kb) };
}

function ctx(chain: ChainState, over: Partial<EvidenceContext> = {}): EvidenceContext {
  return {
    chain,
    params: params.evidence,
    maxHeight: chain.height - 1n,
    atHeight: chain.height,
    atTimeMs: chain.lastBlockTimeMs + 1000n,
    ...over,
  };
}

describe('evidence validity rules', () => {
  test('valid: two prevotes of one validator, same height and round, different blocks, canonical order', () => {
    const { keys, chain } = setup();
    const r = checkEvidence(evidence(keys), ctx(chain));
    expect(r).toMatchObject({ ok: true, key: evidenceKey(evidence(keys)) });
  });

  test('nil against a block is a conflict too', () => {
    const { keys, chain } = setup();
    const ev = evidence(keys, { blockHash: new Uint8Array(0) }, { blockHash: HIGH });
    expect(checkEvidence(ev, ctx(chain)).ok).toBe(true);
  });

  const rules: [string, (s: ReturnType<typeof setup>) => DuplicateVoteEvidence, Partial<EvidenceContext>?][] = [
    ['WRONG_CHAIN', ({ keys }) => evidence(keys, { chainId: 'other-chain' }, { chainId: 'other-chain' })],
    ['INVALID_VOTE_TYPE', ({ keys }) => evidence(keys, { type: 3 }, { type: 3 })],
    ['DIFFERENT_TYPE', ({ keys }) => evidence(keys, {}, { type: VOTE_PRECOMMIT })],
    ['DIFFERENT_HEIGHT', ({ keys }) => evidence(keys, {}, { height: 1n })],
    ['DIFFERENT_ROUND', ({ keys }) => evidence(keys, {}, { round: 1 })],
    ['DIFFERENT_VALIDATOR', ({ keys }) => evidence(keys, { who: 1 }, { who: 2 })],
    ['SAME_BLOCK', ({ keys }) => evidence(keys, {}, { blockHash: LOW })],
    ['NOT_CANONICAL_ORDER', ({ keys }) => evidence(keys, { blockHash: HIGH }, { blockHash: LOW })],
    ['FUTURE_HEIGHT', ({ keys, chain }) => evidence(keys, { height: chain.height }, { height: chain.height })],
    [
      'NOT_A_VALIDATOR',
      ({ keys }) => {
        const outsider = keyPairFromLabel('ev-outsider');
        const a = addressOf(outsider.publicKey);
        return evidence(keys, { validator: a }, { validator: a }, outsider);
      },
    ],
    [
      'BAD_SIGNATURE',
      ({ keys }) => {
        const ev = evidence(keys);
        return { voteA: ev.voteA, voteB: { ...ev.voteB, signature: signVote(ev.voteB.body, keys[2]!).signature } };
      },
    ],
  ];
  for (const [code, make, over] of rules) {
    test(`refused: ${code}`, () => {
      const s = setup();
      const r = checkEvidence(make(s), ctx(s.chain, over));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.code).toBe(code);
    });
  }

  test('refused: EXPIRED only when older than BOTH maxAgeHeights and maxAgeMs', () => {
    const { keys, chain } = setup(3);
    const ev = evidence(keys);
    const t2 = chain.timeAt(2n)!;
    const at = (h: bigint, t: bigint) => checkEvidence(ev, ctx(chain, { atHeight: h, atTimeMs: t }));
    expect(at(2n + 11n, t2 + 60_001n)).toMatchObject({ ok: false, code: 'EXPIRED' });
    expect(at(2n + 10n, t2 + 60_001n).ok).toBe(true); // height age within bound
    expect(at(2n + 11n, t2 + 60_000n).ok).toBe(true); // time age within bound
  });

  test('refused: ALREADY_COMMITTED once a block carrying it is committed', () => {
    const { keys, chain } = setup(3);
    const ev = evidence(keys);
    const b = blockFor(chain, keys[0]!, { timeMs: chain.lastBlockTimeMs + 1000n });
    const withEv = { ...b, evidence: [ev] };
    chain.advance(withEv, dummyCommit(chain.height), [], params.evidence);
    const r = checkEvidence(ev, ctx(chain));
    expect(r).toMatchObject({ ok: false, code: 'ALREADY_COMMITTED' });
    // Another pair for the same validator and height is the same offence: refused as well.
    const again = evidence(keys, { blockHash: new Uint8Array(0) }, { blockHash: HIGH });
    expect(checkEvidence(again, ctx(chain))).toMatchObject({ ok: false, code: 'ALREADY_COMMITTED' });
  });

  test("membership is judged with the set of the evidence height, not today's", () => {
    const keys = keysFor(4, 'ev');
    const chain = ChainState.genesis(genesisOf(keys, [10n, 10n, 10n, 10n]));
    chain.advance(
      blockFor(chain, keys[0]!),
      dummyCommit(1n),
      [{ publicKey: keys[1]!.publicKey, power: 0n }],
      params.evidence,
    );
    for (let i = 0; i < 3; i++)
      chain.advance(
        blockFor(chain, keys[0]!, { timeMs: chain.lastBlockTimeMs + 1000n }),
        dummyCommit(chain.height),
        [],
        params.evidence,
      );
    expect(chain.validators.has(addressOf(keys[1]!.publicKey))).toBe(false);
    expect(checkEvidence(evidence(keys), ctx(chain)).ok).toBe(true); // height 2: validator 1 still in the set
    const late = evidence(keys, { height: 3n }, { height: 3n });
    expect(checkEvidence(late, ctx(chain))).toMatchObject({ ok: false, code: 'NOT_A_VALIDATOR' });
  });

  test('makeEvidence orders the pair canonically', () => {
    const { keys } = setup();
    const ev = evidence(keys);
    expect(makeEvidence(ev.voteB, ev.voteA)).toEqual(ev);
  });
});

describe('evidence pool', () => {
  test('deduplicates by (validator, height), caps its size, selects at most max, prunes committed and expired', () => {
    const { keys, chain } = setup(4);
    const pool = new EvidencePool(2);
    const e1 = evidence(keys, { who: 1 }, { who: 1 });
    const e1b = evidence(keys, { who: 1, blockHash: new Uint8Array(0) }, { who: 1 });
    const e2 = evidence(keys, { who: 2 }, { who: 2 });
    const e3 = evidence(keys, { who: 3 }, { who: 3 });
    expect(pool.add(evidenceKey(e1), e1)).toBe('added');
    expect(pool.add(evidenceKey(e1b), e1b)).toBe('duplicate');
    expect(pool.add(evidenceKey(e2), e2)).toBe('added');
    expect(pool.add(evidenceKey(e3), e3)).toBe('full');
    expect(pool.select(1, ctx(chain))).toEqual([e1]);
    chain.advance(
      { ...blockFor(chain, keys[0]!, { timeMs: chain.lastBlockTimeMs + 1000n }), evidence: [e1] },
      dummyCommit(chain.height),
      [],
      params.evidence,
    );
    pool.prune(ctx(chain));
    expect(pool.list()).toEqual([e2]);
    pool.prune(ctx(chain, { atHeight: 100n, atTimeMs: chain.lastBlockTimeMs + 1_000_000n }));
    expect(pool.size).toBe(0);
  });
});

describe('blocks carrying evidence', () => {
  function engineAt(chain: ChainState, keys: KeyPair[]) {
    return new ConsensusEngine({ params, keyPair: keys[0]! }, { chain, signState: null });
  }
  function blockWith(chain: ChainState, keys: KeyPair[], evs: DuplicateVoteEvidence[]) {
    const b = blockFor(chain, keys[0]!, { timeMs: chain.lastBlockTimeMs + 1000n });
    return assembleBlock(
      {
        chainId: CHAIN,
        height: chain.height,
        round: 0,
        timeMs: b.header.timeMs,
        proposer: b.header.proposer,
        prevHash: chain.lastBlockHash,
        lastCommit: chain.lastCommit,
        evidence: evs,
        validatorsHash: chain.validators.hash(),
        nextValidatorsHash: chain.nextValidators.hash(),
      },
      { txs: [], stateRoot: b.header.stateRoot, resultsRoot: b.header.resultsRoot, gasUsed: 0n },
    );
  }

  test('a block with invalid evidence, twice the same offence, or more than maxPerBlock is invalid', () => {
    const keys = keysFor(4, 'ev');
    const chain = ChainState.genesis(genesisOf(keys, [10n, 10n, 10n, 10n]));
    const engine = engineAt(chain, keys);
    // Height 1 has no committed history: any evidence is from the future.
    const ev = evidence(keys, { height: 1n }, { height: 1n });
    expect(engine.checkBlock(blockWith(chain, keys, [ev]))).toMatch(/evidence/);
    expect(engine.checkBlock(blockWith(chain, keys, []))).toBeNull();
  });

  test('duplicates and the per-block cap', () => {
    const { keys, chain } = setup(3);
    const engine = engineAt(chain, keys);
    const small = new ConsensusEngine(
      { params: { ...params, evidence: { ...params.evidence, maxPerBlock: 1 } }, keyPair: keys[0]! },
      { chain, signState: null },
    );
    const e1 = evidence(keys, { who: 1 }, { who: 1 });
    const e1b = evidence(keys, { who: 1, blockHash: new Uint8Array(0) }, { who: 1 });
    const e2 = evidence(keys, { who: 2 }, { who: 2 });
    expect(engine.checkBlock(blockWith(chain, keys, [e1, e2]))).toBeNull();
    expect(engine.checkBlock(blockWith(chain, keys, [e1, e1b]))).toBe('duplicate evidence in the block');
    expect(small.checkBlock(blockWith(chain, keys, [e1, e2]))).toBe('too much evidence');
    const forged = { voteA: e2.voteA, voteB: { ...e2.voteB, signature: e1.voteB.signature } };
    expect(engine.checkBlock(blockWith(chain, keys, [forged]))).toMatch(/^evidence: a vote signature/);
  });
});
