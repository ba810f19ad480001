// The Tendermint state machine: inputs in, effects out, no I/O, no clock of its own (time arrives with each input).
//
// Rules follow "The latest gossip on BFT consensus" (Buchman, Kwon, Milosevic 2018), Algorithm 1; the comments name
// its lines. `step(input, nowMs)` handles one input, then re-evaluates every "upon" rule until none fires, and
// returns the effects for a driver to perform IN ORDER: a `persistSignState` effect is synchronous (fsync) and
// always precedes the broadcast carrying the signature it protects.
import { encode } from '../core/codec.js';
import { sign, signingBytes, addressOf, verify, type KeyPair } from '../core/keys.js';
import { equalBytes, toHex, fromHex } from '../core/bytes.js';
import {
  VoteBodySchema,
  ProposalBodySchema,
  VOTE_PREVOTE,
  VOTE_PRECOMMIT,
  blockHash,
  txRootOf,
  evidenceRootOf,
  commitHashOf,
  encodeBlock,
  decodeBlock,
  type Block,
  type Commit,
  type DuplicateVoteEvidence,
  type Proposal,
  type Vote,
  type VoteBody,
  type ProposalBody,
} from '../core/types.js';
import type { ChainState } from './chain-state.js';
import type { Misbehaviour, PrepareProposalRequest } from './app.js';
import { checkEvidence, makeEvidence, EvidencePool, type EvidenceContext } from './evidence.js';
import { checkParams, isTimely, proposalTimeMs, timeoutMs, type ConsensusParams, type TimeoutStep } from './params.js';
import {
  authorizeSign,
  voteSignRequest,
  proposalSignRequest,
  type SignState,
  type SignRequest,
} from './signer-guard.js';
import { verifyCommit, verifyCommitForHash, type VerifyFn } from './verify-commit.js';
import type { ValidatorSet, ValidatorUpdate } from './validator-set.js';

export type Step = 'newHeight' | 'propose' | 'prevote' | 'precommit' | 'commit';

export type EngineInput =
  /** A proposal with its full block (gossiped together). */
  | { type: 'proposal'; proposal: Proposal; block: Block }
  | { type: 'vote'; vote: Vote }
  | { type: 'evidence'; evidence: DuplicateVoteEvidence }
  /** A timeout the engine scheduled has fired. */
  | { type: 'timeout'; height: bigint; round: number; step: TimeoutStep }
  /** Answer to `buildBlock`: the application's block for this height and round. */
  | { type: 'blockBuilt'; height: bigint; round: number; block: Block }
  /** Answer to `validateBlock`: the application's verdict after re-executing the block. */
  | { type: 'blockValidated'; height: bigint; blockHash: Uint8Array; valid: boolean; reason?: string }
  /** Answer to `decide`: the block is executed and durably committed; its validator updates apply at height + 2. */
  | { type: 'finalized'; height: bigint; validatorUpdates: ValidatorUpdate[] }
  /** A block with its commit certificate fetched from a peer (block sync for a node that fell behind). */
  | { type: 'syncedBlock'; block: Block; commit: Commit }
  /** Periodic: if the height has not moved since the last tick, re-send what peers may have lost. */
  | { type: 'gossipTick' };

export type EngineEffect =
  /** SYNCHRONOUS: store durably before performing any later effect. */
  | { type: 'persistSignState'; state: SignState }
  | { type: 'broadcastProposal'; proposal: Proposal; block: Block }
  | { type: 'broadcastVote'; vote: Vote }
  | { type: 'broadcastEvidence'; evidence: DuplicateVoteEvidence }
  | { type: 'scheduleTimeout'; height: bigint; round: number; step: TimeoutStep; durationMs: number }
  /** Ask the application for a block (prepareProposal); answer with a `blockBuilt` input. */
  | { type: 'buildBlock'; request: PrepareProposalRequest }
  /** Ask the application to re-execute a block (processProposal); answer with a `blockValidated` input. */
  | { type: 'validateBlock'; height: bigint; round: number; blockHash: Uint8Array; block: Block }
  /** The height is decided: finalize and store the block with its commit, then answer with `finalized`. */
  | { type: 'decide'; height: bigint; round: number; block: Block; commit: Commit; misbehaviour: Misbehaviour[] }
  /** A message was refused; for logs and peer scoring. Nothing changed. */
  | { type: 'rejected'; input: EngineInput['type']; code: string; message: string }
  /** Our own signature was refused by the signer guard (e.g. after a restart); we stay silent for that step. */
  | { type: 'signRefused'; code: string; message: string };

export interface EngineOptions {
  params: ConsensusParams;
  /** The validator key; null for a node that follows consensus without voting. */
  keyPair: KeyPair | null;
}

