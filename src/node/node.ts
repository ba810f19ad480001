// The Node: wires the store, the VM, the mempool, block production and the RPC server; starts them in order and
// stops them in reverse (stop accepting txs, finish the block in progress, close RPC, close the store).
import { existsSync, mkdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { pino, type Logger } from 'pino';
import { toHex } from '../core/bytes.js';
import { addressOf, loadKeyFile, type KeyPair } from '../core/keys.js';
import { blockHash } from '../core/types.js';
import { Mempool } from '../mempool/mempool.js';
import { MempoolError } from '../mempool/errors.js';
import { RPC_ERRORS } from '../rpc/api.js';
import type { CommittedBlock, RpcBackend, StoredTx } from '../rpc/backend.js';
import { RpcFailure } from '../rpc/errors.js';
import { RpcServer } from '../rpc/server.js';
import { ChainStore } from '../state/store.js';
import { encodeStateProof } from '../state/proof.js';
import type { KvReader } from '../state/kv.js';
import { createVm } from '../vm/registry.js';
import type { Vm } from '../vm/vm.js';
import { ChainApp } from './app.js';
import { loadConfigFile, type NodeConfig } from './config.js';
import { loadGenesisFile, type ChainGenesis } from './genesis.js';
import { NodeMetrics } from './metrics.js';
import { SoloProducer, type BlockProducer } from './producer.js';
import { BftProducer } from './bft-producer.js';
import { applyV8Tuning } from './v8-tuning.js';

export const NODE_VERSION = '0.1.0';

export interface NodeOptions {
  /** The home folder: config.json, genesis.json, keys, data/. */
  home: string;
  config: NodeConfig;
  genesis: ChainGenesis;
  /** The validator key; null runs a node that serves RPC but makes no blocks. */
  validatorKey: KeyPair | null;
}

export interface NodeDeps {
  logger?: Logger;
  /** Wall clock in ms (block times when config block.timeStepMs is null). */
  clock?: () => number;
  vm?: Vm;
  /** Replaces the single-validator producer (the BFT engine plugs in here). */
  createProducer?: (ctx: ProducerContext) => BlockProducer;
}

export interface ProducerContext {
  app: ChainApp;
  mempool: Mempool;
  logger: Logger;
  metrics: NodeMetrics | null;
  onCommitted: (b: CommittedBlock) => void;
}

export type NodeState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Reads config.json, genesis.json and the validator key (if present) from a home folder. */
export function loadNodeOptions(home: string): NodeOptions {
  const config = loadConfigFile(join(home, 'config.json'));
  const genesis = loadGenesisFile(join(home, 'genesis.json'));
  const keyPath = resolveIn(home, config.validatorKeyFile);
  const validatorKey = existsSync(keyPath) ? loadKeyFile(keyPath) : null;
  return { home, config, genesis, validatorKey };
}

function resolveIn(home: string, p: string): string {
  return isAbsolute(p) ? p : join(home, p);
}

export class Node implements RpcBackend {
  readonly logger: Logger;
  readonly metrics: NodeMetrics | null;
  readonly mempool: Mempool;
  readonly vm: Vm;
  private store: ChainStore | null = null;
  private app: ChainApp | null = null;
  private producer: BlockProducer | null = null;
  private rpc: RpcServer | null = null;
  private readonly listeners = new Set<(b: CommittedBlock) => void>();
  private stateValue: NodeState = 'new';
  private rpcAddress: { host: string; port: number; url: string } | null = null;
  private readonly clock: () => number;

  constructor(
    readonly opts: NodeOptions,
    private readonly deps: NodeDeps = {},
  ) {
    const { config, genesis } = opts;
    this.logger = deps.logger ?? pino({ level: config.log.level, base: { chainId: genesis.vm.chainId } });
    this.clock = deps.clock ?? Date.now;
    this.vm = deps.vm ?? createVm();
    this.mempool = new Mempool(
      {
        chainId: genesis.vm.chainId,
        maxTxBytes: config.mempool.maxTxBytes,
        maxTxs: config.mempool.maxTxs,
        maxBytes: config.mempool.maxBytes,
        maxTxsPerSender: config.mempool.maxTxsPerSender,
        maxBytesPerSender: config.mempool.maxBytesPerSender,
        nonceWindow: config.mempool.nonceWindow,
        blockGasLimit: genesis.blockGasLimit,
      },
      { state: () => this.requireStore().reader(), isCommitted: (h) => this.requireStore().getTx(h) !== undefined },
    );
    this.metrics = config.metrics.enabled ? new NodeMetrics(() => this.mempool) : null;
  }

  // ------------------------------------------------------------ lifecycle

  get status(): NodeState {
    return this.stateValue;
  }

  /** The RPC's base URL once started, e.g. http://127.0.0.1:26657. */
  get rpcUrl(): string {
    if (!this.rpcAddress) throw new Error('the node is not started');
    return this.rpcAddress.url;
  }

  get dataDir(): string {
    return resolveIn(this.opts.home, this.opts.config.dataDir);
  }

  /** Opens the store, applies genesis once (or resumes), starts block production and the RPC server. */
  async start(): Promise<{ rpcUrl: string; height: bigint }> {
    if (this.stateValue !== 'new') throw new Error(`cannot start a node that is ${this.stateValue}`);
    this.stateValue = 'starting';
    const { config, genesis, validatorKey } = this.opts;
    // Process-wide, so applied before the store opens and blocks run (the flags hold for the process's lifetime).
    const v8Flags = applyV8Tuning(config.v8);
    try {
      mkdirSync(this.dataDir, { recursive: true });
      this.store = await ChainStore.open(this.dataDir);
      this.app = new ChainApp(genesis, { store: this.store, vm: this.vm, logger: this.logger });
      await this.app.initChain();
      this.metrics?.height.set(Number(this.store.height()));

      const ctx: ProducerContext = {
        app: this.app,
        mempool: this.mempool,
        logger: this.logger,
        metrics: this.metrics,
        onCommitted: (b) => this.onCommitted(b),
      };
      if (this.deps.createProducer) this.producer = this.deps.createProducer(ctx);
      else if (validatorKey && config.consensus.engine === 'bft') {
        this.producer = new BftProducer(
          { block: config.block, genesis, signStatePath: resolveIn(this.opts.home, config.consensus.signStateFile) },
          { ...ctx, key: validatorKey, clock: this.clock },
        );
      } else if (validatorKey) {
        this.producer = new SoloProducer(config.block, {
          ...ctx,
          key: validatorKey,
          clock: this.clock,
          genesisTimeMs: genesis.vm.genesisTimeMs,
          blockGasLimit: genesis.blockGasLimit,
        });
      } else {
        this.logger.warn('no validator key: this node serves RPC and makes no blocks');
      }
      this.rpc = new RpcServer(
        { ...config.rpc, maxTxBytes: config.mempool.maxTxBytes },
        {
          backend: this,
          logger: this.logger.child({ module: 'rpc' }),
          metrics: this.metrics,
          health: () => ({
            ok: this.stateValue === 'running' && !this.producer?.failure,
            state: this.stateValue,
            ...(this.producer?.failure ? { failure: this.producer.failure.message } : {}),
          }),
        },
      );
      this.rpcAddress = await this.rpc.start();
      this.producer?.start();
      this.stateValue = 'running';
      this.logger.info(
        {
          rpc: this.rpcAddress.url,
          height: this.store.height().toString(),
          validator: this.validatorAddress ? toHex(this.validatorAddress) : null,
          v8Flags,
        },
        'node started',
      );
      return { rpcUrl: this.rpcAddress.url, height: this.store.height() };
    } catch (e) {
      await this.closeAll();
      this.stateValue = 'stopped';
      throw e;
    }
  }

  /** Graceful stop: refuse new txs, finish the block in progress, close the RPC server, close the store. */
  async stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    if (this.stateValue === 'stopped') return;
    this.stateValue = 'stopping';
    this.logger.info('stopping');
    this.stopping = this.closeAll().then(() => {
      this.stateValue = 'stopped';
      this.logger.info({ height: this.lastHeight.toString() }, 'stopped');
    });
    return this.stopping;
  }

  private stopping: Promise<void> | null = null;

  private lastHeight = 0n;

  private async closeAll(): Promise<void> {
    await this.producer?.stop();
    await this.rpc?.stop();
    this.listeners.clear();
    if (this.store) {
      this.lastHeight = this.store.height();
      await this.store.close();
    }
  }

  private requireStore(): ChainStore {
    if (!this.store) throw new RpcFailure(RPC_ERRORS.UNAVAILABLE, 'the node is not running');
    return this.store;
  }

  private onCommitted(b: CommittedBlock): void {
    this.mempool.update(b.txs.map((t) => t.hash));
    if (this.metrics) {
      this.metrics.height.set(Number(b.height));
      this.metrics.blockTxs.observe(b.txs.length);
      for (const t of b.txs) this.metrics.txsCommitted.inc({ code: t.receipt.code });
    }
    for (const l of [...this.listeners]) {
      try {
        l(b);
      } catch (e) {
        this.logger.error({ err: e }, 'block listener failed');
      }
    }
  }

  // ------------------------------------------------------------ RpcBackend

  get chainId(): string {
    return this.opts.genesis.vm.chainId;
  }

  get genesisTimeMs(): bigint {
    return this.opts.genesis.vm.genesisTimeMs;
  }

  get validatorAddress(): Uint8Array | null {
    return this.opts.validatorKey ? addressOf(this.opts.validatorKey.publicKey) : null;
  }

  readonly version = NODE_VERSION;

  height(): bigint {
    return this.requireStore().height();
  }

  stateRoot(): Uint8Array {
    return this.requireStore().stateRoot();
  }

  state(): KvReader {
    return this.requireStore().reader();
  }

  latest(): { hash: Uint8Array; timeMs: bigint } | null {
    const h = this.app?.latest();
    return h ? { hash: blockHash(h), timeMs: h.timeMs } : null;
  }

  async getBlock(height: bigint): Promise<Uint8Array | null> {
    return this.requireStore().getBlock(height) ?? null;
  }

  async getBlockByHash(hash: Uint8Array): Promise<Uint8Array | null> {
    return this.requireStore().getBlockByHash(hash) ?? null;
  }

  async getCommit(height: bigint): Promise<Uint8Array | null> {
    return this.requireStore().getCommit(height) ?? null;
  }

  async getTx(hash: Uint8Array): Promise<StoredTx | null> {
    const r = this.requireStore().getTx(hash);
    return r ? { height: r.height, index: r.index, tx: r.tx, receipt: r.receipt } : null;
  }

  async getProof(
    key: Uint8Array,
  ): Promise<{ value: Uint8Array | null; proof: Uint8Array; root: Uint8Array; height: bigint }> {
    const store = this.requireStore();
    // Synchronous reads: height, root and proof all come from the same committed state.
    const height = store.height();
    const root = store.stateRoot();
    const { value, proof } = store.getProof(key);
    return { value, proof: encodeStateProof(proof), root, height };
  }

  async submitTx(txBytes: Uint8Array): Promise<{ hash: Uint8Array; hashHex: string }> {
    if (this.stateValue !== 'running')
      throw new RpcFailure(RPC_ERRORS.UNAVAILABLE, `the node is ${this.stateValue} and accepts no txs`);
    try {
      const r = await this.mempool.add(txBytes);
      this.metrics?.mempoolAdmitted.inc();
      return { hash: r.hash, hashHex: r.hashHex };
    } catch (e) {
      if (e instanceof MempoolError) this.metrics?.mempoolRefused.inc({ reason: e.code });
      throw e;
    }
  }

  mempoolStats(): { size: number; bytes: number } {
    return { size: this.mempool.size, bytes: this.mempool.bytes };
  }

  isPending(hashHex: string): boolean {
    return this.mempool.has(hashHex);
  }

  onBlock(listener: (b: CommittedBlock) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
