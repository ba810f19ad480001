// Signer guard: a validator never signs two different messages for one (height, round, step), nor goes back in time.
//
// The last signed (height, round, step, block hash, hash of the signed bytes) is persisted — durably, fsynced —
// before the signature leaves the node; after a kill -9 the restarted node reads it and refuses anything that
// conflicts with or precedes it. Re-signing exactly the same bytes is allowed (ed25519 is deterministic, so the
// signature is the same one the network may already have). The record also carries the validator's lock
// (locked round and block): Tendermint's safety needs a lock to survive a crash as much as the vote itself.
// This file does no I/O: persistence is the injected SignStateStore (src/node/signer-store.ts writes a file).
import { struct, bytes, u8, u32, u64, optional, list, encode, decode, type Infer } from '../core/codec.js';
import { MAX_BLOCK_BYTES, MAX_VALIDATORS } from '../core/constants.js';
import { sha256 } from '../core/hash.js';
import { equalBytes, toHex } from '../core/bytes.js';
import { sign, signingBytes, addressOf, type KeyPair } from '../core/keys.js';
import {
  VoteBodySchema,
  ProposalBodySchema,
  CommitSigSchema,
  VOTE_PREVOTE,
  VOTE_PRECOMMIT,
  type VoteBody,
  type Vote,
  type ProposalBody,
  type Proposal,
} from '../core/types.js';
import { ConsensusError } from './errors.js';

/** Steps in signing order within one round. */
export const SIGN_STEP_PROPOSAL = 1;
export const SIGN_STEP_PREVOTE = 2;
export const SIGN_STEP_PRECOMMIT = 3;
export type SignStep = 1 | 2 | 3;

export const SignStateSchema = struct('SignState', [
  ['height', u64],
  ['round', u32],
  ['step', u8],
  /** Block hash signed (empty for a nil vote). */
  ['blockHash', bytes({ max: 32 })],
  /** sha256 of the exact signed bytes: equal bytes may be re-signed, anything else at this step is a conflict. */
  ['signBytesHash', bytes({ exact: 32 })],
  /** The validator's lock at `height` (null: not locked). */
  ['lockedRound', optional(u32)],
  ['lockedBlockHash', bytes({ max: 32 })],
  /** The locked block (encoded) and the > 2/3 prevote signatures that justified the lock (its proof of lock):
   * without them a restarted validator keeps a lock nobody can release or re-propose, and the height stalls. */
  ['lockedBlock', bytes({ max: MAX_BLOCK_BYTES })],
  ['lockedPol', list(CommitSigSchema, { max: MAX_VALIDATORS })],
  /** Our latest prevote and precommit at `height` (round, block hash): after a restart the engine sends these exact
   * votes again, because peers that restarted too may have lost them and nobody else can re-create them. */
  ['prevoteRound', optional(u32)],
  ['prevoteBlockHash', bytes({ max: 32 })],
  ['precommitRound', optional(u32)],
  ['precommitBlockHash', bytes({ max: 32 })],
] as const);
export type SignState = Infer<typeof SignStateSchema>;

export function encodeSignState(s: SignState): Uint8Array {
  return encode(SignStateSchema, s);
}

export function decodeSignState(b: Uint8Array): SignState {
  return decode(SignStateSchema, b, MAX_BLOCK_BYTES + 64 * 1024);
}

/** Durable storage of the last sign state. `save` returns only once the state is on stable storage (fsync). */
export interface SignStateStore {
  load(): SignState | null;
  save(state: SignState): void;
}

/** In-memory store: for tests and the simulator, where "the disk" is an object that survives a simulated crash. */
export class MemorySignStateStore implements SignStateStore {
  private state: SignState | null = null;
  saves = 0;
  load(): SignState | null {
    return this.state;
  }
  save(state: SignState): void {
    this.state = state;
    this.saves++;
  }
}

export interface SignRequest {
  height: bigint;
  round: number;
  step: SignStep;
  blockHash: Uint8Array;
  signBytes: Uint8Array;
}

export type SignRefusal = 'REGRESSION' | 'CONFLICT';
export type SignDecision =
  | { ok: true; state: SignState; resign: boolean }
  | { ok: false; code: SignRefusal; message: string };

function cmpHrs(
  a: { height: bigint; round: number; step: number },
  b: { height: bigint; round: number; step: number },
): number {
  if (a.height !== b.height) return a.height < b.height ? -1 : 1;
  if (a.round !== b.round) return a.round < b.round ? -1 : 1;
  return a.step - b.step;
}

