// A restarted BFT node restores the engine's chain state from the snapshot stored with its blocks (replaying
// nothing, or only the blocks after the snapshot), equals a full replay, and keeps committing verifiable blocks;
// a database without a snapshot (an older node's) falls back to the full replay and says so.
import { describe, it, expect, afterAll } from 'vitest';
import { join } from 'node:path';
import { pino } from 'pino';
import { verifyCommit } from '../../src/consensus/verify-commit.js';
import { ValidatorSet } from '../../src/consensus/validator-set.js';
import { encodeChainStateSnapshot, decodeChainStateSnapshot } from '../../src/consensus/chain-state.js';
import { Node, loadNodeOptions } from '../../src/node/node.js';
import { BftProducer, consensusParamsOf, replayChainState, snapshotIntervalOf } from '../../src/node/bft-producer.js';
import { ChainApp } from '../../src/node/app.js';
import { ChainStore } from '../../src/state/store.js';
import { createVm } from '../../src/vm/registry.js';
import { makeHome, K, CHAIN_ID } from './node-helpers.js';

const validators = ValidatorSet.fromGenesis([{ publicKey: K.validator.publicKey, power: 1_000_000n }]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const homes: { cleanup(): void }[] = [];
afterAll(() => {
  for (const h of homes) h.cleanup();
});

interface Run {
  node: Node;
  producer: () => BftProducer;
  logs: Record<string, unknown>[];
}

/** A node on the BFT engine making empty blocks quickly, with its log lines captured as JSON. */
async function startNode(home: string, snapshotIntervalHeights: number | null): Promise<Run> {
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const opts = loadNodeOptions(home);
  let producer: BftProducer | null = null;
  const node = new Node(opts, {
    logger,
    createProducer: (ctx) =>
      (producer = new BftProducer(
        {
          block: opts.config.block,
          genesis: opts.genesis,
          signStatePath: join(home, 'data', 'signer.json'),
          snapshotIntervalHeights,
        },
        { ...ctx, key: K.validator, clock: Date.now },
      )),
  });
  await node.start();
  return { node, producer: () => producer!, logs };
}

async function waitHeight(node: Node, h: bigint): Promise<void> {
  for (let i = 0; i < 300 && node.height() < h; i++) await sleep(10);
  expect(node.height(), `reached height ${h}`).toBeGreaterThanOrEqual(h);
}

function rebuiltLine(run: Run): Record<string, unknown> {
  const line = run.logs.find((l) => l.msg === 'consensus chain state rebuilt');
  expect(line, 'the producer logs how it rebuilt its chain state').toBeDefined();
  return line!;
}

/** The stopped node's database through a ChainApp of its own. */
async function withApp<T>(home: string, f: (app: ChainApp) => T): Promise<T> {
  const opts = loadNodeOptions(home);
  const store = await ChainStore.open(join(home, 'data'));
  try {
    return f(new ChainApp(opts.genesis, { store, vm: createVm(), logger: pino({ level: 'silent' }) }));
  } finally {
    await store.close();
  }
}

const snapshotHeightOf = (home: string) =>
  withApp(home, (app) => {
    const b = app.chainStateSnapshot();
    return b === undefined ? null : decodeChainStateSnapshot(b).height - 1n;
  });

/** After stop: the engine's chain state equals a full replay of the database, and every stored commit verifies. */
async function checkAgainstReplay(run: Run, home: string): Promise<void> {
  const opts = loadNodeOptions(home);
  const engine = run.producer().consensus!;
  await withApp(home, (app) => {
    const replayed = replayChainState(app, opts.genesis, consensusParamsOf(opts.genesis, opts.config.block));
    expect(engine.chain.height, 'engine at the height after the stored chain').toBe(replayed.height);
    expect(encodeChainStateSnapshot(engine.chain.snapshot()), 'restored + advanced state equals a full replay').toEqual(
      encodeChainStateSnapshot(replayed.snapshot()),
    );
    for (let h = 1n; h <= app.height(); h++) {
      const c = app.committedAt(h)!;
      expect(verifyCommit(c.block, c.commit, validators, CHAIN_ID), `commit of ${h}`).toMatchObject({ ok: true });
    }
  });
}

describe('BFT node restart from the chain-state snapshot', () => {
  it('the default interval follows the square root of the evidence window', () => {
    const table: [number, number][] = [
      [0, 1],
      [1, 1],
      [2, 2],
      [100, 10],
      [101, 11],
      [1_814_400, 1347],
    ];
    for (const [window, interval] of table) expect(snapshotIntervalOf(window), `window ${window}`).toBe(interval);
  });

  it('with a snapshot every height: restores from the last height, replays nothing, equals a full replay, keeps committing', async () => {
    const h = makeHome({ consensus: { engine: 'bft' }, block: { intervalMs: 5, emptyBlockIntervalMs: 5 } });
    homes.push(h);
    let run = await startNode(h.home, 1);
    await waitHeight(run.node, 8n);
    await run.node.stop();
    const top = run.node.height();
    expect(await snapshotHeightOf(h.home), 'the snapshot is written in the batch of the last block').toBe(top);
    expect(rebuiltLine(run)).toMatchObject({ source: 'genesis', replayedBlocks: '0' });

    run = await startNode(h.home, 1);
    expect(rebuiltLine(run)).toMatchObject({ source: 'snapshot', snapshotHeight: top.toString(), replayedBlocks: '0' });
    await waitHeight(run.node, top + 5n);
    await run.node.stop();
    await checkAgainstReplay(run, h.home);
    expect(run.logs.some((l) => l.msg === 'consensus halted; the node stops making blocks')).toBe(false);
  }, 20_000);

  it('with a snapshot every 4 heights, replays only the blocks after the last one', async () => {
    const h = makeHome({ consensus: { engine: 'bft' }, block: { intervalMs: 5, emptyBlockIntervalMs: 5 } });
    homes.push(h);
    let run = await startNode(h.home, 4);
    await waitHeight(run.node, 10n);
    await run.node.stop();
    const top = run.node.height();
    const at = (await snapshotHeightOf(h.home))!;
    expect(at % 4n, 'snapshots at multiples of the interval').toBe(0n);
    expect(top - at).toBeLessThan(4n);

    run = await startNode(h.home, 4);
    expect(rebuiltLine(run)).toMatchObject({
      source: 'snapshot',
      snapshotHeight: at.toString(),
      replayedBlocks: (top - at).toString(),
    });
    await waitHeight(run.node, top + 5n);
    await run.node.stop();
    await checkAgainstReplay(run, h.home);
  }, 20_000);

  it('a database without a snapshot (older node) is replayed from genesis, logged, and gets snapshots (default interval) from then on', async () => {
    const h = makeHome({ consensus: { engine: 'bft' }, block: { intervalMs: 5, emptyBlockIntervalMs: 5 } });
    homes.push(h);
    // An interval no chain reaches: no snapshot is ever written, as with a database of an older node.
    let run = await startNode(h.home, 1_000_000_000);
    await waitHeight(run.node, 5n);
    await run.node.stop();
    expect(await snapshotHeightOf(h.home)).toBeNull();
    const top = run.node.height();

    run = await startNode(h.home, null);
    expect(
      run.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('no chain-state snapshot in the database')),
      'the fallback is logged',
    ).toBe(true);
    expect(rebuiltLine(run)).toMatchObject({ source: 'genesis', replayedBlocks: top.toString() });
    await waitHeight(run.node, top + 3n);
    await run.node.stop();
    await checkAgainstReplay(run, h.home);
    const at = await snapshotHeightOf(h.home);
    expect(at, 'snapshots start after the fallback').not.toBeNull();
    expect(at!).toBeGreaterThan(top);
    expect(at!).toBeLessThanOrEqual(run.node.height());
  }, 20_000);
});
