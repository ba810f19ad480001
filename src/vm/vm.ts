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
import { Gas, GAS, MeteredState, OutOfGas } from './gas.js';
import { stateKey } from './store.js';
import { toHex } from '../core/bytes.js';
import type {
  BlockContext, Genesis, Misbehaviour, Module, OpResult, Receipt, ValidatorUpdate, VmEvent,
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

/** A sender's address and nonce key, derived from its public key once and reused by its later txs. */
interface SenderEntry {
  address: Uint8Array;
  nonceKey: Uint8Array;
}

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
  /** By public key hex. addressOf is sha256 (~3 µs); a pure function of the key, so a hit is what it would return. */
  private readonly senders = new Map<string, SenderEntry>();

  private readonly senderCacheMax: number;

  constructor(modules: readonly Module[], opts: { senderCacheMax?: number } = {}) {
    this.senderCacheMax = opts.senderCacheMax ?? SENDER_CACHE_MAX;
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
    const ctx = { state, block, emit: (module: string, type: string, attrs: Record<string, string>) => events.push({ module, type, attrs }) };
    for (const m of this.modules.values()) m.beginBlock?.(ctx, misbehaviour);
    return events;
  }

  endBlock(state: KvWriter, block: BlockContext): { events: VmEvent[]; validatorUpdates: ValidatorUpdate[] } {
    const events: VmEvent[] = [];
    const validatorUpdates: ValidatorUpdate[] = [];
    const ctx = { state, block, emit: (module: string, type: string, attrs: Record<string, string>) => events.push({ module, type, attrs }) };
    for (const m of this.modules.values()) {
      const u = m.endBlock?.(ctx);
      if (u) validatorUpdates.push(...u);
    }
    return { events, validatorUpdates };
  }

  private senderOf(publicKey: Uint8Array): SenderEntry {
    const k = toHex(publicKey);
    let e = this.senders.get(k);
    if (e === undefined) {
      const address = addressOf(publicKey);
      e = { address, nonceKey: nonceKey(address) };
      if (this.senders.size >= this.senderCacheMax) this.senders.delete(this.senders.keys().next().value!);
      this.senders.set(k, e);
    }
    return e;
  }

  /** Executes one tx against `state` (the block's overlay). Deterministic; never throws for a bad tx. */
  execute(state: KvWriter, block: BlockContext, tx: Tx, opts: ExecuteOptions): Receipt {
    const { body } = tx;
    const receipt = (code: string, message: string, gasUsed: bigint, events: VmEvent[] = []): Receipt => ({
      txHash: opts.txHash, code, message, gasUsed, events,
    });
    if (body.chainId !== block.chainId) return receipt(VM_CODES.WRONG_CHAIN, `tx is for chain ${body.chainId}`, 0n);
    if (!opts.signatureVerified && !verifyTxSignature(tx)) return receipt(VM_CODES.BAD_SIGNATURE, 'signature does not verify', 0n);
    const { address: sender, nonceKey: senderNonceKey } = this.senderOf(body.sender);
    const rawNonce = state.get(senderNonceKey);
    const expected = rawNonce === undefined ? 0n : decode(u64, rawNonce, 16);
    if (body.nonce !== expected) return receipt(VM_CODES.BAD_NONCE, `nonce ${body.nonce}, expected ${expected}`, 0n);

    // From here on the sender is authenticated: the nonce advances whatever happens.
    state.set(senderNonceKey, encode(u64, expected + 1n));
    const gas = new Gas(body.gasLimit);
    const events: VmEvent[] = [];
    try {
      gas.chargeUnits(Number(GAS.txBase) + Number(GAS.txByte) * opts.txBytes);
      const mod = this.modules.get(body.module);
      const op = mod?.ops[body.op];
      if (!mod || !op || !Object.hasOwn(mod.ops, body.op)) {
        return receipt(VM_CODES.UNKNOWN_OP, `unknown operation ${body.module}.${body.op}`, gas.used);
      }
      let args: unknown;
      try {
        args = decode(op.args, body.args, MAX_TX_ARGS_BYTES);
      } catch (e) {
        if (e instanceof CodecError) return receipt(VM_CODES.BAD_ARGS, `bad arguments: ${e.message}`, gas.used);
        throw e;
      }
      gas.charge(op.gasBase);
      const result = runIsolated(state, (opState) => op.run({
        state: new MeteredState(opState, gas),
        block,
        sender,
        senderKey: body.sender,
        txHash: opts.txHash,
        gas,
        emit(type, attrs) {
          gas.chargeUnits(EVENT_GAS);
          events.push({ module: body.module, type, attrs });
        },
      }, args));
      if (!result.ok) return receipt(result.code, result.message, gas.used);
      return receipt(VM_CODES.OK, '', gas.used, events);
    } catch (e) {
      if (e instanceof OutOfGas) return receipt(VM_CODES.OUT_OF_GAS, e.message, gas.used);
      throw e;
    }
  }
}

const EVENT_GAS = Number(GAS.event);

/**
 * Runs an op so that its writes reach `state` only when it succeeds. On the block's Overlay itself this is a
 * savepoint (rolled back on failure or throw); on any other store, a tx overlay committed on success.
 */
function runIsolated(state: KvWriter, run: (opState: KvWriter) => OpResult): OpResult {
  if (state.constructor === Overlay) {
    const block = state as Overlay;
    block.beginSavepoint();
    let result: OpResult | undefined;
    try {
      result = run(block);
    } finally {
      if (result?.ok === true) block.releaseSavepoint();
      else block.rollbackSavepoint();
    }
    return result;
  }
  const overlay = new Overlay(state);
  const result = run(overlay);
  if (result.ok) overlay.commitTo(state);
  return result;
}
