// Validator-set changes take effect at H + 2, and the header's validatorsHash / nextValidatorsHash follow them.
import { describe, test, expect } from 'vitest';
import { addressOf } from '../../src/core/keys.js';
import { blockHash } from '../../src/core/types.js';
import { ChainState } from '../../src/consensus/chain-state.js';
import { keysFor, genesisOf, blockFor, unitParams } from './consensus-fixture.js';

const dummyCommit = (height: bigint) => ({ height, round: 0, blockHash: new Uint8Array(32), signatures: [] });

describe('validator set changes at H + 2', () => {
  test('an update returned by block 1 is absent at height 2 and present from height 3', () => {
    const keys = keysFor(4, 'cs');
    const chain = ChainState.genesis(genesisOf(keys.slice(0, 3), [10n, 10n, 10n]));
    const newcomer = addressOf(keys[3]!.publicKey);
    const b1 = blockFor(chain, keys[0]!);
    chain.advance(b1, dummyCommit(1n), [{ publicKey: keys[3]!.publicKey, power: 5n }], unitParams().evidence);
    expect(chain.height).toBe(2n);
    expect(chain.validators.has(newcomer)).toBe(false);
    expect(chain.nextValidators.has(newcomer)).toBe(true);
    const b2 = blockFor(chain, keys[0]!);
    expect(b2.header.validatorsHash).toEqual(chain.validators.hash());
    expect(b2.header.nextValidatorsHash).toEqual(chain.nextValidators.hash());
    expect(b2.header.nextValidatorsHash).not.toEqual(b2.header.validatorsHash);
    chain.advance(b2, dummyCommit(2n), [], unitParams().evidence);
    expect(chain.height).toBe(3n);
    expect(chain.validators.has(newcomer)).toBe(true);
    expect(chain.validators.totalPower).toBe(35n);
    // History keeps what each committed height had, for judging evidence later.
    expect(chain.setAt(1n)?.has(newcomer)).toBe(false);
    expect(chain.setAt(2n)?.has(newcomer)).toBe(false);
    expect(chain.setAt(3n)?.has(newcomer)).toBe(true);
  });

  test('a removal (power 0) from block 1 still lets the validator vote at height 2, not at 3', () => {
    const keys = keysFor(4, 'cs');
    const chain = ChainState.genesis(genesisOf(keys, [10n, 10n, 10n, 10n]));
    const leaver = addressOf(keys[3]!.publicKey);
    chain.advance(
      blockFor(chain, keys[0]!),
      dummyCommit(1n),
      [{ publicKey: keys[3]!.publicKey, power: 0n }],
      unitParams().evidence,
    );
    expect(chain.validators.has(leaver)).toBe(true);
    chain.advance(blockFor(chain, keys[0]!), dummyCommit(2n), [], unitParams().evidence);
    expect(chain.validators.has(leaver)).toBe(false);
  });

  test('lastBlockHash, lastBlockTimeMs, lastCommit and lastValidators follow each committed block', () => {
    const keys = keysFor(3, 'cs');
    const chain = ChainState.genesis(genesisOf(keys, [1n, 1n, 1n]));
    expect(chain.lastCommit).toBeNull();
    const b1 = blockFor(chain, keys[0]!);
    const set1 = chain.validators;
    chain.advance(b1, dummyCommit(1n), [], unitParams().evidence);
    expect(chain.lastBlockHash).toEqual(blockHash(b1.header));
    expect(chain.lastBlockTimeMs).toBe(b1.header.timeMs);
    expect(chain.lastValidators).toBe(set1);
    expect(chain.timeAt(1n)).toBe(b1.header.timeMs);
    expect(() => chain.advance(b1, dummyCommit(1n), [], unitParams().evidence)).toThrow(/height/);
  });

  test('history is pruned only when a height is older than both evidence age bounds', () => {
    const keys = keysFor(3, 'cs');
    const chain = ChainState.genesis(genesisOf(keys, [1n, 1n, 1n]));
    const p = { ...unitParams().evidence, maxAgeHeights: 3n, maxAgeMs: 10_000n };
    for (let i = 0; i < 8; i++)
      chain.advance(
        blockFor(chain, keys[0]!, { timeMs: chain.lastBlockTimeMs + 1000n }),
        dummyCommit(chain.height),
        [],
        p,
      );
    // 8 heights, 1 s apart: none is older than 10 s, so all stay although most are older than 3 heights.
    expect(chain.timeAt(1n)).toBeDefined();
    for (let i = 0; i < 8; i++)
      chain.advance(
        blockFor(chain, keys[0]!, { timeMs: chain.lastBlockTimeMs + 5000n }),
        dummyCommit(chain.height),
        [],
        p,
      );
    expect(chain.timeAt(1n)).toBeUndefined();
    expect(chain.setAt(1n)).toBeUndefined();
    expect(chain.timeAt(chain.height - 1n)).toBeDefined();
  });
});
