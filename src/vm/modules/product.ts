// product: each lender's loan products (pricing by score band, terms, LTV/DTI/down-payment policy, late rules)
// and the chain-wide regulatory caps from genesis that apply on top of every product.
import { struct, str, u16, u32, u64, list, oneOf, decode, type Infer } from '../../core/codec.js';
import { fromHex } from '../../core/bytes.js';
import type { KvReader, KvWriter } from '../../state/kv.js';
import { stateKey, load, save, padded, bytesMemo, MAX_RECORD_BYTES } from '../store.js';
import {
  OK,
  failure,
  DEFAULT_CAPS,
  type Genesis,
  type Module,
  type OpDef,
  type OpResult,
  type RegulatoryCaps,
} from '../types.js';
import { addressSchema, assetCodeSchema, hex, page } from '../util.js';
import { REPAYMENT_METHODS, MAX_TERM_MONTHS } from '../money.js';
import { BANDS, type Band } from './credit.js';
import { memberOfAccount } from './member.js';
import { assetExists } from './asset.js';

export const PRODUCT_CODES = {
  NOT_LENDER: 'product.NOT_LENDER',
  NOT_OWNER: 'product.NOT_OWNER',
  NOT_FOUND: 'product.NOT_FOUND',
  RETIRED: 'product.RETIRED',
  UNKNOWN_ASSET: 'product.UNKNOWN_ASSET',
  BAD_PARAMS: 'product.BAD_PARAMS',
  TOO_MANY_PRODUCTS: 'product.TOO_MANY_PRODUCTS',
} as const;

/** Highest APR a product may carry, bps (100%): a sanity bound, not a regulation. */
export const MAX_APR_BPS = 10_000;
/** Highest penalty uplift, bps APR. */
export const MAX_PENALTY_UPLIFT_BPS = 10_000;
/** Most distinct terms one product offers. */
export const MAX_TERMS = 12;
/** Most products one lender organisation may have (active or retired): bounds its product list. */
export const MAX_PRODUCTS_PER_LENDER = 1_000;
/** Longest default threshold, days past due. */
export const MAX_DEFAULT_DAYS = 3_650;

const nameSchema = str({ max: 64, pattern: /^\S(.*\S)?$/ });
const bps = u16;

/** Maximum loan-to-value per vehicle class, bps. "used" applies to every used car whatever its energy or use. */
export const LtvSchema = struct('LtvByClass', [
  ['privateFuel', bps],
  ['privateNewEnergy', bps],
  ['commercial', bps],
  ['used', bps],
] as const);
export type LtvByClass = Infer<typeof LtvSchema>;

/** A product's policy: every field a lender sets on create and update. */
export const ProductParamsSchema = struct('ProductParams', [
  ['name', nameSchema],
  ['currency', assetCodeSchema],
  /** APR in bps for score bands A, B, C, D, E (exactly five, in that order). */
  ['aprBpsByBand', list(u32, { max: BANDS.length })],
  ['termsMonths', list(u16, { max: MAX_TERMS })],
  ['method', oneOf(REPAYMENT_METHODS)],
  ['minScore', u16],
  ['maxLtvBps', LtvSchema],
  ['maxDtiBps', bps],
  ['minDownPaymentBps', bps],
  ['graceDays', u16],
  /** 'fixed': lateFeeValue minor units per missed installment; 'bps': lateFeeValue bps of the installment. */
  ['lateFeeKind', oneOf(['fixed', 'bps'] as const)],
  ['lateFeeValue', u64],
  ['penaltyUpliftBps', u32],
  ['defaultDays', u16],
] as const);
export type ProductParams = Infer<typeof ProductParamsSchema>;

export const ProductSchema = struct('Product', [
  ['id', u64],
  ['lenderMember', str({ max: 32 })],
  /** The lender account that created the product. */
  ['createdBy', addressSchema],
  ['params', ProductParamsSchema],
  ['status', oneOf(['active', 'retired'] as const)],
  ['createdAtMs', u64],
  ['updatedAtMs', u64],
] as const);
export type Product = Infer<typeof ProductSchema>;