export interface EngineDeps {
  /** Committed-chain view (height, validator sets, history). The engine advances it on `finalized`. */
  chain: ChainState;
  /** Last persisted sign state (from the SignStateStore), null on first start. */
  signState: SignState | null;
  /** Signature check; default strict ed25519. */
  verify?: VerifyFn;
}

/** Signed bytes of a vote body, computed once per body object (bodies are never mutated after signing). */
const signBytesCache = new WeakMap<VoteBody, Uint8Array>();
function voteSignBytes(body: VoteBody): Uint8Array {
  let b = signBytesCache.get(body);
  if (b === undefined) {
    b = signingBytes('vote', encode(VoteBodySchema, body));
    signBytesCache.set(body, b);
  }
  return b;
}

/** Commit objects already verified, with the hash of the set they were verified against (a block's lastCommit is
 * checked again when the same block object comes back by gossip or sync). */
const verifiedCommits = new WeakMap<Commit, Uint8Array>();

/** Messages for the next height are kept (bounded) and replayed when we get there: peers often finish first. */
const MAX_NEXT_HEIGHT_MESSAGES = 1000;

/** Votes from each validator for a proposer's future rounds are kept for at most this many rounds (as CometBFT). */
const MAX_CATCHUP_ROUNDS_PER_VALIDATOR = 2;
/** Proposals more than this many rounds ahead are dropped (they are re-sent by gossip once we get there). */
const MAX_FUTURE_PROPOSAL_ROUNDS = 10;

/** What a precommit for a block persists with it: the lock, its block and its proof of lock. */
interface LockRecord {
  round: number;
  hash: Uint8Array;
  block: Uint8Array;
  pol: Commit['signatures'];
}

interface ProposalEntry {
  proposal: Proposal;
  block: Block;
  hashHex: string;
  /** PBTS timeliness judged on arrival (only relevant without a proof-of-lock round). */
  timely: boolean;
}

type Validity = 'pending' | 'valid' | 'invalid';

class VoteTally {
  readonly votes = new Map<string, Vote>();
  readonly powerByBlock = new Map<string, bigint>();
  total = 0n;

  /** 'added', 'duplicate' (same vote again) or the earlier conflicting vote. */
  add(vote: Vote, power: bigint): 'added' | 'duplicate' | Vote {
    const key = toHex(vote.body.validator);
    const prior = this.votes.get(key);
    if (prior !== undefined) return equalBytes(prior.body.blockHash, vote.body.blockHash) ? 'duplicate' : prior;
    this.votes.set(key, vote);
    const h = toHex(vote.body.blockHash);
    this.powerByBlock.set(h, (this.powerByBlock.get(h) ?? 0n) + power);
    this.total += power;
    return 'added';
  }

  powerFor(hashHex: string): bigint {
    return this.powerByBlock.get(hashHex) ?? 0n;
  }
}

interface RoundVotes {
  prevotes: VoteTally;
  precommits: VoteTally;
  /** Distinct validators with any vote in the round (for the f+1 round skip). */
  voters: Map<string, bigint>;
  prevoteTimeoutScheduled: boolean;
  precommitTimeoutScheduled: boolean;
  /** Line 36 fires once per round. */
  polkaHandled: boolean;
}

/** A read-only view of the round state, for tests, metrics and RPC. */
export interface EngineSnapshot {
  height: bigint;
  round: number;
  step: Step;
  lockedRound: number;
  lockedBlockHash: string | null;
  validRound: number;
  validBlockHash: string | null;
  decided: boolean;
}

export class ConsensusEngine {
  readonly chain: ChainState;
  private readonly params: ConsensusParams;
  private readonly keyPair: KeyPair | null;
  readonly address: Uint8Array | null;
  private readonly verifyFn: VerifyFn;
  private signState: SignState | null;
  readonly pool: EvidencePool;

  private round = 0;
  private phase: Step = 'newHeight';
  private lockedRound = -1;
  private lockedHash: string | null = null;
  private validRound = -1;
  private validHash: string | null = null;
  private proposals = new Map<number, ProposalEntry>();
  private blocks = new Map<string, Block>();
  private validity = new Map<string, Validity>();
  private rounds = new Map<number, RoundVotes>();
  private futureRounds = new Map<string, Set<number>>();
  private awaitingBlock = false;
  private decision: { block: Block; commit: Commit } | null = null;
  private lastTickHeight = -1n;
  private nextHeight: EngineInput[] = [];
  private started = false;

  private now = 0n;
  private out: EngineEffect[] = [];

