// Typed errors of the consensus layer: each carries a code, so callers branch on codes, not messages.
import { AutochainError } from '../core/errors.js';

export type ConsensusErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_VALIDATOR_SET'
  | 'INVALID_VALIDATOR_UPDATE'
  | 'SIGN_REFUSED'
  | 'SIGN_STATE_CORRUPT'
  | 'STATE_ROOT_MISMATCH'
  | 'INVALID_COMMIT';

export class ConsensusError extends AutochainError<ConsensusErrorCode> {}
