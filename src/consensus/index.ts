// The consensus package's public surface, in one import for the node wiring.
export {
  ConsensusEngine,
  type EngineInput,
  type EngineEffect,
  type EngineOptions,
  type EngineDeps,
  type EngineSnapshot,
  type Step,
} from './engine.js';
export { ConsensusDriver, type DriverDeps, type ConsensusNetwork, type TimerService, type Clock } from './driver.js';
export {
  assembleBlock,
  type Application,
  type PrepareProposalRequest,
  type ProcessProposalResult,
  type FinalizeBlockResult,
  type Misbehaviour,
} from './app.js';
export { ValidatorSet, MAX_TOTAL_VOTING_POWER, type Validator, type ValidatorUpdate } from './validator-set.js';
export {
  ChainState,
  encodeChainStateSnapshot,
  decodeChainStateSnapshot,
  MAX_SNAPSHOT_BYTES,
  MAX_SNAPSHOT_HEIGHTS,
  MAX_SNAPSHOT_SEGMENTS,
  MAX_SNAPSHOT_EVIDENCE,
  type GenesisInfo,
  type ChainStateSnapshot,
} from './chain-state.js';
export {
  verifyCommit,
  verifyCommitForHash,
  commitVoteBody,
  type CommitVerification,
  type CommitCheckCode,
  type VerifyFn,
} from './verify-commit.js';
export {
  authorizeSign,
  GuardedSigner,
  MemorySignStateStore,
  encodeSignState,
  decodeSignState,
  voteSignRequest,
  proposalSignRequest,
  type SignState,
  type SignStateStore,
  type SignRequest,
  type SignDecision,
} from './signer-guard.js';
export {
  checkEvidence,
  makeEvidence,
  evidenceKey,
  EvidencePool,
  type EvidenceCheckCode,
  type EvidenceContext,
} from './evidence.js';
export {
  defaultParams,
  defaultEvidenceParams,
  timeoutMs,
  isTimely,
  proposalTimeMs,
  messageDelayForRound,
  checkParams,
  DEFAULT_TIMEOUTS,
  DEFAULT_BLOCK_TIME,
  DEFAULT_UNBONDING_MS,
  type ConsensusParams,
  type TimeoutParams,
  type BlockTimeParams,
  type EvidenceParams,
  type TimeoutStep,
} from './params.js';
export {
  encodeConsensusMessage,
  decodeConsensusMessage,
  messageHeight,
  MAX_CONSENSUS_MESSAGE_BYTES,
  type ConsensusMessage,
} from './messages.js';
export { ConsensusError, type ConsensusErrorCode } from './errors.js';
