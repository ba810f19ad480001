// Consensus parameters with their defaults: timeouts (and how they grow per round), block-time bounds, evidence age.
import { MAX_EVIDENCE_PER_BLOCK } from '../core/constants.js';
import { ConsensusError } from './errors.js';

/** Durations in ms. A timeout of round r lasts `base + delta * r`: linear growth, so after the network heals some
 * round is long enough for every honest node to hear the others (Tendermint's eventual-synchrony argument). */
export interface TimeoutParams {
  proposeMs: number;
  proposeDeltaMs: number;
  prevoteMs: number;
  prevoteDeltaMs: number;
  precommitMs: number;
  precommitDeltaMs: number;
  /** Pause after a commit before round 0 of the next height: the target block interval. */
  commitMs: number;
}

export interface BlockTimeParams {
  /** Largest clock difference between two honest validators (PBTS PRECISION). */
  precisionMs: bigint;
  /** Largest delay of a proposal from proposer to validator in round 0 (PBTS MSGDELAY); grows 10% per round. */
  messageDelayMs: bigint;
}

export interface EvidenceParams {
  /** Evidence is expired once it is older than BOTH maxAgeHeights and maxAgeMs (CometBFT's rule). */
  maxAgeHeights: bigint;
  /** Should equal the staking unbonding period: while stake unbonds it stays slashable, after that it is gone. */
  maxAgeMs: bigint;
  /** Most evidence in one block (<= MAX_EVIDENCE_PER_BLOCK, the codec's limit). */
  maxPerBlock: number;
  /** Most pending evidence kept in the pool; further evidence is dropped until some is committed or expires. */
  maxPoolSize: number;
}

export interface ConsensusParams {
  chainId: string;
  timeouts: TimeoutParams;
  blockTime: BlockTimeParams;
  evidence: EvidenceParams;
}

export const DEFAULT_TIMEOUTS: TimeoutParams = {
  proposeMs: 3000,
  proposeDeltaMs: 500,
  prevoteMs: 1000,
  prevoteDeltaMs: 500,
  precommitMs: 1000,
  precommitDeltaMs: 500,
  commitMs: 1000,
};

export const DEFAULT_BLOCK_TIME: BlockTimeParams = { precisionMs: 500n, messageDelayMs: 2000n };

/** 21 days, the default staking unbonding period. */
export const DEFAULT_UNBONDING_MS = 21n * 24n * 3600n * 1000n;

export function defaultEvidenceParams(unbondingMs: bigint = DEFAULT_UNBONDING_MS): EvidenceParams {
  // At the default 1 s block interval, 21 days are ~1.8 M blocks; the height bound is the same window in blocks.
  return {
    maxAgeHeights: unbondingMs / 1000n,
    maxAgeMs: unbondingMs,
    maxPerBlock: MAX_EVIDENCE_PER_BLOCK,
    maxPoolSize: 1024,
  };
}

export function defaultParams(chainId: string, unbondingMs?: bigint): ConsensusParams {
  return {
    chainId,
    timeouts: { ...DEFAULT_TIMEOUTS },
    blockTime: { ...DEFAULT_BLOCK_TIME },
    evidence: defaultEvidenceParams(unbondingMs),
  };
}

export type TimeoutStep = 'propose' | 'prevote' | 'precommit' | 'commit';

/** Duration of a step's timeout in `round` (commit: fixed). */
export function timeoutMs(t: TimeoutParams, step: TimeoutStep, round: number): number {
  switch (step) {
    case 'propose':
      return t.proposeMs + t.proposeDeltaMs * round;
    case 'prevote':
      return t.prevoteMs + t.prevoteDeltaMs * round;
    case 'precommit':
      return t.precommitMs + t.precommitDeltaMs * round;
    case 'commit':
      return t.commitMs;
  }
}

/** Message delay allowed in `round`: MSGDELAY * (1 + round / 10), integer ms (PBTS widens it as rounds fail). */
export function messageDelayForRound(b: BlockTimeParams, round: number): bigint {
  return b.messageDelayMs + (b.messageDelayMs * BigInt(round)) / 10n;
}

/**
 * PBTS timeliness of a fresh proposal (no proof-of-lock round), judged with the receiver's clock when it arrives:
 * `now - delay(round) - precision <= time <= now + precision`.
 */
export function isTimely(b: BlockTimeParams, blockTimeMs: bigint, receivedAtMs: bigint, round: number): boolean {
  const lower = receivedAtMs - messageDelayForRound(b, round) - b.precisionMs;
  const upper = receivedAtMs + b.precisionMs;
  return blockTimeMs >= lower && blockTimeMs <= upper;
}

/** The time a proposer puts in a new block: its clock, but strictly after the previous block. */
export function proposalTimeMs(nowMs: bigint, previousBlockTimeMs: bigint): bigint {
  return nowMs > previousBlockTimeMs ? nowMs : previousBlockTimeMs + 1n;
}

export function checkParams(p: ConsensusParams): void {
  const t = p.timeouts;
  for (const [k, v] of Object.entries(t)) {
    if (!Number.isInteger(v) || v < 0)
      throw new ConsensusError('INVALID_ARGUMENT', `timeouts.${k} must be a non-negative integer`);
  }
  if (p.evidence.maxPerBlock < 0 || p.evidence.maxPerBlock > MAX_EVIDENCE_PER_BLOCK) {
    throw new ConsensusError('INVALID_ARGUMENT', `evidence.maxPerBlock must be within 0..${MAX_EVIDENCE_PER_BLOCK}`);
  }
  if (p.blockTime.precisionMs < 0n || p.blockTime.messageDelayMs < 0n)
    throw new ConsensusError('INVALID_ARGUMENT', 'negative block-time bound');
}
