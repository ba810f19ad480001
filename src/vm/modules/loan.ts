// loan: applications underwritten in the same tx, funding with a lien, repayments, assignment, due-date processing
// (late fees, penalty interest, days-past-due buckets, default), repossession and sale. Rules: docs/vm-loan.md.
import { struct, str, u16, u32, u64, list, oneOf, optional, encode, decode, type Infer } from '../../core/codec.js';
import {
  allocBytes,
  equalBytes,
  fromHex,
  readU16BE,
  readU32BE,
  readU64BE,
  writeU16BE,
  writeU32BE,
  writeU64BE,
} from '../../core/bytes.js';
import { assert } from '../../core/errors.js';
import { KeyBytes, Overlay, type KvReader, type KvWriter } from '../../state/kv.js';
import { stateKey, load, save, padded, memoById, internAddress, MAX_RECORD_BYTES } from '../store.js';
import { OK, failure, type BlockStepContext, type Genesis, type Module, type OpDef, type OpResult } from '../types.js';
import { addressSchema, assetCodeSchema, decimal, hex, page } from '../util.js';
import {
  buildSchedule,
  firstInstallmentAmount,
  dayOfMs,
  daysPastDue,
  DAILY_RATE_DENOMINATOR,
  DPD_BUCKETS,
  DPD_BUCKET_STARTS,
  dpdBucket,
  addBig,
  isoDate,
  MAX_TERM_MONTHS,
  maxBig,
  minBig,
  REPAYMENT_METHODS,
  roundHalfUp,
  subBig,
  type Installment,
} from '../money.js';
import { aprForBand, loadCaps, loadProduct, type Product } from './product.js';
import { memberOfAccount, loadBorrower } from './member.js';
import { transfer } from './asset.js';
import { loadVehicle, pledgeable, setLien, setOwner, setVehicleStatus, type Vehicle } from './vehicle.js';
import { loadAttestation, loadConsent, recordHistory } from './credit.js';

export const LOAN_CODES = {
  PRODUCT_NOT_FOUND: 'loan.PRODUCT_NOT_FOUND',
  BAD_AMOUNT: 'loan.BAD_AMOUNT',
  NOT_FOUND: 'loan.NOT_FOUND',
  NOT_APPROVED: 'loan.NOT_APPROVED',
  NOT_LENDER: 'loan.NOT_LENDER',
  APPLICATION_EXPIRED: 'loan.APPLICATION_EXPIRED',
  VEHICLE_NOT_PLEDGEABLE: 'loan.VEHICLE_NOT_PLEDGEABLE',
  VEHICLE_LIENED: 'loan.VEHICLE_LIENED',
  ZERO_AMOUNT: 'loan.ZERO_AMOUNT',
  NOT_REPAYABLE: 'loan.NOT_REPAYABLE',
  CLOSED: 'loan.CLOSED',
  ASSIGNEE_NOT_LENDER: 'loan.ASSIGNEE_NOT_LENDER',
  SAME_LENDER: 'loan.SAME_LENDER',
  NO_OFFER: 'loan.NO_OFFER',
  NOT_ASSIGNEE: 'loan.NOT_ASSIGNEE',
  NOT_DEFAULTED: 'loan.NOT_DEFAULTED',
  NOT_REPOSSESSED: 'loan.NOT_REPOSSESSED',
} as const;

