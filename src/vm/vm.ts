// The VM: one deterministic path execute(state, block, tx) -> receipt, plus genesis, begin-block and end-block.
//
// A tx runs in its own overlay over the block's state, metered for gas. Success commits the overlay; any failure
// discards it, so a failed tx changes nothing but its sender's nonce, and still yields a receipt with its code.
import { decode, encode, u64 } from '../core/codec.js';
import { addressOf } from '../core/keys.js';
import { verifyTxSignature, type Tx } from '../core/types.js';
import { CodecError } from '../core/errors.js';
import { MAX_TX_ARGS_BYTES } from '../core/constants.js';
import { Overlay, type KvReader, type KvWriter } from '../state/kv.js';
import { Gas, GAS, MeteredState, OutOfGas } from './gas.js';
import { stateKey } from './store.js';
import type {
  BlockContext, Genesis, Misbehaviour, Module, OpContext, Receipt, ValidatorUpdate, VmEvent,
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

function saveNonce(state: KvWriter, address: Uint8Array, nonce: bigint): void {
  state.set(nonceKey(address), encode(u64, nonce));
}

export interface ExecuteOptions {
  /** The tx's encoded bytes length (for the byte gas). */
  txBytes: number;
  txHash: Uint8Array;
  /** True when the mempool already verified this exact tx's signature: it is not verified again. */
  signatureVerified: boolean;
}

export class Vm {
  private readonly modules = new Map<string, Module>();

  constructor(modules: readonly Module[]) {
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

  /** Executes one tx against `state` (the block's overlay). Deterministic; never throws for a bad tx. */
  execute(state: KvWriter, block: BlockContext, tx: Tx, opts: ExecuteOptions): Receipt {
    const { body } = tx;
    const receipt = (code: string, message: string, gasUsed: bigint, events: VmEvent[] = []): Receipt => ({
      txHash: opts.txHash, code, message, gasUsed, events,
    });
    if (body.chainId !== block.chainId) return receipt(VM_CODES.WRONG_CHAIN, `tx is for chain ${body.chainId}`, 0n);
    if (!opts.signatureVerified && !verifyTxSignature(tx)) return receipt(VM_CODES.BAD_SIGNATURE, 'signature does not verify', 0n);
    const sender = addressOf(body.sender);
    const expected = loadNonce(state, sender);
    if (body.nonce !== expected) return receipt(VM_CODES.BAD_NONCE, `nonce ${body.nonce}, expected ${expected}`, 0n);

    // From here on the sender is authenticated: the nonce advances whatever happens.
    saveNonce(state, sender, expected + 1n);
    const gas = new Gas(body.gasLimit);
    const events: VmEvent[] = [];
    const overlay = new Overlay(state);
    try {
      gas.charge(GAS.txBase + GAS.txByte * BigInt(opts.txBytes));
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
      const ctx: OpContext = {
        state: new MeteredState(overlay, gas),
        block,
        sender,
        senderKey: body.sender,
        txHash: opts.txHash,
        gas,
        emit(type, attrs) {
          gas.charge(GAS.event);
          events.push({ module: body.module, type, attrs });
        },
      };
      const result = op.run(ctx, args);
      if (!result.ok) return receipt(result.code, result.message, gas.used);
      overlay.commitTo(state);
      return receipt(VM_CODES.OK, '', gas.used, events);
    } catch (e) {
      if (e instanceof OutOfGas) return receipt(VM_CODES.OUT_OF_GAS, e.message, gas.used);
      throw e;
    }
  }
}
