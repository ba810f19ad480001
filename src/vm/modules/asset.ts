// asset: multi-currency balances in integer minor units; issue and redeem by settlement banks; transfers.
//
// Invariant (checked by tests): for every asset, the supply entry equals the sum of all balances. Every path
// that changes a balance goes through credit/debit below, and only mint/burn change the supply.
import { struct, u8, u64, list, str, type Infer } from '../../core/codec.js';
import { equalBytes } from '../../core/bytes.js';
import { assert } from '../../core/errors.js';
import { KeyBytes, type KvReader, type KvWriter } from '../../state/kv.js';
import { stateKey, load, save, memoByBytes } from '../store.js';
import { OK, failure, type Module, type OpDef, type OpResult, type Genesis } from '../types.js';
import { addressSchema, assetCodeSchema, hex } from '../util.js';
import { hasRole } from './member.js';
import { loadNonce } from '../vm.js';

export const ASSET_CODES = {
  UNKNOWN_ASSET: 'asset.UNKNOWN_ASSET',
  NOT_BANK: 'asset.NOT_BANK',
  ZERO_AMOUNT: 'asset.ZERO_AMOUNT',
  INSUFFICIENT_FUNDS: 'asset.INSUFFICIENT_FUNDS',
  SELF_TRANSFER: 'asset.SELF_TRANSFER',
  SUPPLY_OVERFLOW: 'asset.SUPPLY_OVERFLOW',
} as const;

const U64_MAX = (1n << 64n) - 1n;
/** Most assets the chain knows (the asset list is one state entry). */
export const MAX_ASSETS = 64;

export const AssetDefSchema = struct('AssetDef', [
  ['code', assetCodeSchema],
  ['decimals', u8],
] as const);
export type AssetDef = Infer<typeof AssetDefSchema>;
const AssetListSchema = list(assetCodeSchema, { max: MAX_ASSETS });

export const IssueArgs = struct('asset.issue', [
  ['asset', assetCodeSchema],
  ['to', addressSchema],
  ['amount', u64],
] as const);
export const RedeemArgs = struct('asset.redeem', [
  ['asset', assetCodeSchema],
  ['amount', u64],
] as const);
export const TransferArgs = struct('asset.transfer', [
  ['asset', assetCodeSchema],
  ['to', addressSchema],
  ['amount', u64],
  ['memo', str({ max: 128 })],
] as const);

// ---- state keys ----
const listKey = (): Uint8Array => stateKey('asset', 'list');
const defKeyOf = (code: string): Uint8Array => stateKey('asset', 'def', code);
/** Definition keys by code (at most MAX_ASSETS memoised; every transfer checks its asset). */
const defKeys = new Map<string, Uint8Array>();
function defKey(code: string): Uint8Array {
  let k = defKeys.get(code);
  if (k === undefined) {
    k = KeyBytes.lasting(defKeyOf(code));
    if (defKeys.size < MAX_ASSETS) defKeys.set(code, k);
  }
  return k;
}
const supplyKey = (code: string): Uint8Array => stateKey('asset', 'supply', code);
const balanceKeyOf = (code: string, address: Uint8Array): Uint8Array => stateKey('asset', 'bal', code, address);
/** Per asset code (at most MAX_ASSETS memos; other codes are built each time), keys by address identity. */
const balanceKeyMemos = new Map<string, (address: Uint8Array) => Uint8Array>();
function balanceKey(code: string, address: Uint8Array): Uint8Array {
  let memo = balanceKeyMemos.get(code);
  if (memo === undefined) {
    if (balanceKeyMemos.size >= MAX_ASSETS) return balanceKeyOf(code, address);
    memo = memoByBytes((a) => balanceKeyOf(code, a));
    balanceKeyMemos.set(code, memo);
  }
  return memo(address);
}

export function loadAssetList(state: KvReader): string[] {
  return load(state, listKey(), AssetListSchema) ?? [];
}

export function loadAssetDef(state: KvReader, code: string): AssetDef | null {
  return load(state, defKey(code), AssetDefSchema) ?? null;
}

