// The application boundary between block production (or the BFT engine) and the VM + store, like CometBFT's ABCI:
// initChain (genesis at height 0), buildBlock (execute txs on a copy of state, compute the roots, make the header),
// executeBlock (re-execute someone else's proposal and check its roots), commitBlock (one atomic store batch).
import type { Logger } from 'pino';
import { equalBytes, toHex } from '../core/bytes.js';
import { EMPTY_HASH, merkleRoot, sha256 } from '../core/hash.js';
import { addressOf, type KeyPair } from '../core/keys.js';
import {
  blockHash,
  commitHashOf,
  decodeBlock,
  decodeCommit,
  decodeTx,
  encodeBlock,
  encodeCommit,
  evidenceRootOf,
  signVote,
  txHash,
  txRootOf,
  VOTE_PRECOMMIT,
  type Block,
  type Commit,
  type DuplicateVoteEvidence,
  type Header,
  type Tx,
} from '../core/types.js';
import { assert } from '../core/errors.js';
import { bytes, decode, encode, list, struct, u64 } from '../core/codec.js';
import { MAX_VALIDATORS } from '../core/constants.js';
import { ValidatorSet } from '../consensus/validator-set.js';
import type { ChainStore, Prepared } from '../state/store.js';
import { MemoryKv, Overlay, type KvReader } from '../state/kv.js';
import { loadValidatorSet } from '../vm/modules/staking.js';
import {
  encodeReceipt,
  type Receipt,
  type VmEvent,
  type BlockContext,
  type Misbehaviour,
  type ValidatorUpdate,
} from '../vm/types.js';
import type { Vm } from '../vm/vm.js';
import type { CommittedBlock } from '../rpc/backend.js';
import type { ChainGenesis } from './genesis.js';

export const META_GENESIS_HASH = 'genesisHash';
export const META_CHAIN_ID = 'chainId';

/** Node metadata key of a height's validator updates (written in the block's batch; the BFT engine replays them). */
export function metaValidatorUpdatesKey(height: bigint): string {
  return `validatorUpdates/${height}`;
}

/** Node metadata key of the engine's ChainState snapshot (one entry, overwritten in the batch of the block it follows). */
export const META_CHAIN_STATE = 'chainStateSnapshot';

const ValidatorUpdatesSchema = list(
  struct('ValidatorUpdate', [
    ['publicKey', bytes({ exact: 32 })],
    ['power', u64],
  ] as const),
  { max: MAX_VALIDATORS * 2 },
);

export function encodeValidatorUpdates(updates: readonly ValidatorUpdate[]): Uint8Array {
  return encode(
    ValidatorUpdatesSchema,
    updates.map((u) => ({ publicKey: u.publicKey, power: u.power })),
  );
}

export function decodeValidatorUpdates(b: Uint8Array): ValidatorUpdate[] {
  return decode(ValidatorUpdatesSchema, b, 64 * 1024);
}

/** A tx to execute: its bytes, decoded form, hash, and whether its signature was already verified (mempool). */
export interface BlockTx {
  bytes: Uint8Array;
  tx: Tx;
  hash: Uint8Array;
  signatureVerified: boolean;
}

/** An executed block, not yet committed: everything the commit batch and the subscribers need. */
export interface BuiltBlock {
  block: Block;
  hash: Uint8Array;
  bytes: Uint8Array;
  prepared: Prepared;
  txs: BlockTx[];
  receipts: Receipt[];
  /** encodeReceipt of each receipt (hashed into resultsRoot and stored in the tx index). */
  receiptBytes: Uint8Array[];
  beginEvents: VmEvent[];
  endEvents: VmEvent[];
  /** The staking module's end-block validator changes (the BFT engine applies them at height + 2). */
  validatorUpdates: ValidatorUpdate[];
}

export interface BuildBlockInput {
  height: bigint;
  timeMs: bigint;
  proposer: Uint8Array;
  txs: BlockTx[];
  lastCommit: Commit | null;
  /** Committed double-sign evidence to include; its misbehaviour is handed to begin-block (slashing). */
  evidence?: DuplicateVoteEvidence[];
  misbehaviour?: Misbehaviour[];
  /**
   * The BFT engine fixes these from its own validator sets (updates take effect at H+2); without them (single
   * validator) they are computed from the state before and after the block.
   */
  validatorsHash?: Uint8Array;
  nextValidatorsHash?: Uint8Array;
}

export class InvalidBlockError extends Error {}

/** validatorsHash of the active set in `state` (the consensus engine's canonical hash). */
export function validatorsHashOf(state: KvReader): Uint8Array {
  const vals = loadValidatorSet(state);
  if (vals.length === 0) return EMPTY_HASH;
  return ValidatorSet.fromGenesis(vals.map((v) => ({ publicKey: v.publicKey, power: v.power }))).hash();
}

export class ChainApp {
  private latestHeader: Header | null = null;