export const CapsSchema = struct('RegulatoryCaps', [
  ['ltvBpsPrivateFuel', u16],
  ['ltvBpsPrivateNewEnergy', u16],
  ['ltvBpsCommercial', u16],
  ['ltvBpsUsed', u16],
  ['termMonthsMax', u16],
  ['termMonthsMaxUsed', u16],
] as const);

export const CreateArgs = ProductParamsSchema;
export const UpdateArgs = struct('product.update', [
  ['id', u64],
  ['params', ProductParamsSchema],
] as const);
export const RetireArgs = struct('product.retire', [['id', u64]] as const);

// ---- state ----
const capsKey = (): Uint8Array => stateKey('product', 'caps');
const countKey = (): Uint8Array => stateKey('product', 'count');
const productKey = (id: bigint): Uint8Array => stateKey('product', 'p', padded(id));
const lenderCountKey = (member: string): Uint8Array => stateKey('product', 'lender', member, 'count');
const lenderItemKey = (member: string, i: number): Uint8Array => stateKey('product', 'lender', member, padded(i, 6));

/**
 * Decoded records by the identity of their stored bytes (bytesMemo: decoding is a pure function of the bytes, and
 * stored values are never mutated): every application and funding reads the product and the caps. The returned
 * objects are shared and read-only: callers build new objects to change them (as update and retire do).
 */
const decodedProducts = bytesMemo((raw) => decode(ProductSchema, raw, MAX_RECORD_BYTES));
const decodedCaps = bytesMemo((raw) => decode(CapsSchema, raw, MAX_RECORD_BYTES));

export function loadCaps(state: KvReader): Readonly<RegulatoryCaps> {
  const raw = state.get(capsKey());
  return raw === undefined ? DEFAULT_CAPS : decodedCaps.get(raw);
}

export function loadProduct(state: KvReader, id: bigint): Readonly<Product> | null {
  const raw = state.get(productKey(id));
  return raw === undefined ? null : decodedProducts.get(raw);
}

function loadCount(state: KvReader, key: Uint8Array): bigint {
  return load(state, key, u64) ?? 0n;
}

/** The product's APR for a score band. */
export function aprForBand(p: Product, band: Band): number {
  const apr = p.params.aprBpsByBand[BANDS.indexOf(band)];
  if (apr === undefined) throw new Error(`product ${p.id} has no APR for band ${band}`);
  return apr;
}

/** Null when the params are acceptable, else the reason (checked on create and update). */
export function checkParams(state: KvReader, p: ProductParams): { code: string; message: string } | null {
  const bad = (message: string): { code: string; message: string } => ({ code: PRODUCT_CODES.BAD_PARAMS, message });
  if (!assetExists(state, p.currency))
    return { code: PRODUCT_CODES.UNKNOWN_ASSET, message: `unknown asset ${p.currency}` };
  if (p.aprBpsByBand.length !== BANDS.length) return bad(`aprBpsByBand needs ${BANDS.length} entries (bands A-E)`);
  if (p.aprBpsByBand.some((a) => a > MAX_APR_BPS)) return bad(`APR above ${MAX_APR_BPS} bps`);
  if (p.termsMonths.length === 0) return bad('no terms offered');
  const caps = loadCaps(state);
  for (const t of p.termsMonths) {
    if (t < 1 || t > Math.min(caps.termMonthsMax, MAX_TERM_MONTHS))
      return bad(`term ${t} outside 1..${caps.termMonthsMax} months (regulatory cap)`);
  }
  if (new Set(p.termsMonths).size !== p.termsMonths.length) return bad('duplicate term');
  if (p.minScore > 900) return bad('minScore above 900');
  for (const [k, v] of Object.entries(p.maxLtvBps)) if (v > 10_000) return bad(`maxLtvBps.${k} above 10000`);
  if (p.maxDtiBps > 10_000 || p.minDownPaymentBps > 10_000) return bad('bps above 10000');
  if (p.lateFeeKind === 'bps' && p.lateFeeValue > 10_000n) return bad('late fee share above 10000 bps');
  if (p.penaltyUpliftBps > MAX_PENALTY_UPLIFT_BPS) return bad(`penalty uplift above ${MAX_PENALTY_UPLIFT_BPS} bps`);
  if (p.defaultDays < 1 || p.defaultDays > MAX_DEFAULT_DAYS) return bad(`defaultDays outside 1..${MAX_DEFAULT_DAYS}`);
  if (p.graceDays >= p.defaultDays) return bad('graceDays must be below defaultDays');
  return null;
}