export function assetExists(state: KvReader, code: string): boolean {
  return state.get(defKey(code)) !== undefined;
}

export function balanceOf(state: KvReader, asset: string, address: Uint8Array): bigint {
  return load(state, balanceKey(asset, address), u64) ?? 0n;
}

export function supplyOf(state: KvReader, asset: string): bigint {
  return load(state, supplyKey(asset), u64) ?? 0n;
}

function saveBalance(state: KvWriter, asset: string, address: Uint8Array, amount: bigint): void {
  saveBalanceAt(state, balanceKey(asset, address), amount);
}

function saveBalanceAt(state: KvWriter, key: Uint8Array, amount: bigint): void {
  // A zero balance is deleted, so the state holds no empty accounts.
  if (amount === 0n) state.delete(key);
  else save(state, key, u64, amount);
}

/** Defines an asset (genesis). Idempotent definitions are refused: each code is defined once. */
export function defineAsset(state: KvWriter, def: AssetDef): void {
  assert(!assetExists(state, def.code), `asset ${def.code} defined twice`);
  const codes = loadAssetList(state);
  assert(codes.length < MAX_ASSETS, 'too many assets');
  codes.push(def.code);
  codes.sort();
  save(state, listKey(), AssetListSchema, codes);
  save(state, defKey(def.code), AssetDefSchema, def);
  save(state, supplyKey(def.code), u64, 0n);
}

/**
 * Moves `amount` of `asset` from one account to another. Fails with asset.UNKNOWN_ASSET or
 * asset.INSUFFICIENT_FUNDS without writing anything. A zero amount or from == to succeeds and changes nothing.
 */
export function transfer(state: KvWriter, asset: string, from: Uint8Array, to: Uint8Array, amount: bigint): OpResult {
  assert(amount >= 0n, 'negative transfer');
  if (!assetExists(state, asset)) return failure(ASSET_CODES.UNKNOWN_ASSET, `unknown asset ${asset}`);
  // Every repayment and transfer comes here: each key is looked up once.
  const fromKey = balanceKey(asset, from);
  const fromBal = load(state, fromKey, u64) ?? 0n;
  if (fromBal < amount) {
    return failure(ASSET_CODES.INSUFFICIENT_FUNDS, `${hex(from)} holds ${fromBal} ${asset}, needs ${amount}`);
  }
  if (amount === 0n || equalBytes(from, to)) return OK;
  saveBalanceAt(state, fromKey, fromBal - amount);
  // Cannot overflow: the destination's balance is at most supply - amount, and supply fits u64.
  const toKey = balanceKey(asset, to);
  saveBalanceAt(state, toKey, (load(state, toKey, u64) ?? 0n) + amount);
  return OK;
}

/** Creates `amount` new units into `to`, raising the supply (issue, genesis, stake at genesis). */
export function mint(state: KvWriter, asset: string, to: Uint8Array, amount: bigint): OpResult {
  assert(amount >= 0n, 'negative mint');
  if (!assetExists(state, asset)) return failure(ASSET_CODES.UNKNOWN_ASSET, `unknown asset ${asset}`);
  const supply = supplyOf(state, asset);
  if (supply + amount > U64_MAX) return failure(ASSET_CODES.SUPPLY_OVERFLOW, `supply of ${asset} would exceed 2^64-1`);
  save(state, supplyKey(asset), u64, supply + amount);
  saveBalance(state, asset, to, balanceOf(state, asset, to) + amount);
  return OK;
}

/** Destroys `amount` units held by `from`, lowering the supply (redeem, slashing). */
export function burn(state: KvWriter, asset: string, from: Uint8Array, amount: bigint): OpResult {
  assert(amount >= 0n, 'negative burn');
  if (!assetExists(state, asset)) return failure(ASSET_CODES.UNKNOWN_ASSET, `unknown asset ${asset}`);
  const bal = balanceOf(state, asset, from);
  if (bal < amount)
    return failure(ASSET_CODES.INSUFFICIENT_FUNDS, `${hex(from)} holds ${bal} ${asset}, needs ${amount}`);
  const supply = supplyOf(state, asset);
  assert(supply >= amount, 'supply below a balance', { asset });
  save(state, supplyKey(asset), u64, supply - amount);
  saveBalance(state, asset, from, bal - amount);
  return OK;
}

