// Block production by the BFT engine: the node's ChainApp behind consensus's Application interface, the signer guard
// on a file, real timers and clock, and a network (loopback for a one-validator node; p2p plugs in later).
import type { Logger } from 'pino';
import { equalBytes, toHex } from '../core/bytes.js';
import type { KeyPair } from '../core/keys.js';
import { blockHash, type Block, type Commit } from '../core/types.js';
import { ConsensusEngine } from '../consensus/engine.js';
import { ConsensusDriver, type TimeoutInfo } from '../consensus/driver.js';
import type {
  Application,
  FinalizeBlockResult,
  Misbehaviour,
  PrepareProposalRequest,
  ProcessProposalResult,
} from '../consensus/app.js';
import { ChainState, decodeChainStateSnapshot, encodeChainStateSnapshot } from '../consensus/chain-state.js';
import { defaultParams, type ConsensusParams } from '../consensus/params.js';
import { messageHeight, type ConsensusMessage } from '../consensus/messages.js';
import type { Mempool } from '../mempool/mempool.js';
import type { CommittedBlock } from '../rpc/backend.js';
import { type ChainApp, InvalidBlockError, type BuiltBlock } from './app.js';
import type { BlockConfig } from './config.js';
import type { ChainGenesis } from './genesis.js';
import type { NodeMetrics } from './metrics.js';
import type { BlockProducer } from './producer.js';
import { LoopbackNetwork, type NodeConsensusNetwork } from '../p2p/network.js';
import { FileSignStateStore } from './signer-store.js';

/** Re-send interval for lost messages (the engine's gossipTick). */
export const GOSSIP_TICK_MS = 1000;

export interface BftProducerOptions {
  block: BlockConfig;
  genesis: ChainGenesis;
  /** Path of the signer guard's record (FileSignStateStore). */
  signStatePath: string;
  /**
   * Heights between two ChainState snapshots; default (null) adapts it to the evidence window (snapshotIntervalOf).
   * A restart replays fewer blocks than this.
   */
  snapshotIntervalHeights?: number | null;
}

/**
 * The snapshot carries one 8-byte block time per height of the evidence window W (up to ~1.8 M heights by default)
 * besides ~3 KB of sets and commit (10 validators), so writing it every block would cost O(W) per block. Every
 * ceil(sqrt(W)) heights balances the two costs: about 8 * sqrt(W) bytes per block amortized (~11 KB at the default
 * window) and a restart replays at most sqrt(W) blocks (~1350). A chain whose window is a single height snapshots
 * every block. Only when snapshots are written depends on this (floats are fine): never the chain state.
 */
export function snapshotIntervalOf(windowHeights: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(windowHeights)));
}

export interface BftProducerDeps {
  app: ChainApp;
  mempool: Mempool;
  key: KeyPair;
  /** Wall clock, ms since the epoch. */
  clock: () => number;
  logger: Logger;
  metrics: NodeMetrics | null;
  onCommitted: (b: CommittedBlock) => void;
  /** Defaults to a LoopbackNetwork (a chain of one validator). */
  network?: NodeConsensusNetwork;
}

/** Consensus parameters of this chain: genesis timeouts; the commit timeout is the node's block.intervalMs. */
export function consensusParamsOf(genesis: ChainGenesis, block: BlockConfig): ConsensusParams {
  const p = defaultParams(genesis.vm.chainId, genesis.vm.staking.unbondingMs);
  const t = genesis.consensus;
  p.timeouts = {
    proposeMs: t.proposeMs,
    proposeDeltaMs: t.deltaMs,
    prevoteMs: t.prevoteMs,
    prevoteDeltaMs: t.deltaMs,
    precommitMs: t.precommitMs,
    precommitDeltaMs: t.deltaMs,
    commitMs: block.intervalMs,
  };
  return p;
}