  constructor(opts: EngineOptions, deps: EngineDeps) {
    checkParams(opts.params);
    if (opts.params.chainId !== deps.chain.chainId) throw new Error('params and chain state disagree on the chain id');
    this.params = opts.params;
    this.keyPair = opts.keyPair;
    this.address = opts.keyPair === null ? null : addressOf(opts.keyPair.publicKey);
    this.chain = deps.chain;
    this.signState = deps.signState;
    this.verifyFn = deps.verify ?? verify;
    this.pool = new EvidencePool(opts.params.evidence.maxPoolSize);
    this.restoreLock();
  }

  get height(): bigint {
    return this.chain.height;
  }

  snapshot(): EngineSnapshot {
    return {
      height: this.chain.height,
      round: this.round,
      step: this.phase,
      lockedRound: this.lockedRound,
      lockedBlockHash: this.lockedHash,
      validRound: this.validRound,
      validBlockHash: this.validHash,
      decided: this.decision !== null,
    };
  }

  lastSignState(): SignState | null {
    return this.signState;
  }

  /**
   * Starts consensus at the chain's height. After a restart mid-height the engine re-enters the round it last
   * signed in (its earlier rounds are over for it anyway: the signer guard refuses to go back).
   */
  start(nowMs: bigint): EngineEffect[] {
    return this.run(nowMs, () => {
      if (this.started) return;
      this.started = true;
      const s = this.signState;
      if (s === null || s.height !== this.chain.height) {
        this.startRound(0);
        return;
      }
      this.startRound(s.round);
      this.resendOwnVote(VOTE_PREVOTE, s.prevoteRound, s.prevoteBlockHash);
      this.resendOwnVote(VOTE_PRECOMMIT, s.precommitRound, s.precommitBlockHash);
    });
  }

  /**
   * After a restart: sends our last prevote / precommit of this height again, rebuilt from the sign state. These
   * exact bodies were signed before the crash (the record says so), so signing them again cannot equivocate; it
   * bypasses the guard on purpose (the guard's last step may be later). In the current round it also restores the
   * step, so the node does not wait for votes that everybody who restarted has lost.
   */
  private resendOwnVote(type: 1 | 2, round: number | null, hash: Uint8Array): void {
    if (round === null || this.keyPair === null || !this.validators.has(this.address!)) return;
    const body: VoteBody = {
      chainId: this.chain.chainId,
      type,
      height: this.chain.height,
      round,
      blockHash: hash,
      validator: this.address!,
    };
    const vote: Vote = { body, signature: sign(voteSignBytes(body), this.keyPair) };
    this.out.push({ type: 'broadcastVote', vote });
    this.addVote(vote);
    if (round === this.round) this.phase = type === VOTE_PREVOTE ? 'prevote' : 'precommit';
  }

  step(input: EngineInput, nowMs: bigint): EngineEffect[] {
    return this.run(nowMs, () => this.dispatch(input));
  }

  private run(nowMs: bigint, f: () => void): EngineEffect[] {
    this.now = nowMs;
    this.out = [];
    f();
    this.evaluate();
    const out = this.out;
    this.out = [];
    return out;
  }

  private dispatch(input: EngineInput): void {
    switch (input.type) {
      case 'proposal':
        return this.onProposal(input.proposal, input.block);
      case 'vote':
        return this.onVote(input.vote);
      case 'evidence':
        return this.onEvidence(input.evidence);
      case 'timeout':
        return this.onTimeout(input.height, input.round, input.step);
      case 'blockBuilt':
        return this.onBlockBuilt(input.height, input.round, input.block);
      case 'blockValidated':
        return this.onBlockValidated(input.height, input.blockHash, input.valid, input.reason);
      case 'finalized':
        return this.onFinalized(input.height, input.validatorUpdates);
      case 'syncedBlock':
        return this.onSyncedBlock(input.block, input.commit);
      case 'gossipTick':
        return this.onGossipTick();
    }
  }

  private reject(input: EngineInput['type'], code: string, message: string): void {
    this.out.push({ type: 'rejected', input, code, message });
  }

  // ---- rounds ----

  private get validators(): ValidatorSet {
    return this.chain.validators;
  }

  private isOurs(addr: Uint8Array): boolean {
    return this.address !== null && equalBytes(this.address, addr);
  }

  /** StartRound (lines 11-21). */
  private startRound(round: number): void {
    this.round = round;
    this.phase = 'propose';
    this.awaitingBlock = false;
    this.started = true;
    for (const [k, set] of this.futureRounds) {
      for (const r of set) if (r <= round) set.delete(r);
      if (set.size === 0) this.futureRounds.delete(k);
    }
    const proposer = this.validators.proposerForRound(round);
    if (this.isOurs(proposer.address) && this.keyPair !== null) {
      const valid = this.validHash === null ? undefined : this.blocks.get(this.validHash);
      if (valid !== undefined) {
        this.propose(valid, this.validRound);
      } else {
        this.awaitingBlock = true;
        const c = this.chain;
        this.out.push({
          type: 'buildBlock',
          request: {
            chainId: c.chainId,
            height: c.height,
            round,
            timeMs: proposalTimeMs(this.now, c.lastBlockTimeMs),
            proposer: this.address!,
            prevHash: c.lastBlockHash,
            lastCommit: c.lastCommit,
            evidence: this.pool.select(
              this.params.evidence.maxPerBlock,
              this.evidenceContext(c.height - 1n, c.height, this.now),
            ),
            validatorsHash: c.validators.hash(),
            nextValidatorsHash: c.nextValidators.hash(),
          },
        });
      }
    }
    this.schedule('propose', round);
  }

