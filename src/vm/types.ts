// The VM's public types: block context, events, receipts, genesis, and the module contract every module implements.
import { struct, str, u64, list, bytes, encode, type Schema, type Infer } from '../core/codec.js';
import { sha256, merkleRoot } from '../core/hash.js';
import type { KvWriter } from '../state/kv.js';
import type { Gas } from './gas.js';

/** What a block tells the VM. Time comes from the header only. */
export interface BlockContext {
  chainId: string;
  height: bigint;
  /** Block time, ms since the Unix epoch (UTC), from the header. */
  timeMs: bigint;
  /** Address of the block's proposer. */
  proposer: Uint8Array;
}

/** An event: module, type and string attributes (amounts as decimal strings, bytes as hex). */
export interface VmEvent {
  module: string;
  type: string;
  attrs: Record<string, string>;
}

export const EventSchema = struct('Event', [
  ['module', str({ max: 32 })],
  ['type', str({ max: 64 })],
  [
    'attrs',
    list(
      struct('Attr', [
        ['k', str({ max: 64 })],
        ['v', str({ max: 4096 })],
      ] as const),
      { max: 64 },
    ),
  ],
] as const);

/** 'OK' for success; otherwise the failing module's error code, e.g. 'asset.INSUFFICIENT_FUNDS'. */
export interface Receipt {
  txHash: Uint8Array;
  code: string;
  message: string;
  gasUsed: bigint;
  events: VmEvent[];
}

export const ReceiptSchema = struct('Receipt', [
  ['txHash', bytes({ exact: 32 })],
  ['code', str({ max: 96 })],
  ['message', str({ max: 1024 })],
  ['gasUsed', u64],
  ['events', list(EventSchema, { max: 1024 })],
] as const);
export type ReceiptWire = Infer<typeof ReceiptSchema>;

export function receiptToWire(r: Receipt): ReceiptWire {
  return {
    txHash: r.txHash,
    code: r.code,
    message: r.message,
    gasUsed: r.gasUsed,
    events: r.events.map((e) => ({
      module: e.module,
      type: e.type,
      attrs: Object.keys(e.attrs)
        .sort()
        .map((k) => ({ k, v: e.attrs[k]! })),
    })),
  };
}

export function receiptFromWire(w: ReceiptWire): Receipt {
  return {
    txHash: w.txHash,
    code: w.code,
    message: w.message,
    gasUsed: w.gasUsed,
    events: w.events.map((e) => ({
      module: e.module,
      type: e.type,
      attrs: Object.fromEntries(e.attrs.map((a) => [a.k, a.v])),
    })),
  };
}

export function encodeReceipt(r: Receipt): Uint8Array {
  return encode(ReceiptSchema, receiptToWire(r));
}

/** The header's resultsRoot: Merkle root over the hashes of the block's encoded receipts, in tx order. */
export function resultsRootOf(receipts: readonly Receipt[]): Uint8Array {
  return merkleRoot(receipts.map((r) => sha256(encodeReceipt(r))));
}

/** A business outcome: success, or a failure code from the module's enum with a message a person understands. */
export type OpResult = { ok: true } | { ok: false; code: string; message: string };

export const OK: OpResult = { ok: true };

export function failure(code: string, message: string): OpResult {
  return { ok: false, code, message };
}

/** Everything an operation may touch. `state` is the tx's own overlay, metered for gas. */
export interface OpContext {
  readonly state: KvWriter;
  readonly block: BlockContext;
  /** Address of the tx sender (20 bytes). */
  readonly sender: Uint8Array;
  readonly senderKey: Uint8Array;
  readonly txHash: Uint8Array;
  readonly gas: Gas;
  emit(type: string, attrs: Record<string, string>): void;
}

export interface OpDef<A> {
  readonly args: Schema<A>;
  /** Fixed gas charged before the operation runs, on top of state access costs (docs/vm.md). */
  readonly gasBase: bigint;
  run(ctx: OpContext, args: A): OpResult;
}

/** Context of begin-block and end-block steps: no sender, not metered by a tx (bounded by the module's own limits). */
export interface BlockStepContext {
  readonly state: KvWriter;
  readonly block: BlockContext;
  emit(module: string, type: string, attrs: Record<string, string>): void;
}

/** A validator-set change produced by the staking module at end-block (power 0 removes). */
export interface ValidatorUpdate {
  publicKey: Uint8Array;
  power: bigint;
}

/** Committed double-sign evidence handed to begin-block (the consensus layer verified it). */
export interface Misbehaviour {
  validator: Uint8Array;
  height: bigint;
  timeMs: bigint;
}

export interface Module {
  readonly name: string;
  // biome-ignore lint/suspicious/noExplicitAny: each op has its own body type; the registry holds them side by side
  readonly ops: Record<string, OpDef<any>>;
  initGenesis?(state: KvWriter, genesis: Genesis): void;
  beginBlock?(ctx: BlockStepContext, misbehaviour: readonly Misbehaviour[]): void;
  endBlock?(ctx: BlockStepContext): ValidatorUpdate[] | undefined;
}

export type Role = 'validator' | 'lender' | 'dealer' | 'manufacturer' | 'bureau' | 'registrar' | 'bank';

export const ROLES: readonly Role[] = ['validator', 'lender', 'dealer', 'manufacturer', 'bureau', 'registrar', 'bank'];

/** Regulatory caps from genesis, in basis points (1 bp = 0.01%) and months. */
export interface RegulatoryCaps {
  ltvBpsPrivateFuel: number;
  ltvBpsPrivateNewEnergy: number;
  ltvBpsCommercial: number;
  ltvBpsUsed: number;
  termMonthsMax: number;
  termMonthsMaxUsed: number;
}

export const DEFAULT_CAPS: RegulatoryCaps = {
  ltvBpsPrivateFuel: 8000,
  ltvBpsPrivateNewEnergy: 8500,
  ltvBpsCommercial: 7000,
  ltvBpsUsed: 7000,
  termMonthsMax: 60,
  termMonthsMaxUsed: 36,
};

/** The genesis document's VM part (src/node/genesis.ts parses and validates the file into this). */
export interface Genesis {
  chainId: string;
  genesisTimeMs: bigint;
  members: { id: string; name: string; roles: Role[]; accounts: Uint8Array[] /* public keys */ }[];
  validators: { publicKey: Uint8Array; stake: bigint; memberId: string }[];
  /** Initial balances: asset code (e.g. "CNY"), account address, minor units. */
  balances: { asset: string; address: Uint8Array; amount: bigint }[];
  /** Assets with their decimals and issuing member ids. */
  assets: { code: string; decimals: number }[];
  caps: RegulatoryCaps;
  /** Staking parameters. */
  staking: { bondAsset: string; unbondingMs: bigint; slashBps: number; jailMs: bigint; minStake: bigint };
}