/** The lender organisation of the sender, or a failure. */
function senderLender(state: KvReader, sender: Uint8Array): { member: string } | OpResult {
  const m = memberOfAccount(state, sender);
  if (m === null || !m.roles.includes('lender'))
    return failure(PRODUCT_CODES.NOT_LENDER, `${hex(sender)} is not an account of a lender member`);
  return { member: m.id };
}

function ownedProduct(state: KvReader, sender: Uint8Array, id: bigint): Product | OpResult {
  const who = senderLender(state, sender);
  if ('ok' in who) return who;
  const p = loadProduct(state, id);
  if (p === null) return failure(PRODUCT_CODES.NOT_FOUND, `no product ${id}`);
  if (p.lenderMember !== who.member)
    return failure(PRODUCT_CODES.NOT_OWNER, `product ${id} belongs to ${p.lenderMember}`);
  if (p.status === 'retired') return failure(PRODUCT_CODES.RETIRED, `product ${id} is retired`);
  return p;
}

const create: OpDef<ProductParams> = {
  args: CreateArgs,
  gasBase: 5_000n,
  run(ctx, params) {
    const who = senderLender(ctx.state, ctx.sender);
    if ('ok' in who) return who;
    const problem = checkParams(ctx.state, params);
    if (problem) return failure(problem.code, problem.message);
    const n = loadCount(ctx.state, lenderCountKey(who.member));
    if (n >= BigInt(MAX_PRODUCTS_PER_LENDER))
      return failure(PRODUCT_CODES.TOO_MANY_PRODUCTS, `at most ${MAX_PRODUCTS_PER_LENDER} products per lender`);
    const id = loadCount(ctx.state, countKey()) + 1n;
    save(ctx.state, countKey(), u64, id);
    save(ctx.state, lenderItemKey(who.member, Number(n)), u64, id);
    save(ctx.state, lenderCountKey(who.member), u64, n + 1n);
    const t = ctx.block.timeMs;
    save(ctx.state, productKey(id), ProductSchema, {
      id,
      lenderMember: who.member,
      createdBy: ctx.sender,
      params,
      status: 'active',
      createdAtMs: t,
      updatedAtMs: t,
    });
    ctx.emit('created', { id: String(id), lender: who.member, currency: params.currency });
    return OK;
  },
};

/** Replaces the policy. Loans already funded keep the terms they were funded with (they copy them). */
const update: OpDef<Infer<typeof UpdateArgs>> = {
  args: UpdateArgs,
  gasBase: 5_000n,
  run(ctx, a) {
    const p = ownedProduct(ctx.state, ctx.sender, a.id);
    if ('ok' in p) return p;
    const problem = checkParams(ctx.state, a.params);
    if (problem) return failure(problem.code, problem.message);
    save(ctx.state, productKey(a.id), ProductSchema, { ...p, params: a.params, updatedAtMs: ctx.block.timeMs });
    ctx.emit('updated', { id: String(a.id), lender: p.lenderMember });
    return OK;
  },
};