  private schedule(step: TimeoutStep, round: number): void {
    this.out.push({
      type: 'scheduleTimeout',
      height: this.chain.height,
      round,
      step,
      durationMs: timeoutMs(this.params.timeouts, step, round),
    });
  }

  private propose(block: Block, polRound: number): void {
    const hash = blockHash(block.header);
    const body: ProposalBody = {
      chainId: this.chain.chainId,
      height: this.chain.height,
      round: this.round,
      polRound: polRound >= 0 ? polRound : null,
      blockHash: hash,
      proposer: this.address!,
    };
    const sig = this.signWithGuard(proposalSignRequest(body), null);
    if (sig === null) return;
    const proposal: Proposal = { body, signature: sig };
    this.out.push({ type: 'broadcastProposal', proposal, block });
    const hex = toHex(hash);
    this.blocks.set(hex, block);
    if (!this.validity.has(hex)) this.validity.set(hex, 'valid');
    this.proposals.set(this.round, { proposal, block, hashHex: hex, timely: true });
  }

  /** Signs through the guard: refusal -> a signRefused effect and null; success -> persist effect, then signature. */
  private signWithGuard(req: SignRequest, lock: LockRecord | null): Uint8Array | null {
    if (this.keyPair === null) return null;
    const d = authorizeSign(this.signState, req);
    if (!d.ok) {
      this.out.push({ type: 'signRefused', code: d.code, message: d.message });
      return null;
    }
    if (!d.resign) {
      let state = d.state;
      if (lock !== null)
        state = {
          ...state,
          lockedRound: lock.round,
          lockedBlockHash: lock.hash,
          lockedBlock: lock.block,
          lockedPol: lock.pol,
        };
      this.signState = state;
      this.out.push({ type: 'persistSignState', state });
    }
    return sign(req.signBytes, this.keyPair);
  }

  private castVote(type: 1 | 2, hashHex: string | null, lock: LockRecord | null = null): void {
    if (this.keyPair === null || !this.validators.has(this.address!)) return;
    const body: VoteBody = {
      chainId: this.chain.chainId,
      type,
      height: this.chain.height,
      round: this.round,
      blockHash: hashHex === null ? new Uint8Array(0) : fromHex(hashHex),
      validator: this.address!,
    };
    const sig = this.signWithGuard(voteSignRequest(body), lock);
    if (sig === null) return;
    const vote: Vote = { body, signature: sig };
    this.out.push({ type: 'broadcastVote', vote });
    this.addVote(vote);
  }

  private roundVotes(round: number): RoundVotes {
    let rv = this.rounds.get(round);
    if (rv === undefined) {
      rv = {
        prevotes: new VoteTally(),
        precommits: new VoteTally(),
        voters: new Map(),
        prevoteTimeoutScheduled: false,
        precommitTimeoutScheduled: false,
        polkaHandled: false,
      };
      this.rounds.set(round, rv);
    }
    return rv;
  }

  // ---- inputs ----

