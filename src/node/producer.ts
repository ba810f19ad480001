// Block production behind a small interface: the single-validator producer here commits blocks on its own at the
// configured interval; the BFT engine (src/consensus) replaces it with a driver that implements the same interface.
import type { Logger } from 'pino';
import { equalBytes, toHex } from '../core/bytes.js';
import { addressOf, type KeyPair } from '../core/keys.js';
import type { Mempool } from '../mempool/mempool.js';
import { loadValidatorSet } from '../vm/modules/staking.js';
import type { CommittedBlock } from '../rpc/backend.js';
import type { ChainApp } from './app.js';
import type { BlockConfig } from './config.js';
import type { NodeMetrics } from './metrics.js';

/** What the node needs from whatever makes blocks. */
export interface BlockProducer {
  start(): void;
  /** Stops making blocks; resolves once the block in progress (if any) is committed. */
  stop(): Promise<void>;
  /** Set when production stopped on an error (the node reports unhealthy). */
  readonly failure: Error | null;
}

export interface SoloProducerDeps {
  app: ChainApp;
  mempool: Mempool;
  key: KeyPair;
  /** Wall clock, ms since the epoch (injected: tests and simulations use their own). */
  clock: () => number;
  logger: Logger;
  metrics: NodeMetrics | null;
  genesisTimeMs: bigint;
  blockGasLimit: bigint;
  /** Called after each commit (mempool update, subscribers). */
  onCommitted: (b: CommittedBlock) => void;
}

/**
 * One validator holding > 2/3 of the power commits alone: every `intervalMs` it reaps the mempool and, when txs are
 * ready or `emptyBlockIntervalMs` has passed since the last block, builds, signs and commits a block.
 */
export class SoloProducer implements BlockProducer {
  private timer: NodeJS.Timeout | null = null;
  private inProgress: Promise<void> | null = null;
  private stopped = true;
  private lastBlockAtMs: number;
  private lastCommitWallMs: number | null = null;
  private warnedNoPower = false;
  failure: Error | null = null;

  constructor(
    private readonly opts: BlockConfig,
    private readonly deps: SoloProducerDeps,
  ) {
    this.lastBlockAtMs = deps.clock();
  }

  start(): void {
    this.stopped = false;
    this.schedule(this.opts.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inProgress;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.inProgress = this.tick().finally(() => {
        this.inProgress = null;
      });
    }, delayMs);
  }

  private async tick(): Promise<void> {
    try {
      await this.maybeProduce();
      this.schedule(this.opts.intervalMs);
    } catch (e) {
      // A throw here is a bug or an I/O failure: stop producing rather than commit something wrong.
      this.failure = e as Error;
      this.stopped = true;
      this.deps.logger.fatal({ err: e }, 'block production failed; the node stops making blocks');
    }
  }

  /** Block time: the devnet step (genesis + height x step) or the wall clock, always after the previous block. */
  private blockTime(height: bigint): bigint {
    if (this.opts.timeStepMs !== null) return this.deps.genesisTimeMs + height * BigInt(this.opts.timeStepMs);
    const prev = this.deps.app.latest()?.timeMs ?? this.deps.genesisTimeMs;
    const now = BigInt(this.deps.clock());
    return now > prev ? now : prev + 1n;
  }

  private hasQuorumAlone(): boolean {
    const { app, key } = this.deps;
    const me = addressOf(key.publicKey);
    const vals = loadValidatorSet(app.stateReader());
    const total = vals.reduce((s, v) => s + v.power, 0n);
    const mine = vals.find((v) => equalBytes(v.address, me))?.power ?? 0n;
    const ok = mine * 3n > total * 2n;
    if (!ok && !this.warnedNoPower) {
      this.warnedNoPower = true;
      this.deps.logger.warn(
        { validator: toHex(me), power: mine.toString(), totalPower: total.toString() },
        'this validator holds no more than 2/3 of the power: it cannot commit blocks alone (run the BFT engine)',
      );
    }
    return ok;
  }

  private async maybeProduce(): Promise<void> {
    const { app, mempool, key, logger, metrics } = this.deps;
    if (!this.hasQuorumAlone()) return;
    const entries = mempool.reap({
      maxGas: this.deps.blockGasLimit,
      maxTxs: this.opts.maxTxs,
      maxBytes: this.opts.maxBytes,
    });
    const now = this.deps.clock();
    const emptyDue = this.opts.emptyBlockIntervalMs > 0 && now - this.lastBlockAtMs >= this.opts.emptyBlockIntervalMs;
    if (entries.length === 0 && !emptyDue) return;

    const started = process.hrtime.bigint();
    const height = app.height() + 1n;
    const built = app.buildBlock({
      height,
      timeMs: this.blockTime(height),
      proposer: addressOf(key.publicKey),
      txs: entries.map((e) => ({ bytes: e.bytes, tx: e.tx, hash: e.hash, signatureVerified: true })),
      lastCommit: app.lastCommit(),
    });
    const commit = app.signCommit(built, key);
    const committed = await app.commitBlock(built, commit);
    this.lastBlockAtMs = this.deps.clock();
    if (metrics) {
      metrics.blockBuild.observe(Number(process.hrtime.bigint() - started) / 1e9);
      if (this.lastCommitWallMs !== null)
        metrics.blockInterval.observe((this.lastBlockAtMs - this.lastCommitWallMs) / 1000);
    }
    this.lastCommitWallMs = this.lastBlockAtMs;
    logger.debug({ height: height.toString(), txs: entries.length, hash: toHex(built.hash) }, 'block committed');
    this.deps.onCommitted(committed);
  }
}
