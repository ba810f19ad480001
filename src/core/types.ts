// Wire types: tx, block header, block, vote, proposal, commit and evidence, each one schema (see docs/formats.md).
import { struct, bytes, str, u8, u32, u64, list, optional, encode, decode, type Infer } from './codec.js';
import { sha256, merkleRoot } from './hash.js';
import {
  sign,
  verify,
  signingBytes,
  addressOf,
  type KeyPair,
  ADDRESS_BYTES,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
} from './keys.js';
import {
  MAX_TX_BYTES,
  MAX_TX_ARGS_BYTES,
  MAX_BLOCK_TXS,
  MAX_BLOCK_BYTES,
  MAX_EVIDENCE_PER_BLOCK,
  MAX_VALIDATORS,
  MAX_CONSENSUS_MSG_BYTES,
  CHAIN_ID_PATTERN,
  NAME_PATTERN,
} from './constants.js';

const chainId = str({ max: 48, pattern: CHAIN_ID_PATTERN });
const hash32 = bytes({ exact: 32 });
const address = bytes({ exact: ADDRESS_BYTES });
const publicKey = bytes({ exact: PUBLIC_KEY_BYTES });
const signature = bytes({ exact: SIGNATURE_BYTES });
const name = str({ max: 32, pattern: NAME_PATTERN });

// ---- transactions ----

export const TxBodySchema = struct('TxBody', [
  ['chainId', chainId],
  ['sender', publicKey],
  ['nonce', u64],
  ['gasLimit', u64],
  ['module', name],
  ['op', name],
  ['args', bytes({ max: MAX_TX_ARGS_BYTES })],
] as const);
export type TxBody = Infer<typeof TxBodySchema>;

export const TxSchema = struct('Tx', [
  ['body', TxBodySchema],
  ['signature', signature],
] as const);
export type Tx = Infer<typeof TxSchema>;

export function encodeTx(tx: Tx): Uint8Array {
  return encode(TxSchema, tx);
}

export function decodeTx(b: Uint8Array): Tx {
  return decode(TxSchema, b, MAX_TX_BYTES);
}

export function txHash(encodedTx: Uint8Array): Uint8Array {
  return sha256(encodedTx);
}

export function signTx(body: TxBody, kp: KeyPair): Tx {
  return { body, signature: sign(signingBytes('tx', encode(TxBodySchema, body)), kp) };
}

/** Checks the signature against the sender key in the body. The chain id is part of the signed bytes. */
export function verifyTxSignature(tx: Tx): boolean {
  return verify(signingBytes('tx', encode(TxBodySchema, tx.body)), tx.signature, tx.body.sender);
}

// ---- votes and proposals ----

export const VOTE_PREVOTE = 1;
export const VOTE_PRECOMMIT = 2;

/** blockHash is empty for a nil vote. */
export const VoteBodySchema = struct('VoteBody', [
  ['chainId', chainId],
  ['type', u8],
  ['height', u64],
  ['round', u32],
  ['blockHash', bytes({ max: 32 })],
  ['validator', address],
] as const);
export type VoteBody = Infer<typeof VoteBodySchema>;

export const VoteSchema = struct('Vote', [
  ['body', VoteBodySchema],
  ['signature', signature],
] as const);
export type Vote = Infer<typeof VoteSchema>;

export function signVote(body: VoteBody, kp: KeyPair): Vote {
  return { body, signature: sign(signingBytes('vote', encode(VoteBodySchema, body)), kp) };
}

export function verifyVoteSignature(vote: Vote, validatorKey: Uint8Array): boolean {
  return verify(signingBytes('vote', encode(VoteBodySchema, vote.body)), vote.signature, validatorKey);
}

export function encodeVote(v: Vote): Uint8Array {
  return encode(VoteSchema, v);
}

export function decodeVote(b: Uint8Array): Vote {
  return decode(VoteSchema, b, MAX_CONSENSUS_MSG_BYTES);
}

/** polRound is -1 encoded as null: no proof-of-lock round. */
export const ProposalBodySchema = struct('ProposalBody', [
  ['chainId', chainId],
  ['height', u64],
  ['round', u32],
  ['polRound', optional(u32)],
  ['blockHash', hash32],
  ['proposer', address],
] as const);
export type ProposalBody = Infer<typeof ProposalBodySchema>;