  private onProposal(p: Proposal, block: Block): void {
    const b = p.body;
    const c = this.chain;
    if (b.chainId !== c.chainId) return this.reject('proposal', 'WRONG_CHAIN', `proposal for chain ${b.chainId}`);
    if (b.height === c.height + 1n) return this.bufferNextHeight({ type: 'proposal', proposal: p, block });
    if (b.height !== c.height || this.decision !== null) return; // stale, or far ahead (the driver syncs blocks)
    if (b.round > this.round + MAX_FUTURE_PROPOSAL_ROUNDS) return;
    if (b.polRound !== null && b.polRound >= b.round)
      return this.reject('proposal', 'BAD_POL_ROUND', 'polRound must be below the round');
    const expected = this.validators.proposerForRound(b.round);
    if (!equalBytes(expected.address, b.proposer)) {
      return this.reject('proposal', 'WRONG_PROPOSER', `round ${b.round} belongs to ${toHex(expected.address)}`);
    }
    const existing = this.proposals.get(b.round);
    if (existing !== undefined && existing.hashHex === toHex(b.blockHash)) return; // a gossip duplicate
    if (!this.verifyFn(signingBytes('proposal', encode(ProposalBodySchema, b)), p.signature, expected.publicKey)) {
      return this.reject('proposal', 'BAD_SIGNATURE', 'proposal signature does not verify');
    }
    if (existing !== undefined)
      return this.reject('proposal', 'CONFLICTING_PROPOSAL', 'the proposer signed a second proposal for the round');
    const hash = blockHash(block.header);
    if (!equalBytes(hash, b.blockHash))
      return this.reject('proposal', 'BLOCK_MISMATCH', 'block does not hash to the proposal');
    if (b.polRound === null && !equalBytes(block.header.proposer, b.proposer)) {
      // A fresh block names its builder; only a re-proposed valid value may carry an earlier proposer.
      return this.reject('proposal', 'PROPOSER_MISMATCH', 'a new block must name the round proposer in its header');
    }
    const hex = toHex(hash);
    const timely = isTimely(this.params.blockTime, block.header.timeMs, this.now, b.round);
    this.proposals.set(b.round, { proposal: p, block, hashHex: hex, timely });
    this.blocks.set(hex, block);
    this.requestValidation(b.round, hex, block);
  }

  /** Consensus-level checks first; only a block that passes them goes to the application. */
  private requestValidation(round: number, hex: string, block: Block): void {
    if (this.validity.has(hex)) return;
    const err = this.checkBlock(block);
    if (err !== null) {
      this.validity.set(hex, 'invalid');
      this.reject('proposal', 'INVALID_BLOCK', err);
      return;
    }
    this.validity.set(hex, 'pending');
    this.out.push({ type: 'validateBlock', height: this.chain.height, round, blockHash: fromHex(hex), block });
  }

  /** Every consensus field of a block at the current height. Returns the reason it is invalid, or null. */
  checkBlock(block: Block): string | null {
    const h = block.header;
    const c = this.chain;
    if (h.chainId !== c.chainId) return `chain id ${h.chainId}`;
    if (h.height !== c.height) return `height ${h.height}, expected ${c.height}`;
    if (!equalBytes(h.prevHash, c.lastBlockHash)) return 'prevHash is not the last committed block';
    if (h.timeMs <= c.lastBlockTimeMs) return `time ${h.timeMs} is not after the previous block's ${c.lastBlockTimeMs}`;
    if (!equalBytes(h.validatorsHash, c.validators.hash()))
      return 'validatorsHash does not match the set of this height';
    if (!equalBytes(h.nextValidatorsHash, c.nextValidators.hash()))
      return 'nextValidatorsHash does not match the next set';
    if (!c.validators.has(h.proposer)) return 'proposer is not a validator';
    if (!equalBytes(h.txRoot, txRootOf(block.txs))) return 'txRoot does not match the txs';
    if (!equalBytes(h.lastCommitHash, commitHashOf(block.lastCommit)))
      return 'lastCommitHash does not match lastCommit';
    if (c.height === 1n) {
      if (block.lastCommit !== null) return 'the first block has no last commit';
    } else {
      if (block.lastCommit === null || c.lastValidators === null) return 'lastCommit missing';
      const known = verifiedCommits.get(block.lastCommit);
      if (
        known === undefined ||
        !equalBytes(known, c.lastValidators.hash()) ||
        !equalBytes(block.lastCommit.blockHash, c.lastBlockHash)
      ) {
        const v = verifyCommitForHash(
          { height: c.height - 1n, blockHash: c.lastBlockHash },
          block.lastCommit,
          c.lastValidators,
          c.chainId,
          { verify: this.verifyFn },
        );
        if (!v.ok) return `lastCommit: ${v.message}`;
        verifiedCommits.set(block.lastCommit, c.lastValidators.hash());
      }
    }
    if (!equalBytes(h.evidenceRoot, evidenceRootOf(block.evidence))) return 'evidenceRoot does not match the evidence';
    if (block.evidence.length > this.params.evidence.maxPerBlock) return 'too much evidence';
    const keys = new Set<string>();
    for (const ev of block.evidence) {
      const r = checkEvidence(ev, this.evidenceContext(c.height - 1n, c.height, h.timeMs));
      if (!r.ok) return `evidence: ${r.message}`;
      if (keys.has(r.key)) return 'duplicate evidence in the block';
      keys.add(r.key);
    }
    return null;
  }

  private evidenceContext(maxHeight: bigint, atHeight: bigint, atTimeMs: bigint | null): EvidenceContext {
    return { chain: this.chain, params: this.params.evidence, maxHeight, atHeight, atTimeMs, verify: this.verifyFn };
  }