/** Replays committed blocks from..to onto `chain` with the validator updates stored with each. */
function replayBlocks(app: ChainApp, chain: ChainState, from: bigint, to: bigint, params: ConsensusParams): void {
  for (let h = from; h <= to; h++) {
    const stored = app.committedAt(h);
    if (stored === undefined) throw new Error(`block or commit ${h} is missing from the database`);
    const updates = app.validatorUpdatesAt(h);
    if (updates === undefined) {
      throw new Error(
        `the validator updates of block ${h} are not in the database (written by an older node): the BFT engine cannot rebuild its validator sets; run with consensus.engine "solo" or a new data folder`,
      );
    }
    chain.advance(stored.block, stored.commit, updates, params.evidence);
  }
}

/** Rebuilds the engine's chain view from genesis: every committed block (the fallback without a snapshot). */
export function replayChainState(app: ChainApp, genesis: ChainGenesis, params: ConsensusParams): ChainState {
  const chain = ChainState.genesis({
    chainId: genesis.vm.chainId,
    genesisTimeMs: genesis.vm.genesisTimeMs,
    validators: app.genesisValidators(),
  });
  replayBlocks(app, chain, 1n, app.height(), params);
  return chain;
}

export interface RestoredChainState {
  chain: ChainState;
  /** Last committed height the snapshot was taken after; null: no usable snapshot, replayed from genesis. */
  snapshotHeight: bigint | null;
  replayedBlocks: bigint;
}

/**
 * Rebuilds the engine's chain view from the stored snapshot plus the blocks committed after it. Without a snapshot
 * (a database written by an older node) or with one that does not fit this chain, replays every block from genesis.
 */
export function restoreChainState(
  app: ChainApp,
  genesis: ChainGenesis,
  params: ConsensusParams,
  logger: Logger,
): RestoredChainState {
  const top = app.height();
  const bytes = app.chainStateSnapshot();
  if (bytes !== undefined) {
    try {
      const chain = ChainState.fromSnapshot(decodeChainStateSnapshot(bytes));
      const at = chain.height - 1n;
      if (chain.chainId !== genesis.vm.chainId || chain.genesisTimeMs !== genesis.vm.genesisTimeMs)
        throw new Error('the snapshot is of another chain');
      if (at > top) throw new Error(`the snapshot (height ${at}) is above the last committed height ${top}`);
      // The snapshot must describe this database's chain: its last block hash is the stored block's.
      const stored = at === 0n ? undefined : app.committedAt(at);
      if (at > 0n && (stored === undefined || !equalBytes(blockHash(stored.block.header), chain.lastBlockHash))) {
        throw new Error(`the snapshot's last block hash differs from stored block ${at}`);
      }
      replayBlocks(app, chain, at + 1n, top, params);
      return { chain, snapshotHeight: at, replayedBlocks: top - at };
    } catch (e) {
      logger.warn(
        { err: e as Error, height: top.toString() },
        'the chain-state snapshot is unusable: replaying every committed block from genesis',
      );
    }
  } else if (top > 0n) {
    logger.info(
      { height: top.toString() },
      'no chain-state snapshot in the database (written by an older node): replaying every committed block from genesis',
    );
  }
  return { chain: replayChainState(app, genesis, params), snapshotHeight: null, replayedBlocks: top };
}

/** The node's ChainApp as consensus's Application: execution results are cached by block hash until finalize. */
class ChainApplication implements Application {
  /** Executed blocks of the current height by hash, with how long execution took (ns). */
  private readonly executed = new Map<string, { built: BuiltBlock; execNs: bigint }>();
  /** The commit in flight (stop waits for it). */
  inFlight: Promise<unknown> | null = null;

  /** Height of the last stored snapshot (set at start from the restored one). */
  lastSnapshotHeight = 0n;

  constructor(
    private readonly deps: BftProducerDeps,
    private readonly block: BlockConfig,
    private readonly blockGasLimit: bigint,
    private readonly chain: () => ChainState,
    private readonly params: () => ConsensusParams,
    private readonly snapshotIntervalHeights: number | null,
  ) {}