/** No new applications; existing applications and loans are unaffected. Retirement is final. */
const retire: OpDef<Infer<typeof RetireArgs>> = {
  args: RetireArgs,
  gasBase: 2_000n,
  run(ctx, a) {
    const p = ownedProduct(ctx.state, ctx.sender, a.id);
    if ('ok' in p) return p;
    save(ctx.state, productKey(a.id), ProductSchema, { ...p, status: 'retired', updatedAtMs: ctx.block.timeMs });
    ctx.emit('retired', { id: String(a.id), lender: p.lenderMember });
    return OK;
  },
};

export const productModule: Module = {
  name: 'product',
  ops: { create, update, retire },
  initGenesis(state: KvWriter, g: Genesis) {
    save(state, capsKey(), CapsSchema, g.caps);
  },
};

// ---- views (JSON-ready) ----

export interface ProductView {
  id: string;
  lenderMember: string;
  createdBy: string;
  status: 'active' | 'retired';
  name: string;
  currency: string;
  aprBpsByBand: Record<Band, number>;
  termsMonths: number[];
  method: string;
  minScore: number;
  maxLtvBps: LtvByClass;
  maxDtiBps: number;
  minDownPaymentBps: number;
  graceDays: number;
  lateFee: { kind: 'fixed' | 'bps'; value: string };
  penaltyUpliftBps: number;
  defaultDays: number;
  createdAtMs: string;
  updatedAtMs: string;
}

export function productView(p: Product): ProductView {
  const q = p.params;
  return {
    id: String(p.id),
    lenderMember: p.lenderMember,
    createdBy: hex(p.createdBy),
    status: p.status,
    name: q.name,
    currency: q.currency,
    aprBpsByBand: Object.fromEntries(BANDS.map((b, i) => [b, q.aprBpsByBand[i] ?? 0])) as Record<Band, number>,
    termsMonths: [...q.termsMonths],
    method: q.method,
    minScore: q.minScore,
    maxLtvBps: { ...q.maxLtvBps },
    maxDtiBps: q.maxDtiBps,
    minDownPaymentBps: q.minDownPaymentBps,
    graceDays: q.graceDays,
    lateFee: { kind: q.lateFeeKind, value: String(q.lateFeeValue) },
    penaltyUpliftBps: q.penaltyUpliftBps,
    defaultDays: q.defaultDays,
    createdAtMs: String(p.createdAtMs),
    updatedAtMs: String(p.updatedAtMs),
  };
}

/** A page of a list view, in the RPC's Page shape. */
export interface ProductPage {
  items: ProductView[];
  offset: number;
  limit: number;
  total: number;
}

/**
 * Products in id order, paged. `lender` filters by lender organisation: a member id, or a lender account's address
 * as 40 hex characters (resolved to its organisation).
 */
export function listProducts(
  state: KvReader,
  opts: { lender?: string; offset?: number; limit?: number } = {},
): ProductPage {
  const { offset, limit } = page(opts);
  const out: ProductView[] = [];
  if (opts.lender === undefined) {
    const total = Number(loadCount(state, countKey()));
    for (let id = offset + 1; id <= Math.min(total, offset + limit); id++) {
      const p = loadProduct(state, BigInt(id));
      if (p) out.push(productView(p));
    }
    return { items: out, offset, limit, total };
  }
  const member = /^[0-9a-fA-F]{40}$/.test(opts.lender) ? memberOfAccount(state, fromHex(opts.lender))?.id : opts.lender;
  if (member === undefined) return { items: [], offset, limit, total: 0 };
  const total = Number(loadCount(state, lenderCountKey(member)));
  for (let i = offset; i < Math.min(total, offset + limit); i++) {
    const id = load(state, lenderItemKey(member, i), u64);
    const p = id === undefined ? null : loadProduct(state, id);
    if (p) out.push(productView(p));
  }
  return { items: out, offset, limit, total };
}

export function getProduct(state: KvReader, id: bigint): ProductView | null {
  const p = loadProduct(state, id);
  return p ? productView(p) : null;
}

export const views = { listProducts, getProduct };
