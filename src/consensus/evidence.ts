// Duplicate-vote evidence: building it from two conflicting votes, every validity rule, and the evidence pool.
//
// Evidence is valid when: both votes are for our chain; both are prevotes or both precommits of one height and
// round; both name one validator; the block hashes differ (nil counts as a value); voteA's hash sorts before
// voteB's (one canonical form per pair, so a pair cannot be committed twice in two orders); the height is not in
// the future; the validator was in the set at that height; both signatures verify with that validator's key;
// and it is not expired (older than BOTH maxAgeHeights and maxAgeMs) nor already committed. One piece of evidence
// is kept per (validator, height): a validator is punished once for a height however many votes it doubled.
import { encode } from '../core/codec.js';
import { verify, signingBytes } from '../core/keys.js';
import { compareBytes, toHex } from '../core/bytes.js';
import { VoteBodySchema, VOTE_PREVOTE, VOTE_PRECOMMIT, type DuplicateVoteEvidence, type Vote } from '../core/types.js';
import type { ChainState } from './chain-state.js';
import type { EvidenceParams } from './params.js';
import type { Validator } from './validator-set.js';
import type { VerifyFn } from './verify-commit.js';

export type EvidenceCheckCode =
  | 'WRONG_CHAIN'
  | 'INVALID_VOTE_TYPE'
  | 'DIFFERENT_TYPE'
  | 'DIFFERENT_HEIGHT'
  | 'DIFFERENT_ROUND'
  | 'DIFFERENT_VALIDATOR'
  | 'SAME_BLOCK'
  | 'NOT_CANONICAL_ORDER'
  | 'FUTURE_HEIGHT'
  | 'NOT_A_VALIDATOR'
  | 'BAD_SIGNATURE'
  | 'EXPIRED'
  | 'ALREADY_COMMITTED';

export type EvidenceCheck =
  | { ok: true; key: string; validator: Validator }
  | { ok: false; code: EvidenceCheckCode; message: string };

/** Dedup key: one piece of evidence per validator and height. */
export function evidenceKey(ev: DuplicateVoteEvidence): string {
  return `${toHex(ev.voteA.body.validator)}:${ev.voteA.body.height}`;
}

/** Orders two conflicting votes canonically (lower block hash first). */
export function makeEvidence(a: Vote, b: Vote): DuplicateVoteEvidence {
  return compareBytes(a.body.blockHash, b.body.blockHash) <= 0 ? { voteA: a, voteB: b } : { voteA: b, voteB: a };
}

export interface EvidenceContext {
  chain: ChainState;
  params: EvidenceParams;
  /** Evidence heights above this are refused (a block at H may include evidence up to H - 1). */
  maxHeight: bigint;
  /** Height and time the age is measured at; time null: not measured (fresh evidence at the current height). */
  atHeight: bigint;
  atTimeMs: bigint | null;
  verify?: VerifyFn;
  /** Pool-internal: the pool holds only evidence whose signatures were checked on admission. */
  skipSignatures?: boolean;
}

function fail(code: EvidenceCheckCode, message: string): EvidenceCheck {
  return { ok: false, code, message };
}

