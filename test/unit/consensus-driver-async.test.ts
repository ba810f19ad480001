// The driver with an asynchronous finalizeBlock (the node's database batch): it pauses until the promise settles —
// no later effect of the batch and no queued input is performed before — and a rejection halts it.
import { describe, test, expect } from 'vitest';
import { EMPTY_HASH, sha256 } from '../../src/core/hash.js';
import { u64be } from '../../src/core/bytes.js';
import type { Block, Commit } from '../../src/core/types.js';
import { ChainState } from '../../src/consensus/chain-state.js';
import { ConsensusEngine, type EngineEffect, type EngineInput } from '../../src/consensus/engine.js';
import { ConsensusDriver } from '../../src/consensus/driver.js';
import {
  assembleBlock,
  type Application,
  type FinalizeBlockResult,
  type PrepareProposalRequest,
} from '../../src/consensus/app.js';
import { MemorySignStateStore } from '../../src/consensus/signer-guard.js';
import { verifyCommit } from '../../src/consensus/verify-commit.js';
import type { ConsensusMessage } from '../../src/consensus/messages.js';
import { keysFor, genesisOf, unitParams, blockFor, T0 } from './consensus-fixture.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: Error): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

const rootOf = (h: bigint) => sha256(u64be(h));

/** An application whose finalizeBlock returns a promise the test settles by hand. */
class AsyncApp implements Application {
  pending: Deferred<FinalizeBlockResult>[] = [];
  finalized: bigint[] = [];
  prepareProposal(req: PrepareProposalRequest): Block {
    return assembleBlock(req, { txs: [], stateRoot: rootOf(req.height), resultsRoot: EMPTY_HASH, gasUsed: 0n });
  }
  processProposal() {
    return { valid: true as const };
  }
  finalizeBlock(block: Block): Promise<FinalizeBlockResult> {
    const d = deferred<FinalizeBlockResult>();
    this.pending.push(d);
    this.finalized.push(block.header.height);
    return d.promise;
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));

/** An engine stand-in that returns scripted effects and records the inputs it is given. */
function scriptedEngine(startEffects: EngineEffect[]) {
  const inputs: EngineInput['type'][] = [];
  const engine = {
    start: () => startEffects,
    step: (i: EngineInput) => {
      inputs.push(i.type);
      return [];
    },
  };
  return { engine: engine as unknown as ConsensusEngine, inputs };
}

function decideEffect(): Extract<EngineEffect, { type: 'decide' }> {
  const keys = keysFor(1, 'async');
  const chain = ChainState.genesis(genesisOf(keys, [5n]));
  const block = blockFor(chain, keys[0]!);
  const commit: Commit = { height: 1n, round: 0, blockHash: new Uint8Array(32), signatures: [] };
  return { type: 'decide', height: 1n, round: 0, block, commit, misbehaviour: [] };
}

