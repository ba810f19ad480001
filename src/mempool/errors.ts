// The mempool's typed error: every refusal of a tx carries one code from MempoolErrorCode and a sentence for people.
import { AutochainError } from '../core/errors.js';

/**
 * Why the mempool refused a tx. Stable strings: the RPC returns them as `error.data.reason`.
 * - MALFORMED: the bytes do not decode as a canonical signed tx.
 * - OVERSIZE: the encoded tx is larger than the configured maximum.
 * - WRONG_CHAIN: the tx names another chain id.
 * - BAD_SIGNATURE: the signature does not verify against the sender key.
 * - GAS_LIMIT_TOO_HIGH: the tx's gas limit exceeds the block gas limit, so no block could include it.
 * - NONCE_TOO_LOW: the sender's account already used this nonce.
 * - NONCE_TOO_HIGH: the nonce is beyond the window (account nonce + window), a gap too wide to wait for.
 * - DUPLICATE: the same tx (same hash) is already waiting in the mempool.
 * - ALREADY_COMMITTED: the same tx is already in a committed block (a replay).
 * - NONCE_TAKEN: another tx of this sender with the same nonce is already waiting.
 * - SENDER_FULL: the sender has reached its per-sender count or byte cap.
 * - MEMPOOL_FULL: the mempool has reached its total count or byte cap.
 */
export type MempoolErrorCode =
  | 'MALFORMED'
  | 'OVERSIZE'
  | 'WRONG_CHAIN'
  | 'BAD_SIGNATURE'
  | 'GAS_LIMIT_TOO_HIGH'
  | 'NONCE_TOO_LOW'
  | 'NONCE_TOO_HIGH'
  | 'DUPLICATE'
  | 'ALREADY_COMMITTED'
  | 'NONCE_TAKEN'
  | 'SENDER_FULL'
  | 'MEMPOOL_FULL';

export const MEMPOOL_ERROR_CODES: readonly MempoolErrorCode[] = [
  'MALFORMED',
  'OVERSIZE',
  'WRONG_CHAIN',
  'BAD_SIGNATURE',
  'GAS_LIMIT_TOO_HIGH',
  'NONCE_TOO_LOW',
  'NONCE_TOO_HIGH',
  'DUPLICATE',
  'ALREADY_COMMITTED',
  'NONCE_TAKEN',
  'SENDER_FULL',
  'MEMPOOL_FULL',
];

export class MempoolError extends AutochainError<MempoolErrorCode> {}
