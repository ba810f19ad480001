// The driver: effects performed in order (sign state saved before the broadcast it protects), application answers
// fed back, a single validator commits on its own, and a state-root mismatch halts the node.
import { describe, test, expect } from 'vitest';
import { EMPTY_HASH, sha256 } from '../../src/core/hash.js';
import { u64be, utf8 } from '../../src/core/bytes.js';
import type { Block, Commit } from '../../src/core/types.js';
import { ChainState } from '../../src/consensus/chain-state.js';
import { ConsensusEngine } from '../../src/consensus/engine.js';
import { ConsensusDriver } from '../../src/consensus/driver.js';
import { assembleBlock, type Application, type PrepareProposalRequest } from '../../src/consensus/app.js';
import { MemorySignStateStore, type SignState } from '../../src/consensus/signer-guard.js';
import { verifyCommit } from '../../src/consensus/verify-commit.js';
import type { ConsensusMessage } from '../../src/consensus/messages.js';
import { keysFor, genesisOf, unitParams, T0 } from './consensus-fixture.js';

/** State root = sha256(height): deterministic, and `lie` makes finalizeBlock disagree with the header. */
class CountingApp implements Application {
  committed: { block: Block; commit: Commit }[] = [];
  lie = false;
  prepareProposal(req: PrepareProposalRequest): Block {
    return assembleBlock(req, {
      txs: [utf8(`tx-${req.height}`)],
      stateRoot: sha256(u64be(req.height)),
      resultsRoot: EMPTY_HASH,
      gasUsed: 0n,
    });
  }
  processProposal(block: Block) {
    return sha256(u64be(block.header.height)).every((b, i) => b === block.header.stateRoot[i])
      ? { valid: true as const }
      : { valid: false as const, reason: 'root' };
  }
  finalizeBlock(block: Block, commit: Commit) {
    this.committed.push({ block, commit });
    return { stateRoot: this.lie ? EMPTY_HASH : sha256(u64be(block.header.height)), validatorUpdates: [] };
  }
}

function singleValidator() {
  const keys = keysFor(1, 'driver');
  const chain = ChainState.genesis(genesisOf(keys, [5n]));
  const engine = new ConsensusEngine({ params: unitParams(), keyPair: keys[0]! }, { chain, signState: null });
  const app = new CountingApp();
  const log: string[] = [];
  const timers: { at: bigint; fire: () => void }[] = [];
  let now = T0 + 10n;
  const store = new MemorySignStateStore();
  const signStore = {
    load: () => store.load(),
    save: (s: SignState) => {
      log.push(`save ${s.height}/${s.round}/${s.step}`);
      store.save(s);
    },
  };
  const driver = new ConsensusDriver({
    engine,
    app,
    signStore,
    network: { broadcast: (m: ConsensusMessage) => log.push(`send ${m.kind}`) },
    timers: { schedule: (ms, fire) => timers.push({ at: now + BigInt(ms), fire }) },
    clock: { nowMs: () => now },
  });
  const runUntilHeight = (h: bigint) => {
    for (let i = 0; i < 10_000 && engine.height < h; i++) {
      timers.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
      const t = timers.shift();
      if (t === undefined) break;
      now = t.at > now ? t.at : now;
      t.fire();
    }
  };
  return { keys, chain, engine, app, log, driver, runUntilHeight };
}

describe('ConsensusDriver', () => {
  test('a single validator commits heights on its own, with verifiable commits and increasing block times', () => {
    const s = singleValidator();
    s.driver.start();
    s.runUntilHeight(6n);
    expect(s.app.committed.map((c) => c.block.header.height)).toEqual([1n, 2n, 3n, 4n, 5n]);
    let prevTime = 0n;
    for (const [i, { block, commit }] of s.app.committed.entries()) {
      expect(block.header.timeMs > prevTime, `block ${i + 1} time`).toBe(true);
      prevTime = block.header.timeMs;
      expect(block.lastCommit === null, `block ${i + 1} lastCommit`).toBe(i === 0);
      const set = ChainState.genesis(genesisOf(s.keys, [5n])).validators;
      expect(verifyCommit(block, commit, set, s.chain.chainId).ok).toBe(true);
    }
  });

  test('every signature is saved before the broadcast that carries it', () => {
    const s = singleValidator();
    s.driver.start();
    s.runUntilHeight(3n);
    const sends = s.log.map((l, i) => [l, i] as const).filter(([l]) => l === 'send vote' || l === 'send proposal');
    expect(sends.length).toBeGreaterThan(0);
    for (const [, i] of sends)
      expect(s.log[i - 1]!.startsWith('save '), `before entry ${i}: ${s.log[i - 1]}`).toBe(true);
  });

  test('a state root that differs from the header halts the driver; nothing is signed afterwards', () => {
    const s = singleValidator();
    s.app.lie = true;
    expect(() => s.driver.start()).toThrow(/state root/);
    expect(s.driver.haltError?.message).toMatch(/state root/);
    const logged = s.log.length;
    s.driver.input({ type: 'gossipTick' });
    s.runUntilHeight(3n);
    expect(s.log.length).toBe(logged);
    expect(s.engine.height).toBe(1n);
  });
});