export const ProposalSchema = struct('Proposal', [
  ['body', ProposalBodySchema],
  ['signature', signature],
] as const);
export type Proposal = Infer<typeof ProposalSchema>;

export function signProposal(body: ProposalBody, kp: KeyPair): Proposal {
  return { body, signature: sign(signingBytes('proposal', encode(ProposalBodySchema, body)), kp) };
}

export function verifyProposalSignature(p: Proposal, proposerKey: Uint8Array): boolean {
  return verify(signingBytes('proposal', encode(ProposalBodySchema, p.body)), p.signature, proposerKey);
}

// ---- commits and evidence ----

export const CommitSigSchema = struct('CommitSig', [
  ['validator', address],
  ['signature', signature],
] as const);
export type CommitSig = Infer<typeof CommitSigSchema>;

/** > 2/3 of the power's precommits for one block in one round; each signature is over the precommit VoteBody. */
export const CommitSchema = struct('Commit', [
  ['height', u64],
  ['round', u32],
  ['blockHash', hash32],
  ['signatures', list(CommitSigSchema, { max: MAX_VALIDATORS })],
] as const);
export type Commit = Infer<typeof CommitSchema>;

export function encodeCommit(c: Commit): Uint8Array {
  return encode(CommitSchema, c);
}

export function decodeCommit(b: Uint8Array): Commit {
  return decode(CommitSchema, b, MAX_VALIDATORS * 128 + 128);
}

/** Two votes by one validator for the same height, round and type but different blocks. */
export const DuplicateVoteEvidenceSchema = struct('DuplicateVoteEvidence', [
  ['voteA', VoteSchema],
  ['voteB', VoteSchema],
] as const);
export type DuplicateVoteEvidence = Infer<typeof DuplicateVoteEvidenceSchema>;

export function evidenceHash(ev: DuplicateVoteEvidence): Uint8Array {
  return sha256(encode(DuplicateVoteEvidenceSchema, ev));
}

// ---- blocks ----

export const HeaderSchema = struct('Header', [
  ['chainId', chainId],
  ['height', u64],
  ['timeMs', u64],
  ['prevHash', hash32],
  ['txRoot', hash32],
  ['stateRoot', hash32],
  ['resultsRoot', hash32],
  ['validatorsHash', hash32],
  ['nextValidatorsHash', hash32],
  ['lastCommitHash', hash32],
  ['evidenceRoot', hash32],
  ['proposer', address],
  ['gasUsed', u64],
] as const);
export type Header = Infer<typeof HeaderSchema>;

export const BlockSchema = struct('Block', [
  ['header', HeaderSchema],
  ['txs', list(bytes({ max: MAX_TX_BYTES }), { max: MAX_BLOCK_TXS })],
  ['evidence', list(DuplicateVoteEvidenceSchema, { max: MAX_EVIDENCE_PER_BLOCK })],
  ['lastCommit', optional(CommitSchema)],
] as const);
export type Block = Infer<typeof BlockSchema>;

export function encodeHeader(h: Header): Uint8Array {
  return encode(HeaderSchema, h);
}

export function blockHash(h: Header): Uint8Array {
  return sha256(encodeHeader(h));
}

export function encodeBlock(b: Block): Uint8Array {
  return encode(BlockSchema, b);
}

export function decodeBlock(b: Uint8Array): Block {
  return decode(BlockSchema, b, MAX_BLOCK_BYTES);
}

/** Root of the block's tx hashes, in block order. */
export function txRootOf(txs: readonly Uint8Array[]): Uint8Array {
  return merkleRoot(txs.map((t) => txHash(t)));
}

export function evidenceRootOf(evidence: readonly DuplicateVoteEvidence[]): Uint8Array {
  return merkleRoot(evidence.map(evidenceHash));
}

export function commitHashOf(c: Commit | null): Uint8Array {
  return c === null ? new Uint8Array(32) : sha256(encodeCommit(c));
}

export { addressOf };