  constructor(
    private readonly genesis: ChainGenesis,
    private readonly deps: { store: ChainStore; vm: Vm; logger: Logger },
  ) {}

  get chainId(): string {
    return this.genesis.vm.chainId;
  }

  /** Applies genesis once (a height-0 commit) or checks that the store was made from this same genesis. */
  async initChain(): Promise<'applied' | 'resumed'> {
    const { store, vm, logger } = this.deps;
    if (store.initialized()) {
      const stored = store.getMeta(META_GENESIS_HASH);
      if (stored === undefined || !equalBytes(stored, this.genesis.hash)) {
        throw new Error(
          `the database was created from another genesis (stored ${stored ? toHex(stored) : 'none'}, genesis.json ${toHex(this.genesis.hash)}); use a new data folder`,
        );
      }
      const h = store.height();
      if (h > 0n) {
        const b = store.getBlock(h);
        assert(b !== undefined, 'the last committed block is missing', { height: h.toString() });
        this.latestHeader = decodeBlock(b).header;
      }
      logger.info(
        { height: h.toString(), stateRoot: toHex(store.stateRoot()) },
        'resuming at the last committed height',
      );
      return 'resumed';
    }
    const overlay = new Overlay(store.reader());
    vm.initGenesis(overlay, this.genesis.vm);
    const prepared = store.prepare(overlay.changes());
    const enc = new TextEncoder();
    await store.commitBlock({
      prepared,
      height: 0n,
      block: null,
      blockHash: null,
      commit: null,
      txs: [],
      meta: [
        { key: META_GENESIS_HASH, value: this.genesis.hash },
        { key: META_CHAIN_ID, value: enc.encode(this.chainId) },
      ],
    });
    logger.info({ chainId: this.chainId, stateRoot: toHex(prepared.root) }, 'genesis applied at height 0');
    return 'applied';
  }

  height(): bigint {
    return this.deps.store.height();
  }

  /** Committed state. */
  stateReader(): KvReader {
    return this.deps.store.reader();
  }

  latest(): Header | null {
    return this.latestHeader;
  }

  /** The commit certificate of the last block (goes into the next block as lastCommit). */
  lastCommit(): Commit | null {
    const h = this.deps.store.height();
    if (h === 0n) return null;
    const c = this.deps.store.getCommit(h);
    return c === undefined ? null : decodeCommit(c);
  }

  /** Executes begin-block, the txs in order, end-block on a copy of state and builds the header (roots included). */
  buildBlock(input: BuildBlockInput): BuiltBlock {
    const { store, vm } = this.deps;
    assert(input.height === store.height() + 1n, 'block height must follow the last committed height', {
      height: input.height.toString(),
    });
    const prev = this.latestHeader;
    assert(prev === null || input.timeMs > prev.timeMs, 'block time must increase', {
      timeMs: input.timeMs.toString(),
    });
    const ctx: BlockContext = {
      chainId: this.chainId,
      height: input.height,
      timeMs: input.timeMs,
      proposer: input.proposer,
    };
    const overlay = new Overlay(store.reader());
    const validatorsHash = input.validatorsHash ?? validatorsHashOf(overlay);
    const evidence = input.evidence ?? [];
    const beginEvents = vm.beginBlock(overlay, ctx, input.misbehaviour ?? []);
    const receipts = input.txs.map((t) =>
      vm.execute(overlay, ctx, t.tx, {
        txBytes: t.bytes.length,
        txHash: t.hash,
        signatureVerified: t.signatureVerified,
      }),
    );
    const { events: endEvents, validatorUpdates } = vm.endBlock(overlay, ctx);
    const nextValidatorsHash = input.nextValidatorsHash ?? validatorsHashOf(overlay);
    const receiptBytes = receipts.map(encodeReceipt);
    const prepared = store.prepare(overlay.changes());
    const txBytes = input.txs.map((t) => t.bytes);
    const header: Header = {
      chainId: this.chainId,
      height: input.height,
      timeMs: input.timeMs,
      prevHash: prev === null ? new Uint8Array(32) : blockHash(prev),
      txRoot: txRootOf(txBytes),
      stateRoot: prepared.root,
      // resultsRootOf(receipts), with each receipt encoded once for both the root and the tx index.
      resultsRoot: merkleRoot(receiptBytes.map((b) => sha256(b))),
      validatorsHash,
      nextValidatorsHash,
      lastCommitHash: commitHashOf(input.lastCommit),
      evidenceRoot: evidenceRootOf(evidence),
      proposer: input.proposer,
      gasUsed: receipts.reduce((s, r) => s + r.gasUsed, 0n),
    };
    const block: Block = { header, txs: txBytes, evidence, lastCommit: input.lastCommit };
    return {
      block,
      hash: blockHash(header),
      bytes: encodeBlock(block),
      prepared,
      txs: input.txs,
      receipts,
      receiptBytes,
      beginEvents,
      endEvents,
      validatorUpdates,
    };
  }

