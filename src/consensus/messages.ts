// Consensus messages on the wire: one canonical schema for proposals (with their block), votes and evidence.
import { struct, u8, optional, encode, decode } from '../core/codec.js';
import {
  ProposalSchema,
  VoteSchema,
  BlockSchema,
  DuplicateVoteEvidenceSchema,
  type Proposal,
  type Vote,
  type Block,
  type DuplicateVoteEvidence,
} from '../core/types.js';
import { MAX_BLOCK_BYTES, MAX_CONSENSUS_MSG_BYTES } from '../core/constants.js';
import { CodecError } from '../core/errors.js';

export type ConsensusMessage =
  | { kind: 'proposal'; proposal: Proposal; block: Block }
  | { kind: 'vote'; vote: Vote }
  | { kind: 'evidence'; evidence: DuplicateVoteEvidence };

const KIND_PROPOSAL = 1;
const KIND_VOTE = 2;
const KIND_EVIDENCE = 3;

const ConsensusMessageSchema = struct('ConsensusMessage', [
  ['kind', u8],
  ['proposal', optional(ProposalSchema)],
  ['block', optional(BlockSchema)],
  ['vote', optional(VoteSchema)],
  ['evidence', optional(DuplicateVoteEvidenceSchema)],
] as const);

/** Largest encoded consensus message: a proposal carries a whole block. */
export const MAX_CONSENSUS_MESSAGE_BYTES = MAX_BLOCK_BYTES + MAX_CONSENSUS_MSG_BYTES;

export function encodeConsensusMessage(m: ConsensusMessage): Uint8Array {
  switch (m.kind) {
    case 'proposal':
      return encode(ConsensusMessageSchema, {
        kind: KIND_PROPOSAL,
        proposal: m.proposal,
        block: m.block,
        vote: null,
        evidence: null,
      });
    case 'vote':
      return encode(ConsensusMessageSchema, {
        kind: KIND_VOTE,
        proposal: null,
        block: null,
        vote: m.vote,
        evidence: null,
      });
    case 'evidence':
      return encode(ConsensusMessageSchema, {
        kind: KIND_EVIDENCE,
        proposal: null,
        block: null,
        vote: null,
        evidence: m.evidence,
      });
  }
}

/** Decodes and checks that exactly the fields of the message's kind are present; throws CodecError otherwise. */
export function decodeConsensusMessage(bytes: Uint8Array): ConsensusMessage {
  const raw = decode(ConsensusMessageSchema, bytes, MAX_CONSENSUS_MESSAGE_BYTES);
  const bad = (): never => {
    throw new CodecError('WRONG_TYPE', 'ConsensusMessage', `fields do not match kind ${raw.kind}`);
  };
  switch (raw.kind) {
    case KIND_PROPOSAL:
      if (raw.proposal === null || raw.block === null || raw.vote !== null || raw.evidence !== null) return bad();
      return { kind: 'proposal', proposal: raw.proposal, block: raw.block };
    case KIND_VOTE:
      if (raw.vote === null || raw.proposal !== null || raw.block !== null || raw.evidence !== null) return bad();
      return { kind: 'vote', vote: raw.vote };
    case KIND_EVIDENCE:
      if (raw.evidence === null || raw.proposal !== null || raw.block !== null || raw.vote !== null) return bad();
      return { kind: 'evidence', evidence: raw.evidence };
    default:
      throw new CodecError('OUT_OF_RANGE', 'ConsensusMessage.kind', `unknown kind ${raw.kind}`);
  }
}

/** The height a message is about (a driver compares it with its own to notice that it fell behind). */
export function messageHeight(m: ConsensusMessage): bigint {
  switch (m.kind) {
    case 'proposal':
      return m.proposal.body.height;
    case 'vote':
      return m.vote.body.height;
    case 'evidence':
      return m.evidence.voteA.body.height;
  }
}