  private onVote(vote: Vote): void {
    const b = vote.body;
    const c = this.chain;
    if (b.chainId !== c.chainId) return this.reject('vote', 'WRONG_CHAIN', `vote for chain ${b.chainId}`);
    if (b.type !== VOTE_PREVOTE && b.type !== VOTE_PRECOMMIT)
      return this.reject('vote', 'INVALID_VOTE_TYPE', `vote type ${b.type}`);
    if (b.height === c.height + 1n) return this.bufferNextHeight({ type: 'vote', vote });
    if (b.height !== c.height || this.decision !== null) return;
    if (b.blockHash.length !== 0 && b.blockHash.length !== 32)
      return this.reject('vote', 'BAD_BLOCK_HASH', 'block hash must be 32 bytes or empty');
    const v = this.validators.get(b.validator);
    if (v === undefined)
      return this.reject('vote', 'NOT_A_VALIDATOR', `${toHex(b.validator)} is not a validator at ${c.height}`);
    if (!this.verifyFn(voteSignBytes(b), vote.signature, v.publicKey)) {
      return this.reject('vote', 'BAD_SIGNATURE', 'vote signature does not verify');
    }
    if (b.round > this.round) {
      // Bound memory: each validator may open at most two rounds ahead of ours (CometBFT's catch-up rounds).
      const key = toHex(b.validator);
      let set = this.futureRounds.get(key);
      if (set === undefined) this.futureRounds.set(key, (set = new Set()));
      if (!set.has(b.round)) {
        if (set.size >= MAX_CATCHUP_ROUNDS_PER_VALIDATOR) return;
        set.add(b.round);
      }
    }
    this.addVote(vote);
  }

  /** Adds a verified vote; a conflicting earlier vote of the same validator becomes evidence. */
  private addVote(vote: Vote): void {
    const b = vote.body;
    const v = this.validators.get(b.validator);
    if (v === undefined) return;
    const rv = this.roundVotes(b.round);
    const tally = b.type === VOTE_PREVOTE ? rv.prevotes : rv.precommits;
    const r = tally.add(vote, v.power);
    if (r === 'duplicate') return;
    if (r !== 'added') {
      this.addEvidence(makeEvidence(r, vote), true);
      return;
    }
    rv.voters.set(toHex(b.validator), v.power);
  }

  private addEvidence(ev: DuplicateVoteEvidence, detectedHere: boolean): void {
    const c = this.chain;
    const r = checkEvidence(ev, this.evidenceContext(c.height, c.height, null));
    if (!r.ok) {
      if (!detectedHere) this.reject('evidence', r.code, r.message);
      return;
    }
    if (this.pool.add(r.key, ev) === 'added') this.out.push({ type: 'broadcastEvidence', evidence: ev });
  }

  private onEvidence(ev: DuplicateVoteEvidence): void {
    this.addEvidence(ev, false);
  }

  private onTimeout(height: bigint, round: number, step: TimeoutStep): void {
    if (height !== this.chain.height || this.decision !== null) return;
    switch (step) {
      case 'commit':
        if (this.phase === 'newHeight') this.startRound(0);
        return;
      case 'propose': // line 57
        if (round === this.round && this.phase === 'propose') {
          this.castVote(VOTE_PREVOTE, null);
          this.phase = 'prevote';
        }
        return;
      case 'prevote': // line 61
        if (round === this.round && this.phase === 'prevote') {
          this.castVote(VOTE_PRECOMMIT, null);
          this.phase = 'precommit';
        }
        return;
      case 'precommit': // line 65
        if (round === this.round) this.startRound(round + 1);
        return;
    }
  }

  private onBlockBuilt(height: bigint, round: number, block: Block): void {
    if (height !== this.chain.height || round !== this.round || !this.awaitingBlock || this.phase !== 'propose') return;
    this.awaitingBlock = false;
    const err = this.checkBlock(block);
    if (err !== null)
      return this.reject('blockBuilt', 'INVALID_BLOCK', `the application built an invalid block: ${err}`);
    this.propose(block, -1);
  }

  private onBlockValidated(height: bigint, hash: Uint8Array, valid: boolean, reason?: string): void {
    if (height !== this.chain.height) return;
    const hex = toHex(hash);
    if (this.validity.get(hex) !== 'pending') return;
    this.validity.set(hex, valid ? 'valid' : 'invalid');
    if (!valid) this.reject('blockValidated', 'INVALID_BLOCK', reason ?? 'the application refused the block');
  }

  private onSyncedBlock(block: Block, commit: Commit): void {
    const c = this.chain;
    if (block.header.height !== c.height || this.decision !== null) return;
    const v = verifyCommit(block, commit, c.validators, c.chainId, { verify: this.verifyFn });
    if (!v.ok) return this.reject('syncedBlock', v.code, v.message);
    const err = this.checkBlock(block);
    if (err !== null) return this.reject('syncedBlock', 'INVALID_BLOCK', err);
    this.decide(block, commit);
  }