  prepareProposal(req: PrepareProposalRequest): Block {
    const { app, mempool } = this.deps;
    const started = process.hrtime.bigint();
    const entries = mempool.reap({
      maxGas: this.blockGasLimit,
      maxTxs: this.block.maxTxs,
      maxBytes: this.block.maxBytes,
    });
    const built = app.buildBlock({
      height: req.height,
      timeMs: req.timeMs,
      proposer: req.proposer,
      txs: entries.map((e) => ({ bytes: e.bytes, tx: e.tx, hash: e.hash, signatureVerified: true })),
      lastCommit: req.lastCommit,
      evidence: req.evidence,
      misbehaviour: this.misbehaviourOf(
        req.evidence.map((ev) => ev.voteA.body),
        req.timeMs,
      ),
      validatorsHash: req.validatorsHash,
      nextValidatorsHash: req.nextValidatorsHash,
    });
    this.executed.set(toHex(built.hash), { built, execNs: process.hrtime.bigint() - started });
    return built.block;
  }

  processProposal(block: Block): ProcessProposalResult {
    try {
      const started = process.hrtime.bigint();
      const built = this.execute(
        block,
        this.misbehaviourOf(
          block.evidence.map((ev) => ev.voteA.body),
          block.header.timeMs,
        ),
      );
      this.executed.set(toHex(built.hash), { built, execNs: process.hrtime.bigint() - started });
      return { valid: true };
    } catch (e) {
      if (e instanceof InvalidBlockError) return { valid: false, reason: e.message };
      throw e;
    }
  }

  finalizeBlock(block: Block, commit: Commit, misbehaviour: Misbehaviour[]): Promise<FinalizeBlockResult> {
    const started = process.hrtime.bigint();
    const hex = toHex(blockHash(block.header));
    // A synced block (or one whose execution was dropped) is executed now; a mismatch here halts the node.
    const cached = this.executed.get(hex);
    const built = cached?.built ?? this.execute(block, misbehaviour);
    this.executed.clear();
    const chainStateSnapshot = this.snapshotAfter(block, commit, built.validatorUpdates);
    const p = this.deps.app.commitBlock(built, commit, { chainStateSnapshot }).then((committed) => {
      if (chainStateSnapshot !== undefined) this.lastSnapshotHeight = block.header.height;
      // Execute + state root + write, as the solo producer measures it (signing is the engine's).
      this.deps.metrics?.blockBuild.observe(Number((cached?.execNs ?? 0n) + process.hrtime.bigint() - started) / 1e9);
      this.deps.onCommitted(committed);
      return { stateRoot: built.prepared.root, validatorUpdates: built.validatorUpdates };
    });
    this.inFlight = p
      .finally(() => {
        this.inFlight = null;
      })
      .catch(() => undefined);
    return p;
  }

  /**
   * The engine's chain state as it will be once it advances past `block` (the engine advances only after this
   * commit), encoded for the block's batch when a snapshot is due; undefined otherwise.
   */
  private snapshotAfter(
    block: Block,
    commit: Commit,
    updates: FinalizeBlockResult['validatorUpdates'],
  ): Uint8Array | undefined {
    const chain = this.chain();
    const h = block.header.height;
    const interval = this.snapshotIntervalHeights ?? snapshotIntervalOf(chain.windowHeights);
    if (h - this.lastSnapshotHeight < BigInt(interval)) return undefined;
    try {
      const next = ChainState.fromSnapshot(chain.snapshot());
      next.advance(block, commit, updates, this.params().evidence);
      return encodeChainStateSnapshot(next.snapshot());
    } catch (e) {
      // Over a codec bound: keep the older snapshot (a restart replays more) rather than fail the commit.
      this.deps.logger.warn({ err: e as Error, height: h.toString() }, 'chain-state snapshot not written');
      return undefined;
    }
  }

