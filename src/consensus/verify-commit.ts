// Standalone finality check: does a commit certificate prove that > 2/3 of a validator set precommitted this block?
//
// Any client holding the validator set of a height (validator_list at that height, or a trusted header chain)
// can call it; it needs nothing from the node. The rule: every signature is a valid precommit for exactly this
// chain, height, round and block hash, from a distinct member of the set, and their power is > 2/3 of the total.
// A certificate with any bad entry is refused as a whole, so a stored commit is always clean.
import { encode } from '../core/codec.js';
import { verify, signingBytes } from '../core/keys.js';
import { equalBytes, toHex } from '../core/bytes.js';
import {
  VoteBodySchema,
  VOTE_PRECOMMIT,
  blockHash,
  type Block,
  type Commit,
  type Header,
  type VoteBody,
} from '../core/types.js';
import type { ValidatorSet } from './validator-set.js';

/** Signature check injected where a caller wants a cache (the simulator); the default is strict ed25519. */
export type VerifyFn = (message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array) => boolean;

export type CommitCheckCode =
  | 'WRONG_HEIGHT'
  | 'WRONG_BLOCK'
  | 'UNKNOWN_VALIDATOR'
  | 'DUPLICATE_VALIDATOR'
  | 'BAD_SIGNATURE'
  | 'INSUFFICIENT_POWER';

export type CommitVerification =
  | { ok: true; power: bigint; totalPower: bigint }
  | { ok: false; code: CommitCheckCode; message: string };

/** The precommit body a commit signature signs. */
export function commitVoteBody(commit: Commit, chainId: string, validator: Uint8Array): VoteBody {
  return {
    chainId,
    type: VOTE_PRECOMMIT,
    height: commit.height,
    round: commit.round,
    blockHash: commit.blockHash,
    validator,
  };
}

function isBlock(x: Header | Block): x is Block {
  return 'header' in x;
}

export function verifyCommit(
  headerOrBlock: Header | Block,
  commit: Commit,
  validators: ValidatorSet,
  chainId: string,
  opts: { verify?: VerifyFn } = {},
): CommitVerification {
  const header = isBlock(headerOrBlock) ? headerOrBlock.header : headerOrBlock;
  if (header.chainId !== chainId) {
    return { ok: false, code: 'WRONG_BLOCK', message: `block is for chain ${header.chainId}, not ${chainId}` };
  }
  return verifyCommitForHash(
    { height: header.height, blockHash: blockHash(header) },
    commit,
    validators,
    chainId,
    opts,
  );
}

/** The same check when only the block's height and hash are at hand (a header's lastCommit, for its parent). */
export function verifyCommitForHash(
  target: { height: bigint; blockHash: Uint8Array },
  commit: Commit,
  validators: ValidatorSet,
  chainId: string,
  opts: { verify?: VerifyFn } = {},
): CommitVerification {
  const check = opts.verify ?? verify;
  if (commit.height !== target.height) {
    return {
      ok: false,
      code: 'WRONG_HEIGHT',
      message: `commit is for height ${commit.height}, block is ${target.height}`,
    };
  }
  if (!equalBytes(commit.blockHash, target.blockHash)) {
    return { ok: false, code: 'WRONG_BLOCK', message: 'commit is for another block hash' };
  }
  const seen = new Set<string>();
  let power = 0n;
  for (const sig of commit.signatures) {
    const key = toHex(sig.validator);
    const v = validators.get(sig.validator);
    if (v === undefined) return { ok: false, code: 'UNKNOWN_VALIDATOR', message: `${key} is not in the validator set` };
    if (seen.has(key)) return { ok: false, code: 'DUPLICATE_VALIDATOR', message: `${key} signed twice` };
    seen.add(key);
    const msg = signingBytes('vote', encode(VoteBodySchema, commitVoteBody(commit, chainId, sig.validator)));
    if (!check(msg, sig.signature, v.publicKey)) {
      return { ok: false, code: 'BAD_SIGNATURE', message: `bad precommit signature from ${key}` };
    }
    power += v.power;
  }
  if (!validators.isQuorum(power)) {
    return {
      ok: false,
      code: 'INSUFFICIENT_POWER',
      message: `signed power ${power} of ${validators.totalPower} is not > 2/3`,
    };
  }
  return { ok: true, power, totalPower: validators.totalPower };
}