  private onFinalized(height: bigint, updates: ValidatorUpdate[]): void {
    if (this.decision === null || height !== this.chain.height) return;
    const { block, commit } = this.decision;
    this.chain.advance(block, commit, updates, this.params.evidence);
    const c = this.chain;
    this.pool.prune(this.evidenceContext(c.height, c.height, c.lastBlockTimeMs));
    this.resetHeight();
    this.schedule('commit', 0);
    const buffered = this.nextHeight;
    this.nextHeight = [];
    for (const input of buffered) this.dispatch(input);
  }

  private bufferNextHeight(input: EngineInput): void {
    if (this.nextHeight.length < MAX_NEXT_HEIGHT_MESSAGES) this.nextHeight.push(input);
  }

  private resetHeight(): void {
    this.round = 0;
    this.phase = 'newHeight';
    this.lockedRound = -1;
    this.lockedHash = null;
    this.validRound = -1;
    this.validHash = null;
    this.proposals = new Map();
    this.blocks = new Map();
    this.validity = new Map();
    this.rounds = new Map();
    this.futureRounds = new Map();
    this.awaitingBlock = false;
    this.decision = null;
  }

  /**
   * After a restart mid-height: the lock comes back with its block and proof of lock, so the block is also our
   * valid value (we re-propose it when it is our turn) and the POL prevotes can be sent again to whoever lost them.
   */
  private restoreLock(): void {
    const s = this.signState;
    if (s === null || s.height !== this.chain.height || s.lockedRound === null || s.lockedBlockHash.length !== 32)
      return;
    const hex = toHex(s.lockedBlockHash);
    this.lockedRound = s.lockedRound;
    this.lockedHash = hex;
    if (s.lockedBlock.length === 0) return;
    const block = decodeBlock(s.lockedBlock);
    if (toHex(blockHash(block.header)) !== hex) return;
    this.blocks.set(hex, block);
    this.validity.set(hex, 'valid');
    this.validRound = s.lockedRound;
    this.validHash = hex;
    for (const sig of s.lockedPol) {
      const body: VoteBody = {
        chainId: this.chain.chainId,
        type: VOTE_PREVOTE,
        height: s.height,
        round: s.lockedRound,
        blockHash: s.lockedBlockHash,
        validator: sig.validator,
      };
      const v = this.validators.get(sig.validator);
      if (v !== undefined && this.verifyFn(voteSignBytes(body), sig.signature, v.publicKey))
        this.addVote({ body, signature: sig.signature });
    }
  }

  private onGossipTick(): void {
    const c = this.chain;
    if (this.lastTickHeight !== c.height) {
      this.lastTickHeight = c.height;
      return;
    }
    // Stuck at this height for a whole tick: re-send proposals and votes of the rounds that matter now.
    const rounds = new Set([this.round, this.validRound, this.lockedRound, this.round - 1].filter((r) => r >= 0));
    for (const r of rounds) {
      const p = this.proposals.get(r);
      if (p !== undefined) this.out.push({ type: 'broadcastProposal', proposal: p.proposal, block: p.block });
      const rv = this.rounds.get(r);
      if (rv === undefined) continue;
      for (const vote of rv.prevotes.votes.values()) this.out.push({ type: 'broadcastVote', vote });
      for (const vote of rv.precommits.votes.values()) this.out.push({ type: 'broadcastVote', vote });
    }
    for (const ev of this.pool.list()) this.out.push({ type: 'broadcastEvidence', evidence: ev });
  }

  // ---- the upon rules ----

  private evaluate(): void {
    for (let i = 0; i < 1000; i++) {
      if (this.decision !== null || !this.started) return;
      if (this.ruleDecide()) return;
      if (this.ruleRoundSkip()) continue;
      if (this.ruleProposal()) continue;
      if (this.rulePolka()) continue;
      if (this.ruleNilPolka()) continue;
      this.ruleTimeouts();
      return;
    }
    throw new Error('consensus rules did not settle');
  }

  /** Line 49: a proposal's block and > 2/3 precommits for it in some round: decide. */
  private ruleDecide(): boolean {
    for (const [round, rv] of this.rounds) {
      for (const [hex, power] of rv.precommits.powerByBlock) {
        if (hex === '' || !this.validators.isQuorum(power)) continue;
        const block = this.blocks.get(hex);
        if (block === undefined || this.validity.get(hex) !== 'valid') continue;
        const sigs: Commit['signatures'] = [];
        for (const val of this.validators.validators) {
          const vote = rv.precommits.votes.get(toHex(val.address));
          if (vote !== undefined && toHex(vote.body.blockHash) === hex)
            sigs.push({ validator: val.address, signature: vote.signature });
        }
        this.decide(block, { height: this.chain.height, round, blockHash: fromHex(hex), signatures: sigs });
        return true;
      }
    }
    return false;
  }