  /**
   * Re-executes a block proposed by another validator and checks that its roots match (for the BFT engine).
   * `isVerified` tells which txs' signatures the mempool already checked. Throws InvalidBlockError on a mismatch.
   */
  executeBlock(block: Block, isVerified: (hash: Uint8Array) => boolean, misbehaviour: Misbehaviour[] = []): BuiltBlock {
    const txs = block.txs.map((bytes, i) => {
      const hash = txHash(bytes);
      let tx: Tx;
      try {
        tx = decodeTx(bytes);
      } catch (e) {
        throw new InvalidBlockError(
          `proposed block ${block.header.height}: tx ${i} does not decode (${(e as Error).message})`,
        );
      }
      return { bytes, tx, hash, signatureVerified: isVerified(hash) };
    });
    const h = block.header;
    const built = this.buildBlock({
      height: h.height,
      timeMs: h.timeMs,
      proposer: h.proposer,
      txs,
      lastCommit: block.lastCommit,
      evidence: block.evidence,
      misbehaviour,
      validatorsHash: h.validatorsHash,
      nextValidatorsHash: h.nextValidatorsHash,
    });
    if (!equalBytes(built.hash, blockHash(block.header))) {
      const a = built.block.header;
      const b = block.header;
      const diff = (Object.keys(a) as (keyof Header)[]).filter((k) => {
        const x = a[k];
        const y = b[k];
        return x instanceof Uint8Array && y instanceof Uint8Array ? !equalBytes(x, y) : x !== y;
      });
      throw new InvalidBlockError(
        `proposed block ${block.header.height} does not re-execute to the same header (differs in ${diff.join(', ')})`,
      );
    }
    return built;
  }

  /** A commit certificate with this validator's own precommit signature (enough when it holds > 2/3 of power). */
  signCommit(built: BuiltBlock, key: KeyPair, round = 0): Commit {
    const validator = addressOf(key.publicKey);
    const vote = signVote(
      {
        chainId: this.chainId,
        type: VOTE_PRECOMMIT,
        height: built.block.header.height,
        round,
        blockHash: built.hash,
        validator,
      },
      key,
    );
    return {
      height: built.block.header.height,
      round,
      blockHash: built.hash,
      signatures: [{ validator, signature: vote.signature }],
    };
  }

  /** A committed block and its commit certificate (both undefined above the committed height). */
  committedAt(height: bigint): { block: Block; commit: Commit } | undefined {
    const b = this.deps.store.getBlock(height);
    const c = this.deps.store.getCommit(height);
    return b === undefined || c === undefined ? undefined : { block: decodeBlock(b), commit: decodeCommit(c) };
  }

  /** Validator updates stored with block `height`; undefined if that block was written before they were stored. */
  validatorUpdatesAt(height: bigint): ValidatorUpdate[] | undefined {
    const b = this.deps.store.getMeta(metaValidatorUpdatesKey(height));
    return b === undefined ? undefined : decodeValidatorUpdates(b);
  }

  /** Genesis validators (publicKey, power) as the staking module sets them up: the consensus set of height 1. */
  genesisValidators(): ValidatorUpdate[] {
    const overlay = new Overlay(new MemoryKv());
    this.deps.vm.initGenesis(overlay, this.genesis.vm);
    return loadValidatorSet(overlay).map((v) => ({ publicKey: v.publicKey, power: v.power }));
  }

  /** The last ChainState snapshot the BFT producer stored (encoded), if any. */
  chainStateSnapshot(): Uint8Array | undefined {
    return this.deps.store.getMeta(META_CHAIN_STATE);
  }

  /**
   * Writes the block, its commit, state changes, tx index and validator updates in one atomic batch, with the
   * consensus state after this block when given (so the snapshot never runs ahead of or behind the stored chain).
   */
  async commitBlock(
    built: BuiltBlock,
    commit: Commit,
    opts: { chainStateSnapshot?: Uint8Array } = {},
  ): Promise<CommittedBlock> {
    const h = built.block.header.height;
    await this.deps.store.commitBlock({
      prepared: built.prepared,
      height: h,
      block: built.bytes,
      blockHash: built.hash,
      commit: encodeCommit(commit),
      txs: built.receiptBytes.map((receiptBytes, index) => ({ hash: built.txs[index]!.hash, index, receiptBytes })),
      // Every height, even without changes: a restarted BFT node rebuilds its validator sets from these.
      meta: [
        { key: metaValidatorUpdatesKey(h), value: encodeValidatorUpdates(built.validatorUpdates) },
        ...(opts.chainStateSnapshot === undefined ? [] : [{ key: META_CHAIN_STATE, value: opts.chainStateSnapshot }]),
      ],
    });
    this.latestHeader = built.block.header;
    return {
      height: h,
      hash: built.hash,
      block: built.block,
      txs: built.txs.map((t, index) => ({ hash: t.hash, index, tx: t.tx, receipt: built.receipts[index]! })),
      beginEvents: built.beginEvents,
      endEvents: built.endEvents,
    };
  }
}
