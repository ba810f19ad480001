// Codec properties for the wire types: round trips, and mutated bytes either fail to decode or are canonical.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { encode, decode, type Schema } from '../../src/core/codec.js';
import { CodecError } from '../../src/core/errors.js';
import { toHex } from '../../src/core/bytes.js';
import { keyPairFromLabel, addressOf } from '../../src/core/keys.js';
import {
  CHAIN_ID_PATTERN,
  NAME_PATTERN,
  MAX_TX_BYTES,
  MAX_BLOCK_BYTES,
  MAX_CONSENSUS_MSG_BYTES,
} from '../../src/core/constants.js';
import {
  TxSchema,
  BlockSchema,
  VoteSchema,
  CommitSchema,
  signTx,
  signVote,
  verifyTxSignature,
  verifyVoteSignature,
  encodeTx,
  decodeTx,
  encodeBlock,
  decodeBlock,
  encodeVote,
  decodeVote,
  encodeCommit,
  decodeCommit,
  type Tx,
  type Vote,
  type Commit,
  type Block,
  type TxBody,
  type VoteBody,
} from '../../src/core/types.js';

const U64_MAX = (1n << 64n) - 1n;
const bytesN = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });
const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: U64_MAX }),
  fc.constantFrom(0n, 1n, 127n, 128n, 255n, 256n, 65_535n, 2n ** 32n, U64_MAX),
);
const u32 = fc.oneof(fc.nat({ max: 0xffff_ffff }), fc.constantFrom(0, 127, 128, 255, 256, 65_535, 65_536, 0xffff_ffff));
const chainId = fc.stringMatching(CHAIN_ID_PATTERN);
const name = fc.stringMatching(NAME_PATTERN);
const kp = keyPairFromLabel('codec-property');

const txBody: fc.Arbitrary<TxBody> = fc.record({
  chainId,
  sender: fc.constant(kp.publicKey),
  nonce: u64,
  gasLimit: u64,
  module: name,
  op: name,
  args: fc.uint8Array({ maxLength: 200 }),
});
const tx: fc.Arbitrary<Tx> = txBody.map((b) => signTx(b, kp));

const voteBody: fc.Arbitrary<VoteBody> = fc.record({
  chainId,
  type: fc.constantFrom(1, 2),
  height: u64,
  round: u32,
  blockHash: fc.oneof(bytesN(32), fc.constant(new Uint8Array(0))),
  validator: fc.constant(addressOf(kp.publicKey)),
});
const vote: fc.Arbitrary<Vote> = voteBody.map((b) => signVote(b, kp));

const commit: fc.Arbitrary<Commit> = fc.record({
  height: u64,
  round: u32,
  blockHash: bytesN(32),
  signatures: fc.array(fc.record({ validator: bytesN(20), signature: bytesN(64) }), { maxLength: 5 }),
});

const block: fc.Arbitrary<Block> = fc.record({
  header: fc.record({
    chainId,
    height: u64,
    timeMs: u64,
    prevHash: bytesN(32),
    txRoot: bytesN(32),
    stateRoot: bytesN(32),
    resultsRoot: bytesN(32),
    validatorsHash: bytesN(32),
    nextValidatorsHash: bytesN(32),
    lastCommitHash: bytesN(32),
    evidenceRoot: bytesN(32),
    proposer: bytesN(20),
    gasUsed: u64,
  }),
  txs: fc.array(tx.map(encodeTx), { maxLength: 4 }),
  evidence: fc.array(fc.record({ voteA: vote, voteB: vote }), { maxLength: 2 }),
  lastCommit: fc.option(commit, { nil: null }),
});

/** One mutation of a byte string: flip a bit, set a byte, insert, delete, truncate or append. */
const mutation = fc.tuple(
  fc.nat(),
  fc.nat({ max: 255 }),
  fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate', 'append'),
);
function mutate(b: Uint8Array, [pos, byte, kind]: [number, number, string]): Uint8Array {
  const i = b.length === 0 ? 0 : pos % b.length;
  const a = [...b];
  switch (kind) {
    case 'flip':
      a[i] = a[i]! ^ (1 << (byte % 8));
      break;
    case 'set':
      a[i] = byte;
      break;
    case 'insert':
      a.splice(i, 0, byte);
      break;
    case 'delete':
      a.splice(i, 1);
      break;
    case 'truncate':
      a.length = i;
      break;
    default:
      a.push(byte);
  }
  return new Uint8Array(a);
}

interface Case<T> {
  name: string;
  arb: fc.Arbitrary<T>;
  schema: Schema<T>;
  enc: (v: T) => Uint8Array;
  dec: (b: Uint8Array) => T;
  max: number;
  /** For signed types: does the decoded value still carry a valid signature? */
  signed?: (v: T) => boolean;
}

const cases: Case<never>[] = [
  { name: 'Tx', arb: tx, schema: TxSchema, enc: encodeTx, dec: decodeTx, max: MAX_TX_BYTES, signed: verifyTxSignature },
  {
    name: 'Vote',
    arb: vote,
    schema: VoteSchema,
    enc: encodeVote,
    dec: decodeVote,
    max: MAX_CONSENSUS_MSG_BYTES,
    signed: (v: Vote) => verifyVoteSignature(v, kp.publicKey),
  },
  { name: 'Commit', arb: commit, schema: CommitSchema, enc: encodeCommit, dec: decodeCommit, max: 1 << 20 },
  { name: 'Block', arb: block, schema: BlockSchema, enc: encodeBlock, dec: decodeBlock, max: MAX_BLOCK_BYTES },
] as unknown as Case<never>[];

describe('wire codec properties', () => {
  for (const c of cases as unknown as Case<unknown>[]) {
    it(`${c.name}: decode(encode(x)) re-encodes to the same bytes`, () => {
      fc.assert(
        fc.property(c.arb, (x) => {
          const b = c.enc(x);
          const y = c.dec(b);
          expect(toHex(c.enc(y))).toBe(toHex(b));
          expect(toHex(encode(c.schema, y))).toBe(toHex(b));
          expect(y).toEqual(x);
          if (c.signed) expect(c.signed(y)).toBe(true);
        }),
        { numRuns: 150 },
      );
    });

    it(`${c.name}: mutated bytes fail to decode with a CodecError, or decode to a value that re-encodes to exactly them`, () => {
      fc.assert(
        fc.property(c.arb, mutation, (x, m) => {
          const original = c.enc(x);
          const bad = mutate(original, m);
          let decoded: unknown;
          try {
            decoded = decode(c.schema, bad, c.max);
          } catch (e) {
            expect(e).toBeInstanceOf(CodecError);
            return;
          }
          // Canonicality: accepted bytes are the one encoding of what they decode to.
          expect(toHex(c.enc(decoded))).toBe(toHex(bad));
          // A changed signed message never keeps a valid signature.
          if (c.signed && toHex(bad) !== toHex(original)) expect(c.signed(decoded)).toBe(false);
        }),
        { numRuns: 300 },
      );
    });
  }
});