  private decide(block: Block, commit: Commit): void {
    this.decision = { block, commit };
    this.phase = 'commit';
    const misbehaviour: Misbehaviour[] = block.evidence.map((ev) => ({
      validator: ev.voteA.body.validator,
      height: ev.voteA.body.height,
      timeMs: this.chain.timeAt(ev.voteA.body.height) ?? block.header.timeMs,
    }));
    this.out.push({ type: 'decide', height: this.chain.height, round: commit.round, block, commit, misbehaviour });
  }

  /** Line 55: f + 1 power seen in a later round: go there. */
  private ruleRoundSkip(): boolean {
    let target = -1;
    for (const [round, rv] of this.rounds) {
      if (round <= this.round || round <= target) continue;
      let power = 0n;
      for (const p of rv.voters.values()) power += p;
      if (this.validators.exceedsOneThird(power)) target = round;
    }
    if (target < 0) return false;
    this.startRound(target);
    return true;
  }

  /** Lines 22 and 28: prevote on the round's proposal once its validity is known. */
  private ruleProposal(): boolean {
    if (this.phase !== 'propose') return false;
    const p = this.proposals.get(this.round);
    if (p === undefined) return false;
    const validity = this.validity.get(p.hashHex);
    if (validity === undefined || validity === 'pending') return false;
    const valid = validity === 'valid';
    const vr = p.proposal.body.polRound;
    let vote: string | null;
    if (vr === null) {
      // Line 22: a fresh value; PBTS adds that it must be timely.
      vote = valid && p.timely && (this.lockedRound === -1 || this.lockedHash === p.hashHex) ? p.hashHex : null;
    } else {
      // Line 28: a re-proposal needs the polka of its round; unlocks if that polka is at or after our lock.
      const pol = this.rounds.get(vr);
      if (pol === undefined || !this.validators.isQuorum(pol.prevotes.powerFor(p.hashHex))) return false;
      vote = valid && (this.lockedRound <= vr || this.lockedHash === p.hashHex) ? p.hashHex : null;
    }
    this.castVote(VOTE_PREVOTE, vote);
    this.phase = 'prevote';
    return true;
  }

  /** Line 36: a valid proposal with > 2/3 prevotes in this round: lock (if still in prevote) and record as valid. */
  private rulePolka(): boolean {
    if (this.phase !== 'prevote' && this.phase !== 'precommit') return false;
    const rv = this.rounds.get(this.round);
    const p = this.proposals.get(this.round);
    if (rv === undefined || p === undefined || rv.polkaHandled) return false;
    if (this.validity.get(p.hashHex) !== 'valid' || !this.validators.isQuorum(rv.prevotes.powerFor(p.hashHex)))
      return false;
    rv.polkaHandled = true;
    if (this.phase === 'prevote') {
      this.lockedRound = this.round;
      this.lockedHash = p.hashHex;
      const pol: Commit['signatures'] = [];
      for (const vote of rv.prevotes.votes.values()) {
        if (toHex(vote.body.blockHash) === p.hashHex)
          pol.push({ validator: vote.body.validator, signature: vote.signature });
      }
      this.castVote(VOTE_PRECOMMIT, p.hashHex, {
        round: this.round,
        hash: fromHex(p.hashHex),
        block: encodeBlock(p.block),
        pol,
      });
      this.phase = 'precommit';
    }
    this.validRound = this.round;
    this.validHash = p.hashHex;
    return true;
  }

  /** Line 44: > 2/3 prevotes for nil: precommit nil. */
  private ruleNilPolka(): boolean {
    if (this.phase !== 'prevote') return false;
    const rv = this.rounds.get(this.round);
    if (rv === undefined || !this.validators.isQuorum(rv.prevotes.powerFor(''))) return false;
    this.castVote(VOTE_PRECOMMIT, null);
    this.phase = 'precommit';
    return true;
  }

  /** Lines 34 and 47: > 2/3 of any prevotes / precommits in this round start the step's timeout, once. */
  private ruleTimeouts(): void {
    const rv = this.rounds.get(this.round);
    if (rv === undefined) return;
    if (this.phase === 'prevote' && !rv.prevoteTimeoutScheduled && this.validators.isQuorum(rv.prevotes.total)) {
      rv.prevoteTimeoutScheduled = true;
      this.schedule('prevote', this.round);
    }
    if (this.phase !== 'newHeight' && !rv.precommitTimeoutScheduled && this.validators.isQuorum(rv.precommits.total)) {
      rv.precommitTimeoutScheduled = true;
      this.schedule('precommit', this.round);
    }
  }
}
