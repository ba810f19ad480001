// verifyCommit: what a light client relies on for finality; every way a certificate can be wrong is refused.
import { describe, test, expect } from 'vitest';
import { addressOf, type KeyPair } from '../../src/core/keys.js';
import { signVote, blockHash, VOTE_PRECOMMIT, VOTE_PREVOTE, type Block, type Commit } from '../../src/core/types.js';
import { ChainState } from '../../src/consensus/chain-state.js';
import { verifyCommit } from '../../src/consensus/verify-commit.js';
import { ValidatorSet } from '../../src/consensus/validator-set.js';
import { keysFor, genesisOf, blockFor, CHAIN } from './consensus-fixture.js';

const keys = keysFor(4, 'vc');
const powers = [40n, 30n, 20n, 10n];
const chain = ChainState.genesis(genesisOf(keys, powers));
const set = chain.validators;
const block = blockFor(chain, keys[0]!);

function sig(
  k: KeyPair,
  b: Block,
  over: { round?: number; type?: number; height?: bigint; chainId?: string; hash?: Uint8Array } = {},
) {
  const validator = addressOf(k.publicKey);
  const body = {
    chainId: over.chainId ?? CHAIN,
    type: over.type ?? VOTE_PRECOMMIT,
    height: over.height ?? b.header.height,
    round: over.round ?? 0,
    blockHash: over.hash ?? blockHash(b.header),
    validator,
  };
  return { validator, signature: signVote(body, k).signature };
}

function commit(signers: number[], over: Partial<Commit> = {}): Commit {
  return {
    height: 1n,
    round: 0,
    blockHash: blockHash(block.header),
    signatures: signers.map((i) => sig(keys[i]!, block)),
    ...over,
  };
}

describe('verifyCommit', () => {
  test('accepts > 2/3 of the power (71 of 100), from a block or from its header', () => {
    const r = verifyCommit(block, commit([0, 1, 3]), set, CHAIN);
    expect(r).toEqual({ ok: true, power: 80n, totalPower: 100n });
    expect(verifyCommit(block.header, commit([0, 1]), set, CHAIN).ok).toBe(true); // 70 > 66.6
  });

  const cases: [string, string, () => ReturnType<typeof verifyCommit>][] = [
    [
      'exactly 2/3 is not enough',
      'INSUFFICIENT_POWER',
      () =>
        verifyCommit(
          block,
          commit([1, 2, 3], {}),
          ValidatorSet.fromGenesis(keys.slice(1).map((k) => ({ publicKey: k.publicKey, power: 10n }))).applyUpdates([
            { publicKey: keys[0]!.publicKey, power: 15n },
          ]),
          CHAIN,
        ),
    ],
    ['less than 2/3', 'INSUFFICIENT_POWER', () => verifyCommit(block, commit([0, 2]), set, CHAIN)],
    ['wrong height', 'WRONG_HEIGHT', () => verifyCommit(block, commit([0, 1, 2], { height: 2n }), set, CHAIN)],
    [
      'another block',
      'WRONG_BLOCK',
      () => verifyCommit(block, commit([0, 1, 2], { blockHash: new Uint8Array(32) }), set, CHAIN),
    ],
    ['another chain', 'WRONG_BLOCK', () => verifyCommit(block, commit([0, 1, 2]), set, 'other-chain')],
    [
      'a validator outside the set',
      'UNKNOWN_VALIDATOR',
      () => {
        const outsider = keysFor(1, 'vc-outsider')[0]!;
        return verifyCommit(
          block,
          { ...commit([0, 1]), signatures: [...commit([0, 1]).signatures, sig(outsider, block)] },
          set,
          CHAIN,
        );
      },
    ],
    [
      'a validator twice',
      'DUPLICATE_VALIDATOR',
      () =>
        verifyCommit(
          block,
          { ...commit([0, 1]), signatures: [...commit([0, 1]).signatures, sig(keys[0]!, block)] },
          set,
          CHAIN,
        ),
    ],
    [
      'a forged signature',
      'BAD_SIGNATURE',
      () => {
        const c = commit([0, 1, 2]);
        return verifyCommit(
          block,
          { ...c, signatures: [c.signatures[0]!, { ...c.signatures[1]!, signature: c.signatures[2]!.signature }] },
          set,
          CHAIN,
        );
      },
    ],
    [
      'a prevote instead of a precommit',
      'BAD_SIGNATURE',
      () =>
        verifyCommit(
          block,
          { ...commit([]), signatures: [sig(keys[0]!, block, { type: VOTE_PREVOTE }), sig(keys[1]!, block)] },
          set,
          CHAIN,
        ),
    ],
    [
      'a precommit from another round',
      'BAD_SIGNATURE',
      () =>
        verifyCommit(
          block,
          { ...commit([]), signatures: [sig(keys[0]!, block, { round: 1 }), sig(keys[1]!, block)] },
          set,
          CHAIN,
        ),
    ],
    [
      'a precommit signed for another chain',
      'BAD_SIGNATURE',
      () =>
        verifyCommit(
          block,
          { ...commit([]), signatures: [sig(keys[0]!, block, { chainId: 'other-chain' }), sig(keys[1]!, block)] },
          set,
          CHAIN,
        ),
    ],
    [
      'a nil precommit',
      'BAD_SIGNATURE',
      () =>
        verifyCommit(
          block,
          { ...commit([]), signatures: [sig(keys[0]!, block, { hash: new Uint8Array(0) }), sig(keys[1]!, block)] },
          set,
          CHAIN,
        ),
    ],
  ];
  for (const [what, code, run] of cases) {
    test(`refuses ${what}`, () => {
      const r = run();
      expect(r.ok, what).toBe(false);
      if (!r.ok) expect(r.code, what).toBe(code);
    });
  }
});
