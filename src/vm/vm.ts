// The VM: one deterministic path execute(state, block, tx) -> receipt, plus genesis, begin-block and end-block.
//
// A tx's op runs in its own overlay over the block's state (or under a savepoint of the block's overlay, which is the
// same and cheaper), metered for gas. Success keeps its writes; any failure discards them, so a failed tx changes
// nothing but its sender's nonce, and still yields a receipt with its code.
import { decode, encode, u64 } from '../core/codec.js';
import { addressOf } from '../core/keys.js';
import { verifyTxSignature, type Tx } from '../core/types.js';
import { CodecError } from '../core/errors.js';
import { MAX_TX_ARGS_BYTES } from '../core/constants.js';
import { Overlay, type KvReader, type KvWriter } from '../state/kv.js';
import { Gas, GAS, OutOfGas, readGas, writeGas } from './gas.js';
import { BytesFifoMap, internAddress, memoByBytes, stateKey } from './store.js';
import type {
  BlockContext,
  Genesis,
  Misbehaviour,
  Module,
  OpContext,
  OpResult,
  Receipt,
  ValidatorUpdate,
  VmEvent,
} from './types.js';

export const VM_CODES = {
  OK: 'OK',
  WRONG_CHAIN: 'vm.WRONG_CHAIN',
  BAD_SIGNATURE: 'vm.BAD_SIGNATURE',
  BAD_NONCE: 'vm.BAD_NONCE',
  OUT_OF_GAS: 'vm.OUT_OF_GAS',
  UNKNOWN_OP: 'vm.UNKNOWN_OP',
  BAD_ARGS: 'vm.BAD_ARGS',
} as const;

export function nonceKey(address: Uint8Array): Uint8Array {
  return stateKey('auth', 'nonce', address);
}

/** The next nonce an account must use (0 for a new account). */
export function loadNonce(state: KvReader, address: Uint8Array): bigint {
  const raw = state.get(nonceKey(address));
  return raw === undefined ? 0n : decode(u64, raw, 16);
}

/** An account's nonce key, memoised on its (interned) address. */
const senderNonceKey = memoByBytes(nonceKey);

/**
 * Senders remembered (FIFO eviction, ~8 MB at most): a sender seen again before 32,768 other senders skips the
 * sha256; beyond that each tx pays it again (~3 µs).
 */
export const SENDER_CACHE_MAX = 32_768;

export interface ExecuteOptions {
  /** The tx's encoded bytes length (for the byte gas). */
  txBytes: number;
  txHash: Uint8Array;
  /** True when the mempool already verified this exact tx's signature: it is not verified again. */
  signatureVerified: boolean;
}

export class Vm {
  private readonly modules = new Map<string, Module>();
  /**
   * Sender addresses (interned) by public key (an ed25519 key's bytes are uniformly spread). addressOf is sha256
   * (~3 µs); a pure function of the key, so a hit is what it would return.
   */
  private readonly senders: BytesFifoMap<Uint8Array>;

  constructor(modules: readonly Module[], opts: { senderCacheMax?: number } = {}) {
    const max = opts.senderCacheMax ?? SENDER_CACHE_MAX;
    if (!(Number.isSafeInteger(max) && max >= 1))
      throw new RangeError(`senderCacheMax must be a positive integer, got ${max}`);
    this.senders = new BytesFifoMap(max);
    for (const m of modules) {
      if (this.modules.has(m.name)) throw new Error(`module ${m.name} registered twice`);
      this.modules.set(m.name, m);
    }
  }

  moduleNames(): string[] {
    return [...this.modules.keys()];
  }

  initGenesis(state: KvWriter, genesis: Genesis): void {
    for (const m of this.modules.values()) m.initGenesis?.(state, genesis);
  }

  beginBlock(state: KvWriter, block: BlockContext, misbehaviour: readonly Misbehaviour[]): VmEvent[] {
    const events: VmEvent[] = [];
    const ctx = {
      state,
      block,
      emit: (module: string, type: string, attrs: Record<string, string>) => events.push({ module, type, attrs }),
    };
    for (const m of this.modules.values()) m.beginBlock?.(ctx, misbehaviour);
    return events;
  }

  endBlock(state: KvWriter, block: BlockContext): { events: VmEvent[]; validatorUpdates: ValidatorUpdate[] } {
    const events: VmEvent[] = [];
    const validatorUpdates: ValidatorUpdate[] = [];
    const ctx = {
      state,
      block,
      emit: (module: string, type: string, attrs: Record<string, string>) => events.push({ module, type, attrs }),
    };
    for (const m of this.modules.values()) {
      const u = m.endBlock?.(ctx);
      if (u) validatorUpdates.push(...u);
    }
    return { events, validatorUpdates };
  }

  /** The sender's address (its nonce key hangs off it: senderNonceKey). */
  private senderOf(publicKey: Uint8Array): Uint8Array {
    const hit = this.senders.entry(publicKey);
    if (hit !== undefined) return hit.value;
    const address = internAddress(addressOf(publicKey));
    this.senders.add(publicKey, address);
    return address;
  }

  /** Senders held in the cache (for tests and diagnostics). */
  senderCacheSize(): number {
    return this.senders.size;
  }