describe('ConsensusDriver with an asynchronous finalizeBlock', () => {
  test('nothing after decide is performed before the promise resolves; then the rest of the batch, finalized, queued inputs, in order', async () => {
    const decide = decideEffect();
    const log: string[] = [];
    const { engine, inputs } = scriptedEngine([
      decide,
      { type: 'broadcastEvidence', evidence: { voteA: null, voteB: null } as never },
      { type: 'scheduleTimeout', height: 2n, round: 0, step: 'commit', durationMs: 10 },
    ]);
    const d = deferred<FinalizeBlockResult>();
    const app: Application = {
      prepareProposal: () => {
        throw new Error('unused');
      },
      processProposal: () => ({ valid: true }),
      finalizeBlock: () => {
        log.push('finalize');
        return d.promise;
      },
    };
    const driver = new ConsensusDriver({
      engine,
      app,
      signStore: new MemorySignStateStore(),
      network: { broadcast: (m: ConsensusMessage) => log.push(`send ${m.kind}`) },
      timers: { schedule: (_ms, _fire, info) => log.push(`timer ${info.step}`) },
      clock: { nowMs: () => T0 },
      onCommitted: (b) => log.push(`committed ${b.header.height}`),
    });
    driver.start();
    driver.input({ type: 'gossipTick' });
    await flush();
    expect(log, 'paused at decide').toEqual(['finalize']);
    expect(inputs, 'queued inputs wait').toEqual([]);
    expect(driver.finalizing).toBe(true);

    d.resolve({ stateRoot: decide.block.header.stateRoot, validatorUpdates: [] });
    await flush();
    expect(log).toEqual(['finalize', 'committed 1', 'send evidence', 'timer commit']);
    expect(inputs, 'gossipTick was queued first, finalized after the decide').toEqual(['gossipTick', 'finalized']);
    expect(driver.finalizing).toBe(false);
    expect(driver.haltError).toBe(null);
  });

  test('a rejected finalize halts the driver: the rest of the batch is dropped and later inputs are ignored', async () => {
    const { engine, inputs } = scriptedEngine([
      decideEffect(),
      { type: 'scheduleTimeout', height: 2n, round: 0, step: 'commit', durationMs: 10 },
    ]);
    const halts: Error[] = [];
    const timers: string[] = [];
    const d = deferred<FinalizeBlockResult>();
    const driver = new ConsensusDriver({
      engine,
      app: {
        prepareProposal: () => {
          throw new Error('unused');
        },
        processProposal: () => ({ valid: true }),
        finalizeBlock: () => d.promise,
      },
      signStore: new MemorySignStateStore(),
      network: { broadcast: () => undefined },
      timers: { schedule: (_ms, _f, info) => timers.push(info.step) },
      clock: { nowMs: () => T0 },
      onHalt: (e) => halts.push(e),
    });
    driver.start();
    driver.input({ type: 'gossipTick' });
    d.reject(new Error('disk full'));
    await flush();
    expect(driver.haltError?.message).toBe('disk full');
    expect(halts.map((e) => e.message)).toEqual(['disk full']);
    driver.input({ type: 'gossipTick' });
    expect(timers).toEqual([]);
    expect(inputs).toEqual([]);
  });

  test('a state root that differs from the header after an async finalize halts the driver', async () => {
    const { engine, inputs } = scriptedEngine([decideEffect()]);
    const halts: Error[] = [];
    const driver = new ConsensusDriver({
      engine,
      app: {
        prepareProposal: () => {
          throw new Error('unused');
        },
        processProposal: () => ({ valid: true }),
        finalizeBlock: async () => ({ stateRoot: rootOf(999n), validatorUpdates: [] }),
      },
      signStore: new MemorySignStateStore(),
      network: { broadcast: () => undefined },
      timers: { schedule: () => undefined },
      clock: { nowMs: () => T0 },
      onHalt: (e) => halts.push(e),
    });
    driver.start();
    await flush();
    expect(driver.haltError?.message).toMatch(/state root/);
    expect(halts.length).toBe(1);
    expect(inputs).toEqual([]);
  });

  test('the real engine commits heights through an async application, one at a time, with verifiable commits', async () => {
    const keys = keysFor(1, 'async-real');
    const chain = ChainState.genesis(genesisOf(keys, [5n]));
    const engine = new ConsensusEngine({ params: unitParams(), keyPair: keys[0]! }, { chain, signState: null });
    const app = new AsyncApp();
    const timers: (() => void)[] = [];
    const commits: { block: Block; commit: Commit }[] = [];
    const driver = new ConsensusDriver({
      engine,
      app,
      signStore: new MemorySignStateStore(),
      network: { broadcast: () => undefined },
      timers: { schedule: (_ms, fire) => timers.push(fire) },
      clock: { nowMs: () => T0 + 10n + engine.height },
      onCommitted: (block, commit) => commits.push({ block, commit }),
    });
    driver.start();
    for (let h = 1n; h <= 4n; h++) {
      for (let i = 0; i < 20 && app.pending.length === 0; i++) timers.shift()?.();
      expect(app.pending.length, `height ${h} decided`).toBe(1);
      expect(engine.height, 'the engine waits for the commit').toBe(h);
      // While the write is in flight, timers firing change nothing.
      for (const f of timers.splice(0)) f();
      expect(app.pending.length).toBe(1);
      app.pending.shift()!.resolve({ stateRoot: rootOf(h), validatorUpdates: [] });
      await flush();
      expect(engine.height).toBe(h + 1n);
    }
    expect(app.finalized).toEqual([1n, 2n, 3n, 4n]);
    const set = ChainState.genesis(genesisOf(keys, [5n])).validators;
    for (const { block, commit } of commits) expect(verifyCommit(block, commit, set, chain.chainId).ok).toBe(true);
  });
});
