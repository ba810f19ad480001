// Shared fixture for the consensus unit tests: a small validator set, signed messages and an engine under test.
import * as keysModule from '../../src/core/keys.js';
import { keyPairFromLabel, type KeyPair } from '../../src/core/keys.js';
import { EMPTY_HASH } from '../../src/core/hash.js';
import {
  signVote,
  signProposal,
  blockHash,
  VOTE_PREVOTE,
  type Block,
  type Proposal,
  type Vote,
} from '../../src/core/types.js';
import { ChainState } from '../../src/consensus/chain-state.js';
import { ConsensusEngine, type EngineEffect, type EngineInput } from '../../src/consensus/engine.js';
import { assembleBlock } from '../../src/consensus/app.js';
import { MAX_EVIDENCE_PER_BLOCK } from '../../src/core/constants.js';
import type { ConsensusParams } from '../../src/consensus/params.js';
import type { SignState } from '../../src/consensus/signer-guard.js';

export const CHAIN = 'unit-chain';
export const T0 = 1_800_000_000_000n;

export function unitParams(): ConsensusParams {
  return {
    chainId: CHAIN,
    timeouts: {
      proposeMs: 1000,
      proposeDeltaMs: 200,
      prevoteMs: 500,
      prevoteDeltaMs: 100,
      precommitMs: 500,
      precommitDeltaMs: 100,
      commitMs: 50,
    },
    blockTime: { precisionMs: 100n, messageDelayMs: 500n },
    evidence: { maxAgeHeights: 10n, maxAgeMs: 60_000n, maxPerBlock: MAX_EVIDENCE_PER_BLOCK, maxPoolSize: 8 },
  };
}

export function keysFor(n: number, prefix = 'unit-val'): KeyPair[] {
  return Array.from({ length: n }, (_, i) => keyPairFromLabel(`${prefix}-${i}`));
}

export function genesisOf(keys: KeyPair[], powers: bigint[]) {
  return {
    chainId: CHAIN,
    genesisTimeMs: T0,
    validators: keys.map((k, i) => ({ publicKey: k.publicKey, power: powers[i]! })),
  };
}

/** A block for the chain's current height, as a proposer would build it (no txs, a fixed state root). */
export function blockFor(chain: ChainState, proposer: KeyPair, opts: { timeMs?: bigint; tag?: number } = {}): Block {
  return assembleBlock(
    {
      chainId: chain.chainId,
      height: chain.height,
      round: 0,
      timeMs: opts.timeMs ?? chain.lastBlockTimeMs + 1000n,
      proposer: keysModule.addressOf(proposer.publicKey),
      prevHash: chain.lastBlockHash,
      lastCommit: chain.lastCommit,
      evidence: [],
      validatorsHash: chain.validators.hash(),
      nextValidatorsHash: chain.nextValidators.hash(),
    },
    {
      txs: opts.tag === undefined ? [] : [Uint8Array.of(opts.tag)],
      stateRoot: EMPTY_HASH,
      resultsRoot: EMPTY_HASH,
      gasUsed: 0n,
    },
  );
}

/**
 * Validators [1, 10, 10, 10] (total 31): the engine under test is validator 0 with power 1, so quorum (21) needs it
 * plus two others, and f + 1 (11) needs two validators. Its rare proposer turns keep most rounds someone else's.
 */
export class EngineFixture {
  readonly keys: KeyPair[];
  readonly powers: bigint[];
  readonly chain: ChainState;
  readonly engine: ConsensusEngine;
  readonly params = unitParams();
  now = T0 + 1000n;

  constructor(opts: { powers?: bigint[]; me?: number; signState?: SignState | null } = {}) {
    this.powers = opts.powers ?? [1n, 10n, 10n, 10n];
    this.keys = keysFor(this.powers.length);
    this.chain = ChainState.genesis(genesisOf(this.keys, this.powers));
    this.engine = new ConsensusEngine(
      { params: this.params, keyPair: this.keys[opts.me ?? 0]! },
      { chain: this.chain, signState: opts.signState ?? null },
    );
  }

  address(i: number): Uint8Array {
    return keysModule.addressOf(this.keys[i]!.publicKey);
  }

  /** Index (into keys) of the proposer of `round` at the current height. */
  proposerOf(round: number): number {
    const p = this.chain.validators.proposerForRound(round);
    return this.keys.findIndex((k) => keysModule.addressOf(k.publicKey).every((b, j) => b === p.address[j]));
  }

  block(opts: { timeMs?: bigint; tag?: number; proposer?: number } = {}): Block {
    return blockFor(this.chain, this.keys[opts.proposer ?? this.proposerOf(0)]!, {
      timeMs: opts.timeMs ?? this.now,
      tag: opts.tag,
    });
  }

  proposal(round: number, block: Block, polRound: number | null = null, signer?: number): Proposal {
    const who = signer ?? this.proposerOf(round);
    return signProposal(
      {
        chainId: CHAIN,
        height: this.chain.height,
        round,
        polRound,
        blockHash: blockHash(block.header),
        proposer: this.address(who),
      },
      this.keys[who]!,
    );
  }

  vote(i: number, type: number, round: number, block: Block | null, height: bigint = this.chain.height): Vote {
    return signVote(
      {
        chainId: CHAIN,
        type,
        height,
        round,
        blockHash: block === null ? new Uint8Array(0) : blockHash(block.header),
        validator: this.address(i),
      },
      this.keys[i]!,
    );
  }

  start(): EngineEffect[] {
    return this.engine.start(this.now);
  }

  step(input: EngineInput): EngineEffect[] {
    return this.engine.step(input, this.now);
  }

  /** Delivers a proposal and answers its validation request with `valid`. */
  propose(round: number, block: Block, opts: { polRound?: number | null; valid?: boolean } = {}): EngineEffect[] {
    const out = this.step({ type: 'proposal', proposal: this.proposal(round, block, opts.polRound ?? null), block });
    const req = out.find((e) => e.type === 'validateBlock');
    if (req === undefined || req.type !== 'validateBlock') return out;
    return [
      ...out,
      ...this.step({ type: 'blockValidated', height: req.height, blockHash: req.blockHash, valid: opts.valid ?? true }),
    ];
  }

  votes(type: number, round: number, block: Block | null, from: number[]): EngineEffect[] {
    return from.flatMap((i) => this.step({ type: 'vote', vote: this.vote(i, type, round, block) }));
  }
}

/** Our own votes among the effects. */
export function ownVotes(effects: EngineEffect[]): Vote[] {
  return effects.flatMap((e) => (e.type === 'broadcastVote' ? [e.vote] : []));
}

export function isNil(v: Vote): boolean {
  return v.body.blockHash.length === 0;
}

export function votedFor(v: Vote, b: Block): boolean {
  const h = blockHash(b.header);
  return v.body.blockHash.length === 32 && v.body.blockHash.every((x, i) => x === h[i]);
}

export { VOTE_PREVOTE };
