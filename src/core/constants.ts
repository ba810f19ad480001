// Protocol limits that every node must agree on. Operator-tunable limits live in src/node/config.ts.

/** Largest encoded signed tx, bytes. */
export const MAX_TX_BYTES = 32 * 1024;
/** Largest encoded operation arguments inside a tx, bytes. */
export const MAX_TX_ARGS_BYTES = 16 * 1024;
/** Most txs in one block. */
export const MAX_BLOCK_TXS = 10_000;
/** Largest encoded block, bytes. */
export const MAX_BLOCK_BYTES = 16 * 1024 * 1024;
/** Most pieces of evidence in one block. */
export const MAX_EVIDENCE_PER_BLOCK = 16;
/** Most validators in a set (bounds commit size). */
export const MAX_VALIDATORS = 150;
/** Largest encoded vote, proposal or other consensus message (without a block), bytes. */
export const MAX_CONSENSUS_MSG_BYTES = 4 * 1024;
/** Chain ids: lowercase letters, digits and dashes, 1 to 48 characters. */
export const CHAIN_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,47}$/;
/** Module and operation names. */
export const NAME_PATTERN = /^[a-z][a-zA-Z0-9_]{0,31}$/;