/** Underwriting rules an application can fail; a rejected application lists every one that failed. */
export const REJECTION_REASONS = [
  'BORROWER_NOT_ONBOARDED',
  'PRODUCT_RETIRED',
  'NO_CONSENT',
  'CONSENT_EXPIRED',
  'NO_ATTESTATION',
  'ATTESTATION_EXPIRED',
  'ATTESTATION_CURRENCY_MISMATCH',
  'SCORE_BELOW_MINIMUM',
  'TERM_NOT_OFFERED',
  'TERM_ABOVE_CAP',
  'DOWN_PAYMENT_BELOW_MINIMUM',
  'LTV_ABOVE_PRODUCT',
  'LTV_ABOVE_CAP',
  'DTI_ABOVE_MAXIMUM',
  'VEHICLE_NOT_FOUND',
  'VEHICLE_NOT_PLEDGEABLE',
  'VEHICLE_LIENED',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** An approved application must be funded within this time. */
export const APPROVAL_TTL_MS = 30n * 86_400_000n;
/** Most due-index entries one begin-block processes; the rest carry over to the next block (the cursor). */
export const MAX_DUE_PER_BLOCK = 10_000;
/** Most empty calendar days one begin-block walks past (a chain idle for years catches up over several blocks). */
export const MAX_DAYS_PER_BLOCK = 4_000;

export const LOAN_STATUSES = ['current', 'delinquent', 'defaulted', 'repossessed', 'paidOff', 'sold'] as const;
export type LoanStatus = (typeof LOAN_STATUSES)[number];
/** Statuses in which time runs: installments fall due, fees and penalty accrue, buckets move. */
const ACCRUING: ReadonlySet<LoanStatus> = new Set(['current', 'delinquent', 'defaulted']);
/** Statuses listed by listDelinquent. */
const DELINQUENT: ReadonlySet<LoanStatus> = new Set(['delinquent', 'defaulted']);
const CLOSED: ReadonlySet<LoanStatus> = new Set(['paidOff', 'sold']);

const vinSchema = str({ max: 17 });
const memberIdSchema = str({ max: 32 });

export const ApplicationSchema = struct('LoanApplication', [
  ['id', u64],
  ['productId', u64],
  ['lenderMember', memberIdSchema],
  ['borrower', addressSchema],
  ['vin', vinSchema],
  ['asset', assetCodeSchema],
  ['price', u64],
  ['downPayment', u64],
  ['principal', u64],
  ['termMonths', u16],
  /** 0 when no attestation gave a score band. */
  ['aprBps', u32],
  /** The first installment (the monthly amount used for DTI); 0 when it could not be computed. */
  ['installment', u64],
  ['status', oneOf(['approved', 'rejected', 'funded'] as const)],
  ['reasons', list(oneOf(REJECTION_REASONS), { max: REJECTION_REASONS.length })],
  ['appliedAtMs', u64],
  ['fundedAtMs', optional(u64)],
] as const);
export type Application = Infer<typeof ApplicationSchema>;

const OfferSchema = struct('AssignmentOffer', [
  ['to', addressSchema],
  ['price', u64],
  ['atMs', u64],
] as const);

const SaleSchema = struct('RepossessionSale', [
  ['buyer', addressSchema],
  ['proceeds', u64],
  ['applied', u64],
  ['deficiency', u64],
  ['surplus', u64],
  ['atMs', u64],
] as const);

/**
 * A funded loan's terms and parties: copied from the product at funding (so a later product update does not change
 * them), written again only by the rare ops that change them (assignment, closing, sale). Key `loan/l/<id>`.
 */
export const LoanTermsSchema = struct('LoanTerms', [
  ['id', u64],
  ['productId', u64],
  ['lenderMember', memberIdSchema],
  /** The lender account that receives payments (changes on assignment). */
  ['lender', addressSchema],
  ['borrower', addressSchema],
  ['vin', vinSchema],
  ['asset', assetCodeSchema],
  ['principal', u64],
  ['aprBps', u32],
  ['method', oneOf(REPAYMENT_METHODS)],
  ['termMonths', u16],
  ['installment', u64],
  ['graceDays', u16],
  ['lateFeeKind', oneOf(['fixed', 'bps'] as const)],
  ['lateFeeValue', u64],
  ['penaltyUpliftBps', u32],
  ['defaultDays', u16],
  ['fundedAtMs', u64],
  ['fundedDay', u32],
  ['offer', optional(OfferSchema)],
  ['sale', optional(SaleSchema)],
] as const);
export type LoanTerms = Infer<typeof LoanTermsSchema>;

/**
 * A loan's running state, written by every repayment and due-date step. Balances are running totals; "fallen due"
 * means the installment's due day has been reached. Stored apart from the terms (key `loan/s/<id>`) in a fixed-width
 * layout (encodeLoanState), so the hot path encodes ~130 bytes of integers instead of the whole record.
 */
export interface LoanState {
  status: LoanStatus;
  /** Index into DPD_BUCKETS. */
  bucket: number;
  dueCount: number;
  interestFallenDue: bigint;
  principalFallenDue: bigint;
  interestPaid: bigint;
  principalPaid: bigint;
  /** Paid ahead of due dates; applied when the next installments fall due. */
  advance: bigint;
  /** Oldest installment not fully paid, and the scheduled total of the installments before it. */
  firstUnpaid: number;
  firstUnpaidCum: bigint;
  /** Installments before feeCursor have been charged their late fee (or were paid in time); feeCum = their total. */
  feeCursor: number;
  feeCum: bigint;
  feesCharged: bigint;
  feesPaid: bigint;
  /** Penalty accrued = penaltyWhole + penaltyFrac / 3,650,000 minor units (kept exact, rounded half-up when owed). */
  penaltyWhole: bigint;
  penaltyFrac: number;
  penaltyPaid: bigint;
  /** Day up to which penalty has accrued. */
  accruedDay: number;
  /** Day of this loan's pending due-index entry (0: none). */
  wakeDay: number;
  defaultedAtMs: bigint | null;
  repossessedAtMs: bigint | null;
  closedAtMs: bigint | null;
}

export type Loan = LoanTerms & LoanState;

// Fixed-width state layout, big-endian: version u8, status u8, bucket u8, null-flags u8 (bit 0 defaultedAtMs,
// 1 repossessedAtMs, 2 closedAtMs present), dueCount u16, firstUnpaid u16, feeCursor u16, penaltyFrac u32,
// accruedDay u32, wakeDay u32, then 14 u64: the amounts below in U64_FIELDS order and the three times (0 if absent).
const STATE_VERSION = 1;
const U64_FIELDS = [
  'interestFallenDue',
  'principalFallenDue',
  'interestPaid',
  'principalPaid',
  'advance',
  'firstUnpaidCum',
  'feeCum',
  'feesCharged',
  'feesPaid',
  'penaltyWhole',
  'penaltyPaid',
] as const;
const TIME_FIELDS = ['defaultedAtMs', 'repossessedAtMs', 'closedAtMs'] as const;
const STATE_HEAD_BYTES = 22;
export const LOAN_STATE_BYTES = STATE_HEAD_BYTES + 8 * (U64_FIELDS.length + TIME_FIELDS.length);

export function encodeLoanState(l: LoanState): Uint8Array {
  const out = allocBytes(LOAN_STATE_BYTES);
  const status = LOAN_STATUSES.indexOf(l.status);
  assert(status >= 0 && l.bucket >= 0 && l.bucket < DPD_BUCKETS.length, 'loan state out of range');
  out[0] = STATE_VERSION;
  out[1] = status;
  out[2] = l.bucket;
  out[3] = (l.defaultedAtMs !== null ? 1 : 0) | (l.repossessedAtMs !== null ? 2 : 0) | (l.closedAtMs !== null ? 4 : 0);
  writeU16BE(out, 4, l.dueCount);
  writeU16BE(out, 6, l.firstUnpaid);
  writeU16BE(out, 8, l.feeCursor);
  writeU32BE(out, 10, l.penaltyFrac);
  writeU32BE(out, 14, l.accruedDay);
  writeU32BE(out, 18, l.wakeDay);
  // Written out field by field (U64_FIELDS order, then TIME_FIELDS): this runs on every repayment and due step.
  // allocBytes' array is zeroed, so zero amounts and absent times (most of a current loan's fields) are not written.
  try {
    putU64(out, 22, l.interestFallenDue);
    putU64(out, 30, l.principalFallenDue);
    putU64(out, 38, l.interestPaid);
    putU64(out, 46, l.principalPaid);
    putU64(out, 54, l.advance);
    putU64(out, 62, l.firstUnpaidCum);
    putU64(out, 70, l.feeCum);
    putU64(out, 78, l.feesCharged);
    putU64(out, 86, l.feesPaid);
    putU64(out, 94, l.penaltyWhole);
    putU64(out, 102, l.penaltyPaid);
    putU64(out, 110, l.defaultedAtMs);
    putU64(out, 118, l.repossessedAtMs);
    putU64(out, 126, l.closedAtMs);
  } catch (e) {
    if (e instanceof RangeError) assert(false, 'loan amount out of u64 range', { id: String((l as Partial<Loan>).id) });
    throw e;
  }
  return out;
}

/** writeU64BE into a zeroed array: a zero or null value leaves the bytes as they are. */
function putU64(out: Uint8Array, offset: number, v: bigint | null): void {
  if (v !== null && v !== 0n) writeU64BE(out, offset, v);
}

function checkLoanState(b: Uint8Array): void {
  assert(b.length === LOAN_STATE_BYTES && b[0] === STATE_VERSION, 'malformed loan state record');
  assert(b[1]! < LOAN_STATUSES.length, 'malformed loan status');
}

export function decodeLoanState(b: Uint8Array): LoanState {
  checkLoanState(b);
  const flags = b[3]!;
  return {
    status: LOAN_STATUSES[b[1]!]!,
    bucket: b[2]!,
    dueCount: readU16BE(b, 4),
    firstUnpaid: readU16BE(b, 6),
    feeCursor: readU16BE(b, 8),
    penaltyFrac: readU32BE(b, 10),
    accruedDay: readU32BE(b, 14),
    wakeDay: readU32BE(b, 18),
    interestFallenDue: readU64BE(b, 22),
    principalFallenDue: readU64BE(b, 30),
    interestPaid: readU64BE(b, 38),
    principalPaid: readU64BE(b, 46),
    advance: readU64BE(b, 54),
    firstUnpaidCum: readU64BE(b, 62),
    feeCum: readU64BE(b, 70),
    feesCharged: readU64BE(b, 78),
    feesPaid: readU64BE(b, 86),
    penaltyWhole: readU64BE(b, 94),
    penaltyPaid: readU64BE(b, 102),
    defaultedAtMs: flags & 1 ? readU64BE(b, 110) : null,
    repossessedAtMs: flags & 2 ? readU64BE(b, 118) : null,
    closedAtMs: flags & 4 ? readU64BE(b, 126) : null,
  };
}

export const ApplyArgs = struct('loan.apply', [
  ['productId', u64],
  ['vin', vinSchema],
  ['price', u64],
  ['downPayment', u64],
  ['termMonths', u16],
] as const);
export const FundArgs = struct('loan.fund', [['applicationId', u64]] as const);
export const RepayArgs = struct('loan.repay', [
  ['loanId', u64],
  ['amount', u64],
] as const);
export const AssignArgs = struct('loan.assign', [
  ['loanId', u64],
  ['to', addressSchema],
  ['price', u64],
] as const);
export const AcceptAssignmentArgs = struct('loan.acceptAssignment', [['loanId', u64]] as const);
export const RepossessArgs = struct('loan.repossess', [['loanId', u64]] as const);
export const RecordSaleArgs = struct('loan.recordSale', [
  ['loanId', u64],
  ['buyer', addressSchema],
  ['proceeds', u64],
] as const);

// ---- state keys ----
const countKey = (): Uint8Array => stateKey('loan', 'count');
const appKey = (id: bigint): Uint8Array => stateKey('loan', 'app', padded(id));
/**
 * The three keys of one loan (terms, state, schedule), memoised for the last LOAN_KEYS_MEMO loans (~0.5 KB each):
 * every repayment and due step touches all three, and memoised keys reach their store cells directly. The entry
 * also remembers the loan's decoded terms with the stored bytes they were decoded from (see termsFrom).
 */
export const LOAN_KEYS_MEMO = 65_536;
interface LoanKeys {
  readonly terms: Uint8Array;
  readonly state: Uint8Array;
  readonly sched: Uint8Array;
  /** The id in decimal, as every loan event carries it. */
  readonly idText: string;
  /** The terms bytes `decoded` came from (compared by identity). */
  rawTerms: Uint8Array | undefined;
  decoded: LoanTerms | undefined;
}
const loanKeys = memoById((id): LoanKeys => {
  const p = padded(id);
  return {
    terms: KeyBytes.lasting(stateKey('loan', 'l', p)),
    state: KeyBytes.lasting(stateKey('loan', 's', p)),
    sched: KeyBytes.lasting(stateKey('loan', 'sched', p)),
    idText: String(id),
    rawTerms: undefined,
    decoded: undefined,
  };
}, LOAN_KEYS_MEMO);
/** A loan id as event text (memoised with the loan's keys: every repayment and due step names its loan). */
const loanIdText = (id: bigint): string => loanKeys(id).idText;
const loanStateKey = (id: bigint): Uint8Array => loanKeys(id).state;
const schedKey = (id: bigint): Uint8Array => loanKeys(id).sched;
const byBorrowerCountKey = (b: Uint8Array): Uint8Array => stateKey('loan', 'by', b, 'count');
const byBorrowerItemKey = (b: Uint8Array, i: bigint): Uint8Array => stateKey('loan', 'by', b, padded(i));
const debtKey = (b: Uint8Array, asset: string): Uint8Array => stateKey('loan', 'debt', b, asset);
const dqCountKey = (): Uint8Array => stateKey('loan', 'dq', 'count');
const dqItemKey = (i: bigint): Uint8Array => stateKey('loan', 'dq', 'i', padded(i));
const dqPosKey = (id: bigint): Uint8Array => stateKey('loan', 'dq', 'pos', padded(id));
const cursorKey = (): Uint8Array => stateKey('loan', 'cursor');
/**
 * The due-index keys of a day, memoised for the last DUE_DAYS_MEMO days: every due step re-indexes its loan at a
 * later day (the same few days for a whole month's loans), and building each key afresh was about half of what a due
 * step allocated (~1.8 KB of ~3.8 KB per loan). A day's first DUE_CHUNK_KEYS_MEMO chunk keys are memoised (filled on
 * first use; 32,768 loans due that day), later ones built each time: at most ~65,000 keys (~10 MB) in all.
 */
const DUE_DAYS_MEMO = 32;
export const DUE_CHUNK_KEYS_MEMO = 2_048;
interface DueDayKeys {
  readonly count: Uint8Array;
  readonly chunks: Uint8Array[];
}
const dueDayKeys = memoById(
  (day: number): DueDayKeys => ({ count: stateKey('loan', 'due', padded(day, 8), 'count'), chunks: [] }),
  DUE_DAYS_MEMO,
);
const dueCountKey = (day: number): Uint8Array => dueDayKeys(day).count;
/** Chunk `c` of a day's due list: entries c·DUE_CHUNK .. c·DUE_CHUNK + DUE_CHUNK − 1. Exported for tests. */
export function dueChunkKey(day: number, c: number): Uint8Array {
  const chunks = c < DUE_CHUNK_KEYS_MEMO ? dueDayKeys(day).chunks : null;
  const memo = chunks?.[c];
  if (memo !== undefined) return memo;
  const key = stateKey('loan', 'due', padded(day, 8), padded(c, 8));
  if (chunks !== null) chunks[c] = key;
  return key;
}
/**
 * Loan ids per due-index chunk (8-byte big-endian each). One state entry per DUE_CHUNK loans instead of one per loan:
 * 20,000 loans falling due made 20,000 new entries (key, cell, value) every month, which a store in memory keeps as
 * objects and the GC then walks; a chunk is at most 128 bytes, so appending to one costs a tx little gas.
 */
export const DUE_CHUNK = 16;

const CursorSchema = struct('DueCursor', [
  ['day', u32],
  ['index', u32],
] as const);

export function loadApplication(state: KvReader, id: bigint): Application | null {
  return load(state, appKey(id), ApplicationSchema) ?? null;
}

/**
 * The loan's terms decoded from `raw` (its stored terms bytes), remembered on its keys by the identity of the bytes.
 * Decoding is a pure function of the bytes and stored values are never mutated, so a hit is exactly what decoding
 * would return; it spares every repayment and due-date step the canonical decode of a record that rarely changes.
 * Kept on the keys entry the step already holds rather than on the bytes: no memo array per stored value, and one
 * object fewer to reach. The addresses are interned, so all loans of a lender share its address and its memos.
 */
function termsFrom(keys: LoanKeys, raw: Uint8Array): LoanTerms {
  if (raw === keys.rawTerms) return keys.decoded!;
  const t = decode(LoanTermsSchema, raw, MAX_RECORD_BYTES);
  const terms: LoanTerms = { ...t, borrower: internAddress(t.borrower), lender: internAddress(t.lender) };
  keys.rawTerms = raw;
  keys.decoded = terms;
  return terms;
}

/** A loan (terms and state) as a fresh object the caller may change. */
export function loadLoan(state: KvReader, id: bigint): Loan | null {
  const keys = loanKeys(id);
  const raw = state.get(keys.terms);
  if (raw === undefined) return null;
  const t = termsFrom(keys, raw);
  const b = state.get(keys.state);
  if (b === undefined) assert(false, 'loan without state', { id: String(id) });
  checkLoanState(b);
  const flags = b[3]!;
  // Spelled out rather than spread, and the state decoded straight into it: one literal gives the 40-field loan a
  // fixed shape (fast field access in the whole module) and allocates one object (same fields as decodeLoanState).
  return {
    id: t.id,
    productId: t.productId,
    lenderMember: t.lenderMember,
    lender: t.lender,
    borrower: t.borrower,
    vin: t.vin,
    asset: t.asset,
    principal: t.principal,
    aprBps: t.aprBps,
    method: t.method,
    termMonths: t.termMonths,
    installment: t.installment,
    graceDays: t.graceDays,
    lateFeeKind: t.lateFeeKind,
    lateFeeValue: t.lateFeeValue,
    penaltyUpliftBps: t.penaltyUpliftBps,
    defaultDays: t.defaultDays,
    fundedAtMs: t.fundedAtMs,
    fundedDay: t.fundedDay,
    offer: t.offer && { ...t.offer },
    sale: t.sale && { ...t.sale },
    status: LOAN_STATUSES[b[1]!]!,
    bucket: b[2]!,
    dueCount: readU16BE(b, 4),
    interestFallenDue: readU64BE(b, 22),
    principalFallenDue: readU64BE(b, 30),
    interestPaid: readU64BE(b, 38),
    principalPaid: readU64BE(b, 46),
    advance: readU64BE(b, 54),
    firstUnpaid: readU16BE(b, 6),
    firstUnpaidCum: readU64BE(b, 62),
    feeCursor: readU16BE(b, 8),
    feeCum: readU64BE(b, 70),
    feesCharged: readU64BE(b, 78),
    feesPaid: readU64BE(b, 86),
    penaltyWhole: readU64BE(b, 94),
    penaltyFrac: readU32BE(b, 10),
    penaltyPaid: readU64BE(b, 102),
    accruedDay: readU32BE(b, 14),
    wakeDay: readU32BE(b, 18),
    defaultedAtMs: flags & 1 ? readU64BE(b, 110) : null,
    repossessedAtMs: flags & 2 ? readU64BE(b, 118) : null,
    closedAtMs: flags & 4 ? readU64BE(b, 126) : null,
  };
}

function termsOf(l: Loan): LoanTerms {
  return {
    id: l.id,
    productId: l.productId,
    lenderMember: l.lenderMember,
    lender: l.lender,
    borrower: l.borrower,
    vin: l.vin,
    asset: l.asset,
    principal: l.principal,
    aprBps: l.aprBps,
    method: l.method,
    termMonths: l.termMonths,
    installment: l.installment,
    graceDays: l.graceDays,
    lateFeeKind: l.lateFeeKind,
    lateFeeValue: l.lateFeeValue,
    penaltyUpliftBps: l.penaltyUpliftBps,
    defaultDays: l.defaultDays,
    fundedAtMs: l.fundedAtMs,
    fundedDay: l.fundedDay,
    offer: l.offer,
    sale: l.sale,
  };
}

/** Writes the loan's state; its terms too when an op changed them (funding, assignment, closing, sale). */
function saveLoan(state: KvWriter, loan: Loan, opts: { terms: boolean } = { terms: false }): void {
  if (opts.terms) {
    const terms = termsOf(loan);
    const raw = encode(LoanTermsSchema, terms);
    const keys = loanKeys(loan.id);
    keys.rawTerms = raw;
    keys.decoded = {
      ...terms,
      borrower: internAddress(terms.borrower),
      lender: internAddress(terms.lender),
      offer: terms.offer && { ...terms.offer },
      sale: terms.sale && { ...terms.sale },
    };
    state.set(keys.terms, raw);
  }
  state.set(loanStateKey(loan.id), encodeLoanState(loan));
}

function loadU64(state: KvReader, key: Uint8Array): bigint {
  return load(state, key, u64) ?? 0n;
}

/** Sum of the monthly installments of a borrower's open loans in one currency, at every lender. */
export function monthlyDebtOf(state: KvReader, borrower: Uint8Array, asset: string): bigint {
  return loadU64(state, debtKey(borrower, asset));
}

function addDebt(state: KvWriter, borrower: Uint8Array, asset: string, delta: bigint): void {
  const v = monthlyDebtOf(state, borrower, asset) + delta;
  if (v < 0n) assert(false, 'negative borrower debt', { borrower: hex(borrower) });
  if (v === 0n) state.delete(debtKey(borrower, asset));
  else save(state, debtKey(borrower, asset), u64, v);
}

// ---- schedule storage: fixed-width records (day u32, principal u64, interest u64), big-endian ----
const INSTALLMENT_BYTES = 20;

export function encodeSchedule(schedule: readonly Installment[]): Uint8Array {
  const out = allocBytes(schedule.length * INSTALLMENT_BYTES);
  schedule.forEach((s, k) => {
    const o = k * INSTALLMENT_BYTES;
    writeU32BE(out, o, s.dueDay);
    writeU64BE(out, o + 4, s.principal);
    writeU64BE(out, o + 12, s.interest);
  });
  return out;
}

export function decodeInstallment(buf: Uint8Array, k: number): Installment {
  if (!(k >= 0 && (k + 1) * INSTALLMENT_BYTES <= buf.length)) assert(false, 'installment index out of range', { k });
  const o = k * INSTALLMENT_BYTES;
  return { dueDay: readU32BE(buf, o), principal: readU64BE(buf, o + 4), interest: readU64BE(buf, o + 12) };
}

export function loadSchedule(state: KvReader, id: bigint): Installment[] {
  const buf = state.get(schedKey(id));
  if (buf === undefined) return [];
  const out: Installment[] = [];
  for (let k = 0; k < buf.length / INSTALLMENT_BYTES; k++) out.push(decodeInstallment(buf, k));
  return out;
}

// ---- derived balances ----

export function penaltyAccrued(l: Loan): bigint {
  return l.penaltyFrac === 0
    ? l.penaltyWhole
    : l.penaltyWhole + (2n * BigInt(l.penaltyFrac) >= DAILY_RATE_DENOMINATOR ? 1n : 0n);
}

export interface Balances {
  penaltyDue: bigint;
  feesDue: bigint;
  interestDue: bigint;
  principalDue: bigint;
  principalOutstanding: bigint;
  advance: bigint;
  /** What closes the loan now: penalty + fees + interest due + all outstanding principal − advance. */
  payoff: bigint;
}

export function balancesOf(l: Loan): Balances {
  // addBig/subBig: no allocation for the zero amounts that make up most of a current loan (same values as + and -).
  const penaltyDue = subBig(penaltyAccrued(l), l.penaltyPaid);
  const feesDue = subBig(l.feesCharged, l.feesPaid);
  const interestDue = subBig(l.interestFallenDue, l.interestPaid);
  const principalDue = maxBig(0n, subBig(l.principalFallenDue, l.principalPaid));
  const principalOutstanding = subBig(l.principal, l.principalPaid);
  const payoff = CLOSED.has(l.status)
    ? 0n
    : subBig(addBig(addBig(addBig(penaltyDue, feesDue), interestDue), principalOutstanding), l.advance);
  if (!(penaltyDue >= 0n && feesDue >= 0n && interestDue >= 0n && principalOutstanding >= 0n && payoff >= 0n)) {
    assert(false, 'loan balances out of range', { id: String(l.id) });
  }
  return { penaltyDue, feesDue, interestDue, principalDue, principalOutstanding, advance: l.advance, payoff };
}

// ---- the time machine: one loan brought up to a day ----

interface Env {
  state: KvWriter;
  nowMs: bigint;
  today: number;
  /** Where the loan's events go (the op's context; begin-block's adds the module name). */
  sink: { emit(type: string, attrs: Record<string, string>): void };
}

/**
 * A loan being worked on, with its schedule read on first use. Installment fields are read straight from the stored
 * schedule (fixed-width records) when asked for: most questions are a due day (a u32, no allocation), and a step
 * looks at only a few installments.
 */
class LoanRun {
  private sched: Uint8Array | undefined;
  constructor(
    readonly env: Env,
    readonly loan: Loan,
  ) {}

  /** The stored schedule, with installment `k` checked to be in it. */
  private schedFor(k: number): Uint8Array {
    let s = this.sched;
    if (s === undefined) {
      s = this.env.state.get(schedKey(this.loan.id));
      if (s === undefined) assert(false, 'loan without schedule', { id: String(this.loan.id) });
      this.sched = s;
    }
    if (!(k >= 0 && (k + 1) * INSTALLMENT_BYTES <= s.length)) assert(false, 'installment index out of range', { k });
    return s;
  }

  /** Installment `k` (0-based) in full. */
  inst(k: number): Installment {
    return decodeInstallment(this.schedFor(k), k);
  }

  /** Installment `k`'s due day (UTC days since the epoch). */
  dueDay(k: number): number {
    return readU32BE(this.schedFor(k), k * INSTALLMENT_BYTES);
  }

  /** Installment `k`'s amount: principal + interest. */
  amount(k: number): bigint {
    const s = this.schedFor(k);
    const o = k * INSTALLMENT_BYTES;
    return readU64BE(s, o + 4) + readU64BE(s, o + 12);
  }

  /** The attributes every loan event carries, first in its attributes: loanId, borrower, lender. */
  ids(): Record<string, string> {
    const l = this.loan;
    return { loanId: loanIdText(l.id), borrower: hex(l.borrower), lender: hex(l.lender) };
  }
}

function accruePenalty(l: Loan, day: number): void {
  if (day <= l.accruedDay) return;
  const base = l.feeCum - (l.interestPaid + l.principalPaid);
  if (base > 0n && l.penaltyUpliftBps > 0) {
    const num = base * BigInt(l.penaltyUpliftBps) * BigInt(day - l.accruedDay) + BigInt(l.penaltyFrac);
    l.penaltyWhole += num / DAILY_RATE_DENOMINATOR;
    l.penaltyFrac = Number(num % DAILY_RATE_DENOMINATOR);
  }
  l.accruedDay = day;
}

/** Marks fully paid installments (oldest first) and records each in the borrower's credit history. */
function settleInstallments(r: LoanRun, payDay: number): void {
  const l = r.loan;
  const paid = l.interestPaid + l.principalPaid;
  while (l.firstUnpaid < l.dueCount) {
    const amt = r.amount(l.firstUnpaid);
    if (l.firstUnpaidCum + amt > paid) break;
    const onTime = payDay <= r.dueDay(l.firstUnpaid) + l.graceDays;
    recordHistory(r.env.state, l.borrower, onTime ? 'onTime' : 'late');
    l.firstUnpaidCum += amt;
    l.firstUnpaid += 1;
  }
  if (l.feeCursor < l.firstUnpaid) {
    l.feeCursor = l.firstUnpaid;
    l.feeCum = l.firstUnpaidCum;
  }
}

interface Allocation {
  penalty: bigint;
  fees: bigint;
  interest: bigint;
  principal: bigint;
  advance: bigint;
}

/**
 * Applies money to a loan: penalty, then fees, then interest due, then principal due; what remains pays off the
 * rest of the principal if it (with any advance) covers it, else is kept as advance for the next installments.
 * The caller never passes more than the payoff amount.
 */
function allocate(l: Loan, amount: bigint, current?: Balances): Allocation {
  // `current`: balancesOf(l) computed by the caller with the loan unchanged since.
  const b = current ?? balancesOf(l);
  if (amount > b.payoff) assert(false, 'allocation above payoff', { id: String(l.id) });
  let rest = amount;
  const penalty = minBig(rest, b.penaltyDue);
  rest = subBig(rest, penalty);
  const fees = minBig(rest, b.feesDue);
  rest = subBig(rest, fees);
  const interest = minBig(rest, b.interestDue);
  rest = subBig(rest, interest);
  const principal = minBig(rest, b.principalDue);
  rest = subBig(rest, principal);
  const a: Allocation = { penalty, fees, interest, principal, advance: 0n };
  l.penaltyPaid = addBig(l.penaltyPaid, a.penalty);
  l.feesPaid = addBig(l.feesPaid, a.fees);
  l.interestPaid = addBig(l.interestPaid, a.interest);
  l.principalPaid = addBig(l.principalPaid, a.principal);
  if (rest > 0n) {
    const undue = l.principal - l.principalPaid;
    if (rest + l.advance >= undue) {
      // Early payoff: the advance already held counts towards it.
      if (rest + l.advance !== undue) assert(false, 'payoff arithmetic', { id: String(l.id) });
      a.principal += undue;
      a.advance = -l.advance;
      l.principalPaid += undue;
      l.advance = 0n;
    } else {
      a.advance = rest;
      l.advance += rest;
    }
  }
  return a;
}

function fallDue(r: LoanRun): void {
  const l = r.loan;
  const i = r.inst(l.dueCount);
  l.interestFallenDue += i.interest;
  l.principalFallenDue += i.principal;
  l.dueCount += 1;
  if (l.advance > 0n) {
    // The advance pays what is now due, in the payment order; it never exceeds the principal not yet due.
    const b = balancesOf(l);
    const use = minBig(l.advance, b.penaltyDue + b.feesDue + b.interestDue + b.principalDue);
    l.advance -= use;
    const a = allocate(l, use);
    if (a.advance !== 0n) assert(false, 'advance re-advanced', { id: String(l.id) });
  }
  // Covered by the advance on its due day: on time.
  settleInstallments(r, i.dueDay);
}

function lateFee(l: Loan, installmentAmount: bigint): bigint {
  return l.lateFeeKind === 'fixed' ? l.lateFeeValue : roundHalfUp(installmentAmount * l.lateFeeValue, 10_000n);
}

/**
 * Brings an accruing loan up to env.today: installments fall due in date order, each unpaid installment gets its
 * late fee on the first day after its grace period, and penalty interest accrues day by day on the unpaid amounts
 * of installments past their grace period. Then days past due, bucket, status and default are updated.
 */
function bringCurrent(r: LoanRun): void {
  const l = r.loan;
  if (!ACCRUING.has(l.status)) return;
  for (;;) {
    const nextDue = l.dueCount < l.termMonths ? r.dueDay(l.dueCount) : Number.POSITIVE_INFINITY;
    const nextFee = l.feeCursor < l.dueCount ? r.dueDay(l.feeCursor) + l.graceDays + 1 : Number.POSITIVE_INFINITY;
    const day = Math.min(nextDue, nextFee);
    if (day > r.env.today) break;
    accruePenalty(l, day);
    if (nextDue === day) fallDue(r);
    if (nextFee === day && l.feeCursor < l.dueCount && r.dueDay(l.feeCursor) + l.graceDays + 1 === day) {
      const amt = r.amount(l.feeCursor);
      const fee = lateFee(l, amt);
      l.feesCharged += fee;
      l.feeCum += amt;
      l.feeCursor += 1;
      r.env.sink.emit('lateFee', { ...r.ids(), installment: String(l.feeCursor), fee: String(fee) });
    }
  }
  accruePenalty(l, r.env.today);
  updateDelinquency(r);
}

function oldestUnpaidDueDay(r: LoanRun): number | null {
  const l = r.loan;
  return l.firstUnpaid < l.dueCount ? r.dueDay(l.firstUnpaid) : null;
}

export function loanDpd(r: { loan: Loan; dueDay(k: number): number }, today: number): number {
  const l = r.loan;
  return daysPastDue(l.firstUnpaid < l.dueCount ? r.dueDay(l.firstUnpaid) : null, today);
}

function updateDelinquency(r: LoanRun): void {
  const l = r.loan;
  const dpd = daysPastDue(oldestUnpaidDueDay(r), r.env.today);
  const bucket = DPD_BUCKETS.indexOf(dpdBucket(dpd));
  if (bucket !== l.bucket) {
    r.env.sink.emit('delinquency', {
      ...r.ids(),
      from: DPD_BUCKETS[l.bucket] ?? '?',
      to: DPD_BUCKETS[bucket] ?? '?',
      dpd: String(dpd),
    });
    l.bucket = bucket;
  }
  if (l.status === 'defaulted') return;
  if (dpd >= l.defaultDays) {
    setStatus(r.env.state, l, 'defaulted');
    l.defaultedAtMs = r.env.nowMs;
    recordHistory(r.env.state, l.borrower, 'defaulted');
    r.env.sink.emit('defaulted', { ...r.ids(), dpd: String(dpd), payoff: String(balancesOf(l).payoff) });
  } else {
    setStatus(r.env.state, l, dpd > 0 ? 'delinquent' : 'current');
  }
}

/** Changes the status, keeping the delinquent index (delinquent and defaulted loans) in step. */
function setStatus(state: KvWriter, l: Loan, status: LoanStatus): void {
  const was = DELINQUENT.has(l.status);
  const is = DELINQUENT.has(status);
  l.status = status;
  if (was === is) return;
  if (is) {
    const n = loadU64(state, dqCountKey());
    save(state, dqItemKey(n), u64, l.id);
    save(state, dqPosKey(l.id), u64, n);
    save(state, dqCountKey(), u64, n + 1n);
  } else {
    const pos = load(state, dqPosKey(l.id), u64);
    if (pos === undefined) assert(false, 'delinquent loan missing from its index', { id: String(l.id) });
    const last = loadU64(state, dqCountKey()) - 1n;
    if (pos !== last) {
      const moved = load(state, dqItemKey(last), u64);
      assert(moved !== undefined, 'delinquent index hole');
      save(state, dqItemKey(pos), u64, moved);
      save(state, dqPosKey(moved), u64, pos);
    }
    state.delete(dqItemKey(last));
    state.delete(dqPosKey(l.id));
    if (last === 0n) state.delete(dqCountKey());
    else save(state, dqCountKey(), u64, last);
  }
}

/** The next day after today on which something happens to the loan without a tx (null: nothing scheduled). */
function nextWakeDay(r: LoanRun): number | null {
  const l = r.loan;
  if (!ACCRUING.has(l.status)) return null;
  const today = r.env.today;
  let w = Number.POSITIVE_INFINITY;
  if (l.dueCount < l.termMonths) w = Math.min(w, r.dueDay(l.dueCount));
  if (l.feeCursor < l.dueCount) w = Math.min(w, r.dueDay(l.feeCursor) + l.graceDays + 1);
  const oldest = oldestUnpaidDueDay(r);
  if (oldest !== null) {
    for (const m of DPD_BUCKET_STARTS) if (oldest + m > today) w = Math.min(w, oldest + m);
    if (l.status !== 'defaulted' && oldest + l.defaultDays > today) w = Math.min(w, oldest + l.defaultDays);
  }
  return Number.isFinite(w) ? Math.max(w, today + 1) : null;
}

/**
 * Keeps exactly one useful due-index entry per accruing loan: an entry at or before its next wake day. An entry
 * that fires early is harmless (the loan is brought current and re-indexed); a stale one is skipped.
 */
function reschedule(r: LoanRun, consumed: boolean): void {
  const l = r.loan;
  if (consumed) l.wakeDay = 0;
  const w = nextWakeDay(r);
  if (w === null || (l.wakeDay !== 0 && l.wakeDay <= w)) return;
  const state = r.env.state;
  const n = load(state, dueCountKey(w), u32) ?? 0;
  const slot = n % DUE_CHUNK;
  const key = dueChunkKey(w, (n - slot) / DUE_CHUNK);
  const chunk = allocBytes((slot + 1) * 8);
  if (slot > 0) {
    const prev = state.get(key);
    if (prev === undefined || prev.length !== slot * 8) assert(false, 'due index chunk out of step', { day: w, n });
    chunk.set(prev);
  }
  writeU64BE(chunk, slot * 8, l.id);
  state.set(key, chunk);
  save(state, dueCountKey(w), u32, n + 1);
  l.wakeDay = w;
}

function closeLoan(r: LoanRun, status: 'paidOff' | 'sold'): void {
  const l = r.loan;
  setStatus(r.env.state, l, status);
  l.closedAtMs = r.env.nowMs;
  l.offer = null;
  addDebt(r.env.state, l.borrower, l.asset, -l.installment);
  const v = loadVehicle(r.env.state, l.vin);
  if (v?.lien && v.lien.loanId === l.id) {
    setLien(r.env.state, l.vin, null);
    r.env.sink.emit('lienReleased', { ...r.ids(), vin: l.vin });
  }
}

function envOf(ctx: {
  state: KvWriter;
  block: { timeMs: bigint };
  emit(type: string, attrs: Record<string, string>): void;
}): Env {
  return { state: ctx.state, nowMs: ctx.block.timeMs, today: dayOfMs(ctx.block.timeMs), sink: ctx };
}

// ---- underwriting ----

type VehicleClass = 'privateFuel' | 'privateNewEnergy' | 'commercial' | 'used';

export function vehicleClass(v: Vehicle): VehicleClass {
  if (v.condition === 'used') return 'used';
  if (v.use === 'commercial') return 'commercial';
  return v.energy === 'newEnergy' ? 'privateNewEnergy' : 'privateFuel';
}

function capLtvBps(state: KvReader, c: VehicleClass): number {
  const caps = loadCaps(state);
  return {
    privateFuel: caps.ltvBpsPrivateFuel,
    privateNewEnergy: caps.ltvBpsPrivateNewEnergy,
    commercial: caps.ltvBpsCommercial,
    used: caps.ltvBpsUsed,
  }[c];
}

interface Underwriting {
  reasons: RejectionReason[];
  aprBps: number;
  installment: bigint;
}

/** Every rule of the product and the caps, evaluated in full: the result lists every failure. */
export function underwrite(
  state: KvReader,
  nowMs: bigint,
  borrower: Uint8Array,
  p: Product,
  a: Infer<typeof ApplyArgs>,
): Underwriting {
  const reasons: RejectionReason[] = [];
  const q = p.params;
  const principal = a.price - a.downPayment;
  if (loadBorrower(state, borrower) === null) reasons.push('BORROWER_NOT_ONBOARDED');
  if (p.status !== 'active') reasons.push('PRODUCT_RETIRED');

  const consent = loadConsent(state, borrower, p.lenderMember);
  if (consent === null) reasons.push('NO_CONSENT');
  else if (consent.expiresAtMs <= nowMs) reasons.push('CONSENT_EXPIRED');

  const att = loadAttestation(state, borrower);
  let aprBps = 0;
  if (att === null) reasons.push('NO_ATTESTATION');
  else {
    if (att.expiresAtMs <= nowMs) reasons.push('ATTESTATION_EXPIRED');
    if (att.score < q.minScore) reasons.push('SCORE_BELOW_MINIMUM');
    aprBps = aprForBand(p, att.band);
  }

  const vehicle = loadVehicle(state, a.vin);
  const termOk = q.termsMonths.includes(a.termMonths) && a.termMonths >= 1 && a.termMonths <= MAX_TERM_MONTHS;
  if (!termOk) reasons.push('TERM_NOT_OFFERED');
  const caps = loadCaps(state);
  const termCap = vehicle?.condition === 'used' ? caps.termMonthsMaxUsed : caps.termMonthsMax;
  if (a.termMonths > termCap) reasons.push('TERM_ABOVE_CAP');
  if (a.downPayment * 10_000n < BigInt(q.minDownPaymentBps) * a.price) reasons.push('DOWN_PAYMENT_BELOW_MINIMUM');

  if (vehicle === null) reasons.push('VEHICLE_NOT_FOUND');
  else {
    // LTV is against the lower of price and an appraisal in the loan's currency (other currencies are not converted).
    const appraisal = vehicle.appraisal?.asset === q.currency ? vehicle.appraisal.amount : null;
    const value = appraisal !== null && appraisal < a.price ? appraisal : a.price;
    const cls = vehicleClass(vehicle);
    const ltvOver = (bps: number): boolean => principal * 10_000n > BigInt(bps) * value;
    if (ltvOver(q.maxLtvBps[cls])) reasons.push('LTV_ABOVE_PRODUCT');
    if (ltvOver(capLtvBps(state, cls))) reasons.push('LTV_ABOVE_CAP');
    if (pledgeable(vehicle) !== null) reasons.push('VEHICLE_NOT_PLEDGEABLE');
    if (vehicle.lien !== null) reasons.push('VEHICLE_LIENED');
  }

  let installment = 0n;
  if (att !== null && termOk) {
    installment = firstInstallmentAmount({ principal, aprBps, termMonths: a.termMonths, method: q.method });
    if (att.currency !== q.currency) reasons.push('ATTESTATION_CURRENCY_MISMATCH');
    else {
      // Debt service at every lender on chain (same currency) + outside debt + this loan, against gross income.
      const debt = monthlyDebtOf(state, borrower, q.currency) + att.outsideMonthlyDebt + installment;
      if (debt * 10_000n > BigInt(q.maxDtiBps) * att.grossMonthlyIncome) reasons.push('DTI_ABOVE_MAXIMUM');
    }
  }
  return { reasons, aprBps, installment };
}

// ---- operations ----

const apply: OpDef<Infer<typeof ApplyArgs>> = {
  args: ApplyArgs,
  gasBase: 20_000n,
  run(ctx, a) {
    const p = loadProduct(ctx.state, a.productId);
    if (p === null) return failure(LOAN_CODES.PRODUCT_NOT_FOUND, `no product ${a.productId}`);
    if (a.price === 0n || a.downPayment >= a.price)
      return failure(LOAN_CODES.BAD_AMOUNT, 'price must be positive and above the down payment');
    const u = underwrite(ctx.state, ctx.block.timeMs, ctx.sender, p, a);
    const id = loadU64(ctx.state, countKey()) + 1n;
    save(ctx.state, countKey(), u64, id);
    const app: Application = {
      id,
      productId: p.id,
      lenderMember: p.lenderMember,
      borrower: ctx.sender,
      vin: a.vin,
      asset: p.params.currency,
      price: a.price,
      downPayment: a.downPayment,
      principal: a.price - a.downPayment,
      termMonths: a.termMonths,
      aprBps: u.aprBps,
      installment: u.installment,
      status: u.reasons.length === 0 ? 'approved' : 'rejected',
      reasons: u.reasons,
      appliedAtMs: ctx.block.timeMs,
      fundedAtMs: null,
    };
    save(ctx.state, appKey(id), ApplicationSchema, app);
    const n = loadU64(ctx.state, byBorrowerCountKey(ctx.sender));
    save(ctx.state, byBorrowerItemKey(ctx.sender, n), u64, id);
    save(ctx.state, byBorrowerCountKey(ctx.sender), u64, n + 1n);
    ctx.emit(app.status === 'approved' ? 'approved' : 'rejected', {
      applicationId: String(id),
      borrower: hex(ctx.sender),
      lender: p.lenderMember,
      productId: String(p.id),
      vin: a.vin,
      principal: String(app.principal),
      aprBps: String(u.aprBps),
      installment: String(u.installment),
      reasons: u.reasons.join(','),
    });
    return OK;
  },
};

function isLenderAccount(state: KvReader, address: Uint8Array, member: string): boolean {
  const m = memberOfAccount(state, address);
  return m !== null && m.id === member && m.roles.includes('lender');
}

/**
 * The lender pays the principal to the vehicle's owner (the seller), the vehicle passes to the borrower, and the
 * lien is registered with this block's time. The schedule is fixed from this block's UTC day.
 */
const fund: OpDef<Infer<typeof FundArgs>> = {
  args: FundArgs,
  gasBase: 30_000n,
  run(ctx, a) {
    const app = loadApplication(ctx.state, a.applicationId);
    if (app === null) return failure(LOAN_CODES.NOT_FOUND, `no application ${a.applicationId}`);
    if (app.status !== 'approved') return failure(LOAN_CODES.NOT_APPROVED, `application ${app.id} is ${app.status}`);
    if (!isLenderAccount(ctx.state, ctx.sender, app.lenderMember))
      return failure(LOAN_CODES.NOT_LENDER, `only ${app.lenderMember}'s lender accounts fund this application`);
    if (ctx.block.timeMs > app.appliedAtMs + APPROVAL_TTL_MS)
      return failure(LOAN_CODES.APPLICATION_EXPIRED, `approval of ${app.id} expired`);
    const p = loadProduct(ctx.state, app.productId);
    if (p === null) assert(false, 'application names a missing product', { id: String(app.id) });
    const v = loadVehicle(ctx.state, app.vin);
    // Approval required the vehicle, and vehicles are never deleted.
    if (v === null) assert(false, 'approved application names a missing vehicle', { id: String(app.id) });
    const why = pledgeable(v);
    if (why !== null) return failure(LOAN_CODES.VEHICLE_NOT_PLEDGEABLE, why);
    if (v.lien !== null)
      return failure(LOAN_CODES.VEHICLE_LIENED, `vehicle ${app.vin} is liened to loan ${v.lien.loanId}`);

    const paid = transfer(ctx.state, app.asset, ctx.sender, v.owner, app.principal);
    if (!paid.ok) return paid;
    const env = envOf(ctx);
    const q = p.params;
    const schedule = buildSchedule({
      principal: app.principal,
      aprBps: app.aprBps,
      termMonths: app.termMonths,
      method: q.method,
      fundedDay: env.today,
    });
    const first = schedule[0]!;
    ctx.state.set(schedKey(app.id), encodeSchedule(schedule));
    const loan: Loan = {
      id: app.id,
      productId: app.productId,
      lenderMember: app.lenderMember,
      lender: ctx.sender,
      borrower: app.borrower,
      vin: app.vin,
      asset: app.asset,
      principal: app.principal,
      aprBps: app.aprBps,
      method: q.method,
      termMonths: app.termMonths,
      installment: first.principal + first.interest,
      graceDays: q.graceDays,
      lateFeeKind: q.lateFeeKind,
      lateFeeValue: q.lateFeeValue,
      penaltyUpliftBps: q.penaltyUpliftBps,
      defaultDays: q.defaultDays,
      fundedAtMs: ctx.block.timeMs,
      fundedDay: env.today,
      status: 'current',
      bucket: 0,
      dueCount: 0,
      interestFallenDue: 0n,
      principalFallenDue: 0n,
      interestPaid: 0n,
      principalPaid: 0n,
      advance: 0n,
      firstUnpaid: 0,
      firstUnpaidCum: 0n,
      feeCursor: 0,
      feeCum: 0n,
      feesCharged: 0n,
      feesPaid: 0n,
      penaltyWhole: 0n,
      penaltyFrac: 0,
      penaltyPaid: 0n,
      accruedDay: env.today,
      wakeDay: 0,
      defaultedAtMs: null,
      repossessedAtMs: null,
      closedAtMs: null,
      offer: null,
      sale: null,
    };
    const seller = v.owner;
    setOwner(ctx.state, app.vin, app.borrower);
    setLien(ctx.state, app.vin, { loanId: app.id, lender: ctx.sender, registeredAtMs: ctx.block.timeMs });
    addDebt(ctx.state, app.borrower, app.asset, loan.installment);
    const r = new LoanRun(env, loan);
    reschedule(r, false);
    saveLoan(ctx.state, loan, { terms: true });
    save(ctx.state, appKey(app.id), ApplicationSchema, { ...app, status: 'funded', fundedAtMs: ctx.block.timeMs });
    ctx.emit('funded', {
      ...r.ids(),
      seller: hex(seller),
      vin: app.vin,
      asset: app.asset,
      principal: String(app.principal),
      aprBps: String(app.aprBps),
      termMonths: String(app.termMonths),
      installment: String(loan.installment),
      firstDueDate: isoDate(first.dueDay),
    });
    ctx.emit('lienRegistered', { ...r.ids(), vin: app.vin, registeredAtMs: String(ctx.block.timeMs) });
    return OK;
  },
};

/** Anyone may pay. More than the payoff amount is not taken: the payment is capped at the payoff. */
const repay: OpDef<Infer<typeof RepayArgs>> = {
  args: RepayArgs,
  gasBase: 5_000n,
  run(ctx, a) {
    if (a.amount === 0n) return failure(LOAN_CODES.ZERO_AMOUNT, 'amount must be positive');
    const loan = loadLoan(ctx.state, a.loanId);
    if (loan === null) return failure(LOAN_CODES.NOT_FOUND, `no loan ${a.loanId}`);
    if (!ACCRUING.has(loan.status)) return failure(LOAN_CODES.NOT_REPAYABLE, `loan ${loan.id} is ${loan.status}`);
    const r = new LoanRun(envOf(ctx), loan);
    bringCurrent(r);
    const before = balancesOf(loan);
    const pay = minBig(a.amount, before.payoff);
    const moved = transfer(ctx.state, loan.asset, ctx.sender, loan.lender, pay);
    if (!moved.ok) return moved;
    const al = allocate(loan, pay, before);
    settleInstallments(r, r.env.today);
    const paidOff = loan.principalPaid === loan.principal;
    if (paidOff) {
      closeLoan(r, 'paidOff');
      recordHistory(ctx.state, loan.borrower, 'paidOff');
    } else {
      updateDelinquency(r);
      reschedule(r, false);
    }
    saveLoan(ctx.state, loan, { terms: paidOff });
    ctx.emit('repaid', {
      loanId: loanIdText(loan.id),
      borrower: hex(loan.borrower),
      lender: hex(loan.lender),
      payer: hex(ctx.sender),
      amount: decimal(pay),
      penalty: decimal(al.penalty),
      fees: decimal(al.fees),
      interest: decimal(al.interest),
      principal: decimal(al.principal),
      advance: decimal(al.advance),
      status: loan.status,
    });
    if (paidOff) ctx.emit('paidOff', { ...r.ids(), vin: loan.vin });
    return OK;
  },
};

function lenderOwnedLoan(state: KvReader, sender: Uint8Array, id: bigint): Loan | OpResult {
  const loan = loadLoan(state, id);
  if (loan === null) return failure(LOAN_CODES.NOT_FOUND, `no loan ${id}`);
  if (!isLenderAccount(state, sender, loan.lenderMember))
    return failure(LOAN_CODES.NOT_LENDER, `loan ${id} is held by ${loan.lenderMember}`);
  return loan;
}

/** The holder offers the loan to another lender organisation's account at a price; the buyer accepts and pays. */
const assign: OpDef<Infer<typeof AssignArgs>> = {
  args: AssignArgs,
  gasBase: 3_000n,
  run(ctx, a) {
    const loan = lenderOwnedLoan(ctx.state, ctx.sender, a.loanId);
    if ('ok' in loan) return loan;
    if (CLOSED.has(loan.status)) return failure(LOAN_CODES.CLOSED, `loan ${loan.id} is ${loan.status}`);
    const buyer = memberOfAccount(ctx.state, a.to);
    if (buyer === null || !buyer.roles.includes('lender'))
      return failure(LOAN_CODES.ASSIGNEE_NOT_LENDER, `${hex(a.to)} is not a lender account`);
    if (buyer.id === loan.lenderMember)
      return failure(LOAN_CODES.SAME_LENDER, `${buyer.id} already holds loan ${loan.id}`);
    loan.offer = { to: a.to, price: a.price, atMs: ctx.block.timeMs };
    saveLoan(ctx.state, loan, { terms: true });
    ctx.emit('assignmentOffered', {
      loanId: String(loan.id),
      from: loan.lenderMember,
      to: hex(a.to),
      price: String(a.price),
    });
    return OK;
  },
};

const acceptAssignment: OpDef<Infer<typeof AcceptAssignmentArgs>> = {
  args: AcceptAssignmentArgs,
  gasBase: 5_000n,
  run(ctx, a) {
    const loan = loadLoan(ctx.state, a.loanId);
    if (loan === null) return failure(LOAN_CODES.NOT_FOUND, `no loan ${a.loanId}`);
    if (CLOSED.has(loan.status)) return failure(LOAN_CODES.CLOSED, `loan ${loan.id} is ${loan.status}`);
    if (loan.offer === null) return failure(LOAN_CODES.NO_OFFER, `loan ${loan.id} is not offered`);
    if (!equalBytes(loan.offer.to, ctx.sender))
      return failure(LOAN_CODES.NOT_ASSIGNEE, `loan ${loan.id} is offered to ${hex(loan.offer.to)}`);
    const buyer = memberOfAccount(ctx.state, ctx.sender);
    if (buyer === null || !buyer.roles.includes('lender'))
      return failure(LOAN_CODES.ASSIGNEE_NOT_LENDER, `${hex(ctx.sender)} is no longer a lender account`);
    const paid = transfer(ctx.state, loan.asset, ctx.sender, loan.lender, loan.offer.price);
    if (!paid.ok) return paid;
    const from = loan.lenderMember;
    loan.lender = ctx.sender;
    loan.lenderMember = buyer.id;
    const price = loan.offer.price;
    loan.offer = null;
    // The lien follows the loan, keeping its original registration time (its priority).
    const v = loadVehicle(ctx.state, loan.vin);
    if (v?.lien && v.lien.loanId === loan.id) setLien(ctx.state, loan.vin, { ...v.lien, lender: ctx.sender });
    saveLoan(ctx.state, loan, { terms: true });
    ctx.emit('assigned', {
      loanId: String(loan.id),
      from,
      to: buyer.id,
      lender: hex(ctx.sender),
      price: String(price),
    });
    return OK;
  },
};

/** After default: the vehicle is seized and passes to the lender; the lien stays until the sale is recorded. */
const repossess: OpDef<Infer<typeof RepossessArgs>> = {
  args: RepossessArgs,
  gasBase: 5_000n,
  run(ctx, a) {
    const loan = lenderOwnedLoan(ctx.state, ctx.sender, a.loanId);
    if ('ok' in loan) return loan;
    const r = new LoanRun(envOf(ctx), loan);
    bringCurrent(r);
    if (loan.status !== 'defaulted') return failure(LOAN_CODES.NOT_DEFAULTED, `loan ${loan.id} is ${loan.status}`);
    setStatus(ctx.state, loan, 'repossessed');
    loan.repossessedAtMs = ctx.block.timeMs;
    setVehicleStatus(ctx.state, loan.vin, 'seized');
    setOwner(ctx.state, loan.vin, loan.lender);
    saveLoan(ctx.state, loan);
    ctx.emit('repossessed', { ...r.ids(), vin: loan.vin, payoff: String(balancesOf(loan).payoff) });
    return OK;
  },
};

/**
 * The lender reports the sale of a repossessed vehicle. Proceeds are applied like a payment (penalty, fees,
 * interest, principal) up to the payoff; a shortfall is the recorded deficiency; any surplus is paid by the lender
 * to the borrower in this tx. The vehicle passes to the buyer, active again, and the lien is released.
 */
const recordSale: OpDef<Infer<typeof RecordSaleArgs>> = {
  args: RecordSaleArgs,
  gasBase: 10_000n,
  run(ctx, a) {
    const loan = lenderOwnedLoan(ctx.state, ctx.sender, a.loanId);
    if ('ok' in loan) return loan;
    if (loan.status !== 'repossessed') return failure(LOAN_CODES.NOT_REPOSSESSED, `loan ${loan.id} is ${loan.status}`);
    const owed = balancesOf(loan).payoff;
    const applied = minBig(a.proceeds, owed);
    const surplus = a.proceeds - applied;
    const deficiency = owed - applied;
    if (surplus > 0n) {
      const paid = transfer(ctx.state, loan.asset, ctx.sender, loan.borrower, surplus);
      if (!paid.ok) return paid;
    }
    const r = new LoanRun(envOf(ctx), loan);
    allocate(loan, applied);
    loan.sale = { buyer: a.buyer, proceeds: a.proceeds, applied, deficiency, surplus, atMs: ctx.block.timeMs };
    closeLoan(r, 'sold');
    setOwner(ctx.state, loan.vin, a.buyer);
    setVehicleStatus(ctx.state, loan.vin, 'active');
    saveLoan(ctx.state, loan, { terms: true });
    ctx.emit('saleRecorded', {
      ...r.ids(),
      vin: loan.vin,
      buyer: hex(a.buyer),
      proceeds: String(a.proceeds),
      applied: String(applied),
      deficiency: String(deficiency),
      surplus: String(surplus),
    });
    return OK;
  },
};

// ---- begin-block: the due index ----

/**
 * Processes the due index from the cursor up to today's UTC day: each entry brings its loan current (fees,
 * penalty, buckets, default, with events) and re-indexes it at its next wake day. Cost is proportional to the
 * entries due, bounded per block by MAX_DUE_PER_BLOCK; processed entries are deleted.
 */
export function processDue(ctx: BlockStepContext, maxEntries = MAX_DUE_PER_BLOCK): number {
  const today = dayOfMs(ctx.block.timeMs);
  const cur = load(ctx.state, cursorKey(), CursorSchema) ?? { day: today, index: 0 };
  let { day, index } = cur;
  let budget = maxEntries;
  let daysWalked = 0;
  let processed = 0;
  const env: Env = {
    state: ctx.state,
    nowMs: ctx.block.timeMs,
    today,
    sink: { emit: (t, a) => ctx.emit('loan', t, a) },
  };
  while (day <= today && budget > 0 && daysWalked < MAX_DAYS_PER_BLOCK) {
    const count = load(ctx.state, dueCountKey(day), u32) ?? 0;
    let chunk: Uint8Array | undefined;
    let chunkKey: Uint8Array | undefined;
    while (index < count && budget > 0) {
      const slot = index % DUE_CHUNK;
      if (chunk === undefined || slot === 0) {
        chunkKey = dueChunkKey(day, (index - slot) / DUE_CHUNK);
        chunk = ctx.state.get(chunkKey);
      }
      if (chunk === undefined || chunk.length < (slot + 1) * 8) assert(false, 'due index hole', { day, index });
      const id = readU64BE(chunk, slot * 8);
      index += 1;
      // A chunk is deleted once all its entries are processed (a block may stop part-way through one).
      if (index % DUE_CHUNK === 0 || index === count) ctx.state.delete(chunkKey!);
      budget -= 1;
      processed += 1;
      const loan = loadLoan(ctx.state, id);
      if (loan === null || loan.wakeDay !== day) continue;
      const r = new LoanRun(env, loan);
      bringCurrent(r);
      reschedule(r, true);
      saveLoan(ctx.state, loan);
    }
    if (index < count) break;
    if (count > 0) ctx.state.delete(dueCountKey(day));
    day += 1;
    index = 0;
    daysWalked += 1;
  }
  if (day !== cur.day || index !== cur.index) save(ctx.state, cursorKey(), CursorSchema, { day, index });
  return processed;
}

export const loanModule: Module = {
  name: 'loan',
  ops: { apply, fund, repay, assign, acceptAssignment, repossess, recordSale },
  initGenesis(state: KvWriter, g: Genesis) {
    save(state, cursorKey(), CursorSchema, { day: dayOfMs(g.genesisTimeMs), index: 0 });
  },
  beginBlock(ctx) {
    processDue(ctx);
  },
};

// ---- views (JSON-ready) ----

export interface LoanPage {
  items: Record<string, unknown>[];
  offset: number;
  limit: number;
  total: number;
}

function applicationView(a: Application): Record<string, unknown> {
  return {
    kind: 'application',
    id: String(a.id),
    productId: String(a.productId),
    lenderMember: a.lenderMember,
    borrower: hex(a.borrower),
    vin: a.vin,
    asset: a.asset,
    price: String(a.price),
    downPayment: String(a.downPayment),
    principal: String(a.principal),
    termMonths: a.termMonths,
    aprBps: a.aprBps,
    installment: String(a.installment),
    status: a.status,
    reasons: [...a.reasons],
    appliedAtMs: String(a.appliedAtMs),
    fundedAtMs: a.fundedAtMs === null ? null : String(a.fundedAtMs),
  };
}

/** The day views project to: the given time, else the last day the due index reached. */
function viewDay(state: KvReader, asOfMs?: bigint): number {
  if (asOfMs !== undefined) return dayOfMs(asOfMs);
  const cur = load(state, cursorKey(), CursorSchema);
  return cur ? Math.max(0, cur.day - 1) : 0;
}

/**
 * A loan as of a day: brought current on a throwaway overlay (nothing is written), so balances, dpd and status
 * are those the chain would compute at that day.
 */
function loanViewAt(state: KvReader, stored: Loan, day: number, withSchedule: boolean): Record<string, unknown> {
  const scratch = new Overlay(state);
  try {
    return loanViewOn(scratch, state, stored, day, withSchedule);
  } finally {
    scratch.discard();
  }
}

function loanViewOn(
  scratch: Overlay,
  state: KvReader,
  stored: Loan,
  day: number,
  withSchedule: boolean,
): Record<string, unknown> {
  const loan: Loan = { ...stored };
  const r = new LoanRun(
    {
      state: scratch,
      nowMs: BigInt(day) * 86_400_000n,
      today: Math.max(day, stored.accruedDay),
      sink: { emit: () => {} },
    },
    loan,
  );
  bringCurrent(r);
  const b = balancesOf(loan);
  const dpd = ACCRUING.has(loan.status) ? loanDpd(r, r.env.today) : 0;
  const view: Record<string, unknown> = {
    kind: 'loan',
    id: String(loan.id),
    productId: String(loan.productId),
    lenderMember: loan.lenderMember,
    lender: hex(loan.lender),
    borrower: hex(loan.borrower),
    vin: loan.vin,
    asset: loan.asset,
    principal: String(loan.principal),
    aprBps: loan.aprBps,
    method: loan.method,
    termMonths: loan.termMonths,
    installment: String(loan.installment),
    status: loan.status,
    dpd,
    bucket: DPD_BUCKETS[loan.bucket] ?? 'current',
    asOf: isoDate(r.env.today),
    fundedAtMs: String(loan.fundedAtMs),
    fundedDate: isoDate(loan.fundedDay),
    installmentsDue: loan.dueCount,
    installmentsPaid: loan.firstUnpaid,
    balances: {
      penaltyDue: String(b.penaltyDue),
      feesDue: String(b.feesDue),
      interestDue: String(b.interestDue),
      principalDue: String(b.principalDue),
      principalOutstanding: String(b.principalOutstanding),
      advance: String(b.advance),
      payoff: String(b.payoff),
    },
    paid: {
      penalty: String(loan.penaltyPaid),
      fees: String(loan.feesPaid),
      interest: String(loan.interestPaid),
      principal: String(loan.principalPaid),
    },
    terms: {
      graceDays: loan.graceDays,
      lateFee: { kind: loan.lateFeeKind, value: String(loan.lateFeeValue) },
      penaltyUpliftBps: loan.penaltyUpliftBps,
      defaultDays: loan.defaultDays,
    },
    defaultedAtMs: loan.defaultedAtMs === null ? null : String(loan.defaultedAtMs),
    repossessedAtMs: loan.repossessedAtMs === null ? null : String(loan.repossessedAtMs),
    closedAtMs: loan.closedAtMs === null ? null : String(loan.closedAtMs),
    offer:
      loan.offer === null
        ? null
        : { to: hex(loan.offer.to), price: String(loan.offer.price), atMs: String(loan.offer.atMs) },
    sale:
      loan.sale === null
        ? null
        : {
            buyer: hex(loan.sale.buyer),
            proceeds: String(loan.sale.proceeds),
            applied: String(loan.sale.applied),
            deficiency: String(loan.sale.deficiency),
            surplus: String(loan.sale.surplus),
            atMs: String(loan.sale.atMs),
          },
  };
  if (withSchedule) {
    let cum = 0n;
    const paid = loan.interestPaid + loan.principalPaid;
    view.schedule = loadSchedule(state, loan.id).map((s, k) => {
      const amt = s.principal + s.interest;
      const settled = loan.status === 'paidOff' || cum + amt <= paid;
      const state2 = settled
        ? 'paid'
        : cum < paid
          ? 'partial'
          : k < loan.dueCount
            ? r.env.today > s.dueDay
              ? 'overdue'
              : 'due'
            : 'scheduled';
      cum += amt;
      return {
        n: k + 1,
        dueDate: isoDate(s.dueDay),
        principal: String(s.principal),
        interest: String(s.interest),
        amount: String(amt),
        state: state2,
      };
    });
  }
  return view;
}

/** A loan (with its schedule) or, if not funded, its application; null if the id is unknown. */
export function getLoan(
  state: KvReader,
  id: bigint | string | number,
  opts: { asOfMs?: bigint } = {},
): Record<string, unknown> | null {
  const n = typeof id === 'bigint' ? id : /^[0-9]{1,20}$/.test(String(id)) ? BigInt(id) : null;
  if (n === null) return null;
  const app = loadApplication(state, n);
  if (app === null) return null;
  const loan = loadLoan(state, n);
  if (loan === null) return applicationView(app);
  return { ...loanViewAt(state, loan, viewDay(state, opts.asOfMs), true), application: applicationView(app) };
}

function summary(state: KvReader, id: bigint, day: number): Record<string, unknown> | null {
  const loan = loadLoan(state, id);
  if (loan !== null) return loanViewAt(state, loan, day, false);
  const app = loadApplication(state, id);
  return app === null ? null : applicationView(app);
}

/** A borrower's applications and loans, oldest first. `borrower` is an address (bytes or 40 hex). */
export function listLoansByBorrower(
  state: KvReader,
  borrower: Uint8Array | string,
  opts: { offset?: number; limit?: number } = {},
): LoanPage {
  const { offset, limit } = page(opts);
  const addr = typeof borrower === 'string' ? fromHex(borrower) : borrower;
  const total = Number(loadU64(state, byBorrowerCountKey(addr)));
  const day = viewDay(state);
  const items: Record<string, unknown>[] = [];
  for (let i = offset; i < Math.min(total, offset + limit); i++) {
    const id = load(state, byBorrowerItemKey(addr, BigInt(i)), u64);
    const s = id === undefined ? null : summary(state, id, day);
    if (s) items.push(s);
  }
  return { items, offset, limit, total };
}

/** Loans that are delinquent or defaulted (the early-warning list). Order is the index's, not by id. */
export function listDelinquent(state: KvReader, opts: { offset?: number; limit?: number } = {}): LoanPage {
  const { offset, limit } = page(opts);
  const total = Number(loadU64(state, dqCountKey()));
  const day = viewDay(state);
  const items: Record<string, unknown>[] = [];
  for (let i = offset; i < Math.min(total, offset + limit); i++) {
    const id = load(state, dqItemKey(BigInt(i)), u64);
    const s = id === undefined ? null : summary(state, id, day);
    if (s) items.push(s);
  }
  return { items, offset, limit, total };
}

export const views = { getLoan, listLoansByBorrower, listDelinquent };