  private execute(block: Block, misbehaviour: Misbehaviour[]): BuiltBlock {
    return this.deps.app.executeBlock(block, (h) => this.deps.mempool.isVerified(h), misbehaviour);
  }

  /** As the engine computes it at decide: the validator, the height, and that height's block time. */
  private misbehaviourOf(votes: { validator: Uint8Array; height: bigint }[], blockTimeMs: bigint): Misbehaviour[] {
    const chain = this.chain();
    return votes.map((v) => ({
      validator: v.validator,
      height: v.height,
      timeMs: chain.timeAt(v.height) ?? blockTimeMs,
    }));
  }
}

/**
 * Runs the Tendermint engine for this node. A new height starts after block.intervalMs (the commit timeout) once
 * txs wait, or block.emptyBlockIntervalMs has passed since the last block, or a peer has already started it — so
 * an idle chain does not commit empty blocks back to back.
 */
export class BftProducer implements BlockProducer {
  failure: Error | null = null;
  private readonly network: NodeConsensusNetwork;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly application: ChainApplication;
  private driver: ConsensusDriver | null = null;
  private engine: ConsensusEngine | null = null;
  private stopped = true;
  private lastBlockAtMs: number;
  private lastCommitWallMs: number | null = null;
  /** The start of the next height, held while the gate is closed. */
  private gated: (() => void) | null = null;
  private gatedHeight = -1n;

  constructor(
    private readonly opts: BftProducerOptions,
    private readonly deps: BftProducerDeps,
  ) {
    this.network = deps.network ?? new LoopbackNetwork();
    this.lastBlockAtMs = deps.clock();
    const params = consensusParamsOf(opts.genesis, opts.block);
    this.application = new ChainApplication(
      deps,
      opts.block,
      opts.genesis.blockGasLimit,
      () => this.engine!.chain,
      () => params,
      opts.snapshotIntervalHeights ?? null,
    );
  }

  /** The engine (for tests and status); null before start. */
  get consensus(): ConsensusEngine | null {
    return this.engine;
  }

  start(): void {
    const { genesis, block } = this.opts;
    const { logger } = this.deps;
    const params = consensusParamsOf(genesis, block);
    const startedNs = process.hrtime.bigint();
    const restored = restoreChainState(this.deps.app, genesis, params, logger);
    const chain = restored.chain;
    this.application.lastSnapshotHeight = restored.snapshotHeight ?? 0n;
    logger.info(
      {
        height: chain.height.toString(),
        source: restored.snapshotHeight === null ? 'genesis' : 'snapshot',
        snapshotHeight: restored.snapshotHeight?.toString() ?? null,
        replayedBlocks: restored.replayedBlocks.toString(),
        ms: Number((process.hrtime.bigint() - startedNs) / 1000n) / 1000,
      },
      'consensus chain state rebuilt',
    );
    const signStore = new FileSignStateStore(this.opts.signStatePath);
    const signState = signStore.load();
    const engine = new ConsensusEngine({ params, keyPair: this.deps.key }, { chain, signState });
    this.engine = engine;
    const step = block.timeStepMs === null ? null : BigInt(block.timeStepMs);
    const genesisTimeMs = genesis.vm.genesisTimeMs;
    this.driver = new ConsensusDriver({
      engine,
      app: this.application,
      signStore,
      network: this.network,
      timers: { schedule: (ms, fire, info) => this.schedule(ms, fire, info) },
      // Devnet: the time of the height being decided is genesis + height x step (the engine proposes max(now, prev + 1),
      // which is exactly that, and every node of a devnet computes the same, so proposals are timely).
      clock: { nowMs: () => (step === null ? BigInt(this.deps.clock()) : genesisTimeMs + engine.height * step) },
      onCommitted: (b, _c, r) => {
        const now = this.deps.clock();
        if (this.lastCommitWallMs !== null)
          this.deps.metrics?.blockInterval.observe((now - this.lastCommitWallMs) / 1000);
        this.lastCommitWallMs = now;
        this.lastBlockAtMs = now;
        logger.debug(
          { height: b.header.height.toString(), txs: b.txs.length, validatorUpdates: r.validatorUpdates.length },
          'block committed',
        );
      },
      // A refused signature of our own deserves attention (e.g. a signer record ahead of this database); a refused
      // peer message is routine.
      onNotice: (e) =>
        (e.type === 'signRefused' ? logger.warn : logger.debug).call(
          logger,
          { notice: e.type, code: e.code, reason: e.message },
          'consensus notice',
        ),
      onHalt: (err) => this.fail(err),
    });
    this.network.onMessage((msg) => this.receive(msg));
    this.stopped = false;
    logger.info(
      {
        height: chain.height.toString(),
        signState: signState === null ? null : `${signState.height}/${signState.round}/${signState.step}`,
      },
      'BFT consensus starting',
    );
    if (signState !== null && signState.height > chain.height) {
      logger.warn(
        {
          signedHeight: signState.height.toString(),
          height: chain.height.toString(),
          signStateFile: this.opts.signStatePath,
        },
        'the signer record is ahead of this database: the guard refuses to sign until the chain reaches that height',
      );
    }
    const midHeight = signState !== null && signState.height === chain.height;
    if (midHeight) this.guard(() => this.driver!.start());
    else this.holdUntilReady(chain.height, () => this.driver!.start());
    const tick = setInterval(() => this.guard(() => this.driver?.input({ type: 'gossipTick' })), GOSSIP_TICK_MS);
    this.timers.add(tick);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.gated = null;
    this.network.close();
    await this.application.inFlight;
  }