/**
 * The guard's rule, pure: a request after the last signed (height, round, step) is allowed; at the same HRS only
 * the identical bytes are; anything earlier is a regression. The lock carried over stays until the height changes.
 */
export function authorizeSign(last: SignState | null, req: SignRequest): SignDecision {
  const signBytesHash = sha256(req.signBytes);
  if (last !== null) {
    const c = cmpHrs(req, last);
    if (c < 0) {
      return {
        ok: false,
        code: 'REGRESSION',
        message: `refusing to sign h=${req.height} r=${req.round} s=${req.step}: already signed h=${last.height} r=${last.round} s=${last.step}`,
      };
    }
    if (c === 0) {
      if (equalBytes(signBytesHash, last.signBytesHash)) return { ok: true, state: last, resign: true };
      return {
        ok: false,
        code: 'CONFLICT',
        message: `refusing a second, different signature at h=${req.height} r=${req.round} s=${req.step} (signed block ${toHex(last.blockHash) || 'nil'})`,
      };
    }
  }
  const keep = last !== null && last.height === req.height ? last : null;
  const none = new Uint8Array(0);
  return {
    ok: true,
    resign: false,
    state: {
      height: req.height,
      round: req.round,
      step: req.step,
      blockHash: req.blockHash,
      signBytesHash,
      lockedRound: keep?.lockedRound ?? null,
      lockedBlockHash: keep?.lockedBlockHash ?? none,
      lockedBlock: keep?.lockedBlock ?? none,
      lockedPol: keep?.lockedPol ?? [],
      prevoteRound: req.step === SIGN_STEP_PREVOTE ? req.round : (keep?.prevoteRound ?? null),
      prevoteBlockHash: req.step === SIGN_STEP_PREVOTE ? req.blockHash : (keep?.prevoteBlockHash ?? none),
      precommitRound: req.step === SIGN_STEP_PRECOMMIT ? req.round : (keep?.precommitRound ?? null),
      precommitBlockHash: req.step === SIGN_STEP_PRECOMMIT ? req.blockHash : (keep?.precommitBlockHash ?? none),
    },
  };
}

export function voteSignRequest(body: VoteBody): SignRequest {
  if (body.type !== VOTE_PREVOTE && body.type !== VOTE_PRECOMMIT) {
    throw new ConsensusError('INVALID_ARGUMENT', `unknown vote type ${body.type}`);
  }
  return {
    height: body.height,
    round: body.round,
    step: body.type === VOTE_PREVOTE ? SIGN_STEP_PREVOTE : SIGN_STEP_PRECOMMIT,
    blockHash: body.blockHash,
    signBytes: signingBytes('vote', encode(VoteBodySchema, body)),
  };
}

export function proposalSignRequest(body: ProposalBody): SignRequest {
  return {
    height: body.height,
    round: body.round,
    step: SIGN_STEP_PROPOSAL,
    blockHash: body.blockHash,
    signBytes: signingBytes('proposal', encode(ProposalBodySchema, body)),
  };
}

/**
 * A signer that persists through a store before it returns a signature: for code that signs directly (tools, the
 * crash test, a node without the engine). The engine itself uses `authorizeSign` and returns a persist effect.
 */
export class GuardedSigner {
  private last: SignState | null;
  private readonly keyPair: KeyPair;
  private readonly store: SignStateStore;
  readonly address: Uint8Array;

  constructor(opts: { keyPair: KeyPair }, deps: { store: SignStateStore }) {
    this.keyPair = opts.keyPair;
    this.store = deps.store;
    this.address = addressOf(opts.keyPair.publicKey);
    this.last = deps.store.load();
  }

  lastSigned(): SignState | null {
    return this.last;
  }

  /** Throws ConsensusError('SIGN_REFUSED') on a conflict or regression; nothing is persisted then. */
  signVote(body: VoteBody): Vote {
    const req = voteSignRequest(body);
    this.authorizeAndPersist(req);
    return { body, signature: sign(req.signBytes, this.keyPair) };
  }

  signProposal(body: ProposalBody): Proposal {
    const req = proposalSignRequest(body);
    this.authorizeAndPersist(req);
    return { body, signature: sign(req.signBytes, this.keyPair) };
  }

  private authorizeAndPersist(req: SignRequest): void {
    const d = authorizeSign(this.last, req);
    if (!d.ok) throw new ConsensusError('SIGN_REFUSED', d.message, { reason: d.code });
    if (!d.resign) {
      this.store.save(d.state);
      this.last = d.state;
    }
  }
}