export function checkEvidence(ev: DuplicateVoteEvidence, ctx: EvidenceContext): EvidenceCheck {
  const a = ev.voteA.body;
  const b = ev.voteB.body;
  const chainId = ctx.chain.chainId;
  if (a.chainId !== chainId || b.chainId !== chainId) return fail('WRONG_CHAIN', 'a vote is for another chain');
  if (a.type !== VOTE_PREVOTE && a.type !== VOTE_PRECOMMIT)
    return fail('INVALID_VOTE_TYPE', `unknown vote type ${a.type}`);
  if (a.type !== b.type) return fail('DIFFERENT_TYPE', 'votes of different types do not conflict');
  if (a.height !== b.height) return fail('DIFFERENT_HEIGHT', 'votes of different heights do not conflict');
  if (a.round !== b.round) return fail('DIFFERENT_ROUND', 'votes of different rounds do not conflict');
  if (compareBytes(a.validator, b.validator) !== 0) return fail('DIFFERENT_VALIDATOR', 'votes of two validators');
  const order = compareBytes(a.blockHash, b.blockHash);
  if (order === 0) return fail('SAME_BLOCK', 'both votes are for the same block');
  if (order > 0) return fail('NOT_CANONICAL_ORDER', 'voteA must carry the lower block hash');
  if (a.height > ctx.maxHeight) return fail('FUTURE_HEIGHT', `evidence height ${a.height} is above ${ctx.maxHeight}`);
  const key = evidenceKey(ev);
  if (ctx.chain.isEvidenceCommitted(key))
    return fail('ALREADY_COMMITTED', 'evidence for this validator and height is committed');
  const set = ctx.chain.setAt(a.height);
  if (set === undefined) return fail('EXPIRED', `no validator set for height ${a.height} any more`);
  if (ctx.atTimeMs !== null && a.height < ctx.chain.height) {
    const t = ctx.chain.timeAt(a.height);
    if (t === undefined) return fail('EXPIRED', `height ${a.height} is outside the evidence window`);
    const ageHeights = ctx.atHeight - a.height;
    const ageMs = ctx.atTimeMs - t;
    if (ageHeights > ctx.params.maxAgeHeights && ageMs > ctx.params.maxAgeMs) {
      return fail('EXPIRED', `evidence is ${ageHeights} blocks and ${ageMs} ms old`);
    }
  }
  const validator = set.get(a.validator);
  if (validator === undefined)
    return fail('NOT_A_VALIDATOR', `${toHex(a.validator)} was not a validator at height ${a.height}`);
  if (ctx.skipSignatures === true) return { ok: true, key, validator };
  const check = ctx.verify ?? verify;
  for (const v of [ev.voteA, ev.voteB]) {
    if (!check(signingBytes('vote', encode(VoteBodySchema, v.body)), v.signature, validator.publicKey)) {
      return fail('BAD_SIGNATURE', 'a vote signature does not verify');
    }
  }
  return { ok: true, key, validator };
}

export type PoolAddResult = 'added' | 'duplicate' | 'full';

/** Pending evidence: deduplicated, bounded, oldest first; committed pieces leave, expired ones are pruned. */
export class EvidencePool {
  private readonly pending = new Map<string, DuplicateVoteEvidence>();
  constructor(private readonly maxSize: number) {}

  get size(): number {
    return this.pending.size;
  }

  has(key: string): boolean {
    return this.pending.has(key);
  }

  /** Adds evidence that passed `checkEvidence`; drops it when the pool is full (it may arrive again by gossip). */
  add(key: string, ev: DuplicateVoteEvidence): PoolAddResult {
    if (this.pending.has(key)) return 'duplicate';
    if (this.pending.size >= this.maxSize) return 'full';
    this.pending.set(key, ev);
    return 'added';
  }

  list(): DuplicateVoteEvidence[] {
    return [...this.pending.values()];
  }

  /** Up to `max` pieces still valid for a block at `ctx.atHeight`, oldest first. */
  select(max: number, ctx: EvidenceContext): DuplicateVoteEvidence[] {
    const out: DuplicateVoteEvidence[] = [];
    for (const ev of this.pending.values()) {
      if (out.length >= max) break;
      if (checkEvidence(ev, { ...ctx, skipSignatures: true }).ok) out.push(ev);
    }
    return out;
  }

  /** After a commit: committed keys leave; pieces that can no longer be valid (expired, committed) are pruned. */
  prune(ctx: EvidenceContext): void {
    for (const [key, ev] of this.pending) {
      const c = checkEvidence(ev, { ...ctx, skipSignatures: true });
      if (!c.ok && (c.code === 'EXPIRED' || c.code === 'ALREADY_COMMITTED')) this.pending.delete(key);
    }
  }
}