  /** Executes one tx against `state` (the block's overlay). Deterministic; never throws for a bad tx. */
  execute(state: KvWriter, block: BlockContext, tx: Tx, opts: ExecuteOptions): Receipt {
    const { body } = tx;
    const txHash = opts.txHash;
    if (body.chainId !== block.chainId)
      return receiptOf(txHash, VM_CODES.WRONG_CHAIN, `tx is for chain ${body.chainId}`, 0n, []);
    if (!opts.signatureVerified && !verifyTxSignature(tx))
      return receiptOf(txHash, VM_CODES.BAD_SIGNATURE, 'signature does not verify', 0n, []);
    const sender = this.senderOf(body.sender);
    const senderKey = senderNonceKey(sender);
    const rawNonce = state.get(senderKey);
    const expected = rawNonce === undefined ? 0n : decode(u64, rawNonce, 16);
    if (body.nonce !== expected)
      return receiptOf(txHash, VM_CODES.BAD_NONCE, `nonce ${body.nonce}, expected ${expected}`, 0n, []);

    // From here on the sender is authenticated: the nonce advances whatever happens.
    state.set(senderKey, encode(u64, expected + 1n));
    const run = new TxRun(body.gasLimit, block, sender, body.sender, txHash, body.module);
    try {
      run.chargeUnits(TX_BASE_GAS + TX_BYTE_GAS * opts.txBytes);
      const mod = this.modules.get(body.module);
      const op = mod?.ops[body.op];
      if (!mod || !op || !Object.hasOwn(mod.ops, body.op)) {
        return receiptOf(txHash, VM_CODES.UNKNOWN_OP, `unknown operation ${body.module}.${body.op}`, run.used, []);
      }
      let args: unknown;
      try {
        args = decode(op.args, body.args, MAX_TX_ARGS_BYTES);
      } catch (e) {
        if (e instanceof CodecError)
          return receiptOf(txHash, VM_CODES.BAD_ARGS, `bad arguments: ${e.message}`, run.used, []);
        throw e;
      }
      run.charge(op.gasBase);
      // The block's overlay runs the op under a savepoint (rolled back on failure or throw); any other store gets a
      // tx overlay, committed on success.
      const blockState = state.constructor === Overlay ? (state as Overlay) : null;
      const txOverlay = blockState === null ? new Overlay(state) : null;
      const ctx = run.over(blockState ?? txOverlay!);
      let result: OpResult;
      if (blockState !== null) {
        blockState.beginSavepoint();
        let r: OpResult | undefined;
        try {
          r = op.run(ctx, args);
        } finally {
          if (r?.ok === true) blockState.releaseSavepoint();
          else blockState.rollbackSavepoint();
        }
        result = r;
      } else {
        const overlay = txOverlay!;
        let r: OpResult | undefined;
        try {
          r = op.run(ctx, args);
          if (r.ok) overlay.commitTo(state);
        } finally {
          if (r?.ok !== true) overlay.discard();
        }
        result = r;
      }
      if (!result.ok) return receiptOf(txHash, result.code, result.message, run.used, []);
      return receiptOf(txHash, VM_CODES.OK, '', run.used, run.events ?? []);
    } catch (e) {
      if (e instanceof OutOfGas) return receiptOf(txHash, VM_CODES.OUT_OF_GAS, e.message, run.used, []);
      throw e;
    }
  }
}

/**
 * One tx's run in one object: its gas meter, the op's context and the context's metered view of the state (reads
 * and writes charged as docs/vm.md says). One allocation per tx instead of a meter, a view, a context and its emit
 * closure; `state` and `gas` are the object itself.
 */
class TxRun extends Gas implements OpContext, KvWriter {
  private inner: KvWriter | null = null;
  /** Made on the first event, as a one-element array: a receipt lives until its block is committed, and `[]` grown
   * by push would keep a 17-slot backing store per tx (most txs emit one event). */
  events: VmEvent[] | null = null;

  constructor(
    limit: bigint,
    readonly block: BlockContext,
    readonly sender: Uint8Array,
    readonly senderKey: Uint8Array,
    readonly txHash: Uint8Array,
    private readonly module: string,
  ) {
    super(limit);
  }

  /** The op's context over `state` (the block's overlay under a savepoint, or a tx overlay). */
  over(state: KvWriter): this {
    this.inner = state;
    return this;
  }

  get state(): KvWriter {
    return this;
  }

  get gas(): Gas {
    return this;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const v = this.inner!.get(key);
    this.chargeUnits(readGas(v === undefined ? 0 : v.length));
    return v;
  }

  set(key: Uint8Array, value: Uint8Array): void {
    this.chargeUnits(writeGas(key.length, value.length));
    this.inner!.set(key, value);
  }

  delete(key: Uint8Array): void {
    this.chargeUnits(writeGas(key.length, 0));
    this.inner!.delete(key);
  }

  emit(type: string, attrs: Record<string, string>): void {
    this.chargeUnits(EVENT_GAS);
    const ev: VmEvent = { module: this.module, type, attrs };
    if (this.events === null) this.events = [ev];
    else this.events.push(ev);
  }
}

function receiptOf(txHash: Uint8Array, code: string, message: string, gasUsed: bigint, events: VmEvent[]): Receipt {
  return { txHash, code, message, gasUsed, events };
}

const TX_BASE_GAS = Number(GAS.txBase);
const TX_BYTE_GAS = Number(GAS.txByte);
const EVENT_GAS = Number(GAS.event);