  private schedule(ms: number, fire: () => void, info: TimeoutInfo): void {
    if (this.stopped) return;
    const run = info.step === 'commit' ? () => this.holdUntilReady(info.height, fire) : fire;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) this.guard(run);
    }, ms);
    this.timers.add(t);
  }

  /** Starts height `height` now if there is something to do, otherwise re-checks every block.intervalMs. */
  private holdUntilReady(height: bigint, begin: () => void): void {
    if (this.stopped) return;
    if (this.ready()) {
      this.gated = null;
      begin();
      return;
    }
    this.gated = begin;
    this.gatedHeight = height;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.gated === begin) this.guard(() => this.holdUntilReady(height, begin));
    }, this.opts.block.intervalMs);
    this.timers.add(t);
  }

  private ready(): boolean {
    const { mempool } = this.deps;
    const empty = this.opts.block.emptyBlockIntervalMs;
    if (empty > 0 && this.deps.clock() - this.lastBlockAtMs >= empty) return true;
    if (mempool.size === 0) return false;
    // Only txs that can execute now count (a tx after a nonce gap would not make a block).
    return (
      mempool.reap({ maxGas: this.opts.genesis.blockGasLimit, maxTxs: 1, maxBytes: this.opts.block.maxBytes }).length >
      0
    );
  }

  private receive(msg: ConsensusMessage): void {
    if (this.stopped || this.driver === null) return;
    // A peer already working on the height we hold back: start it too rather than stall the others.
    const begin = this.gated;
    if (begin !== null && messageHeight(msg) === this.gatedHeight) {
      this.gated = null;
      this.guard(begin);
    }
    this.guard(() => this.driver!.deliver(msg));
  }

  /** Runs driver work from a timer or a delivery: a halt becomes the producer's failure instead of an uncaught throw. */
  private guard(f: () => void): void {
    if (this.failure !== null) return;
    try {
      f();
    } catch (e) {
      this.fail(e as Error);
    }
  }

  private fail(err: Error): void {
    if (this.failure !== null) return;
    this.failure = err;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.network.close();
    this.deps.logger.fatal({ err }, 'consensus halted; the node stops making blocks');
  }
}