// ---- operations ----

const issue: OpDef<Infer<typeof IssueArgs>> = {
  args: IssueArgs,
  gasBase: 2_000n,
  run(ctx, a) {
    if (!hasRole(ctx.state, ctx.sender, 'bank'))
      return failure(ASSET_CODES.NOT_BANK, 'only settlement-bank accounts issue');
    if (a.amount === 0n) return failure(ASSET_CODES.ZERO_AMOUNT, 'amount must be positive');
    const r = mint(ctx.state, a.asset, a.to, a.amount);
    if (!r.ok) return r;
    ctx.emit('issued', { asset: a.asset, to: hex(a.to), amount: a.amount.toString(), by: hex(ctx.sender) });
    return OK;
  },
};

const redeem: OpDef<Infer<typeof RedeemArgs>> = {
  args: RedeemArgs,
  gasBase: 2_000n,
  run(ctx, a) {
    if (!hasRole(ctx.state, ctx.sender, 'bank'))
      return failure(ASSET_CODES.NOT_BANK, 'only settlement-bank accounts redeem');
    if (a.amount === 0n) return failure(ASSET_CODES.ZERO_AMOUNT, 'amount must be positive');
    const r = burn(ctx.state, a.asset, ctx.sender, a.amount);
    if (!r.ok) return r;
    ctx.emit('redeemed', { asset: a.asset, from: hex(ctx.sender), amount: a.amount.toString() });
    return OK;
  },
};

const transferOp: OpDef<Infer<typeof TransferArgs>> = {
  args: TransferArgs,
  gasBase: 1_000n,
  run(ctx, a) {
    if (a.amount === 0n) return failure(ASSET_CODES.ZERO_AMOUNT, 'amount must be positive');
    if (equalBytes(a.to, ctx.sender))
      return failure(ASSET_CODES.SELF_TRANSFER, 'sender and recipient are the same account');
    const r = transfer(ctx.state, a.asset, ctx.sender, a.to, a.amount);
    if (!r.ok) return r;
    ctx.emit('transferred', {
      asset: a.asset,
      from: hex(ctx.sender),
      to: hex(a.to),
      amount: a.amount.toString(),
      memo: a.memo,
    });
    return OK;
  },
};

export const assetModule: Module = {
  name: 'asset',
  ops: { issue, redeem, transfer: transferOp },
  initGenesis(state: KvWriter, g: Genesis) {
    for (const def of g.assets) defineAsset(state, { code: def.code, decimals: def.decimals });
    for (const b of g.balances) {
      assert(b.amount > 0n, 'genesis balance must be positive', { asset: b.asset });
      const r = mint(state, b.asset, b.address, b.amount);
      assert(r.ok, `genesis balance: ${r.ok ? '' : r.message}`);
    }
  },
};

// ---- views (JSON-ready) ----

export interface AccountView {
  address: string;
  nonce: string;
  balances: { asset: string; amount: string }[];
}

/** Every asset balance of an account (non-zero only) and its next nonce. */
function account(state: KvReader, address: Uint8Array): AccountView {
  const balances: { asset: string; amount: string }[] = [];
  for (const code of loadAssetList(state)) {
    const amount = balanceOf(state, code, address);
    if (amount > 0n) balances.push({ asset: code, amount: amount.toString() });
  }
  return { address: hex(address), nonce: loadNonce(state, address).toString(), balances };
}

function listAssets(state: KvReader): { code: string; decimals: number; supply: string }[] {
  return loadAssetList(state).map((code) => ({
    code,
    decimals: loadAssetDef(state, code)?.decimals ?? 0,
    supply: supplyOf(state, code).toString(),
  }));
}

export const views = { account, listAssets };
