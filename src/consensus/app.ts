// The application boundary (ABCI-like): consensus orders blocks, the application executes them.
//
// Consensus knows nothing about loans; the application knows nothing about rounds. The real node implements this
// with the VM and the state store; the simulator with a small deterministic key-value app (test/sim/app.ts).
import {
  txRootOf,
  evidenceRootOf,
  commitHashOf,
  type Block,
  type Commit,
  type DuplicateVoteEvidence,
} from '../core/types.js';
import type { ValidatorUpdate } from './validator-set.js';

/** What consensus fixes in a block it asks the application to build. */
export interface PrepareProposalRequest {
  chainId: string;
  height: bigint;
  round: number;
  /** Block time chosen by consensus: the proposer's clock, strictly after the previous block. */
  timeMs: bigint;
  /** Address of the proposer (this node). */
  proposer: Uint8Array;
  prevHash: Uint8Array;
  lastCommit: Commit | null;
  evidence: DuplicateVoteEvidence[];
  validatorsHash: Uint8Array;
  nextValidatorsHash: Uint8Array;
}

/** Committed double-sign evidence as the application's staking logic sees it. */
export interface Misbehaviour {
  validator: Uint8Array;
  height: bigint;
  /** Time of the block at the misbehaviour's height. */
  timeMs: bigint;
}

export type ProcessProposalResult = { valid: true } | { valid: false; reason: string };

export interface FinalizeBlockResult {
  /** State root after the block; must equal the header's stateRoot (the driver halts otherwise). */
  stateRoot: Uint8Array;
  /** Changes to the validator set; they take effect at height + 2. */
  validatorUpdates: ValidatorUpdate[];
}

export interface Application {
  /**
   * Builds the proposer's block: picks txs, executes them (with the evidence's slashing) on a copy of the state and
   * fills txs, txRoot, stateRoot, resultsRoot and gasUsed. Use `assembleBlock` to get every consensus field right.
   */
  prepareProposal(req: PrepareProposalRequest): Block;
  /**
   * Re-executes a proposed block on a copy of the state: valid only if stateRoot, resultsRoot, gasUsed and txs
   * check out. Consensus has already checked every consensus field (heights, hashes, commit, evidence, time).
   */
  processProposal(block: Block): ProcessProposalResult;
  /**
   * Executes and durably commits a decided block with its commit certificate (one atomic write). May return a
   * promise (an asynchronous database write): the driver then performs nothing else until it resolves, and halts if
   * it rejects.
   */
  finalizeBlock(
    block: Block,
    commit: Commit,
    misbehaviour: Misbehaviour[],
  ): FinalizeBlockResult | Promise<FinalizeBlockResult>;
}

/** Assembles a block from the consensus fields of a request and the application's execution results. */
export function assembleBlock(
  req: PrepareProposalRequest,
  exec: { txs: Uint8Array[]; stateRoot: Uint8Array; resultsRoot: Uint8Array; gasUsed: bigint },
): Block {
  return {
    header: {
      chainId: req.chainId,
      height: req.height,
      timeMs: req.timeMs,
      prevHash: req.prevHash,
      txRoot: txRootOf(exec.txs),
      stateRoot: exec.stateRoot,
      resultsRoot: exec.resultsRoot,
      validatorsHash: req.validatorsHash,
      nextValidatorsHash: req.nextValidatorsHash,
      lastCommitHash: commitHashOf(req.lastCommit),
      evidenceRoot: evidenceRootOf(req.evidence),
      proposer: req.proposer,
      gasUsed: exec.gasUsed,
    },
    txs: exec.txs,
    evidence: req.evidence,
    lastCommit: req.lastCommit,
  };
}
