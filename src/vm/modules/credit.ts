// credit: bureaus' attestations of borrowers' credit, borrowers' consents to lenders, and on-chain credit history.
import { struct, str, u16, u32, u64, oneOf, list, optional, encode, decode, type Infer } from '../../core/codec.js';
import { assert } from '../../core/errors.js';
import { allocBytes } from '../../core/bytes.js';
import type { KvReader, KvWriter } from '../../state/kv.js';
import { stateKey, load, save, memoByBytes, MAX_RECORD_BYTES } from '../store.js';
import { OK, failure, type Module, type OpDef } from '../types.js';
import { addressSchema, assetCodeSchema, hex } from '../util.js';
import { memberOfAccount, loadBorrower } from './member.js';
import { assetExists } from './asset.js';

export const CREDIT_CODES = {
  NOT_BUREAU: 'credit.NOT_BUREAU',
  UNKNOWN_BORROWER: 'credit.UNKNOWN_BORROWER',
  BAD_SCORE: 'credit.BAD_SCORE',
  UNKNOWN_ASSET: 'credit.UNKNOWN_ASSET',
  FUTURE_ISSUE: 'credit.FUTURE_ISSUE',
  BAD_EXPIRY: 'credit.BAD_EXPIRY',
  NOT_BORROWER: 'credit.NOT_BORROWER',
  NOT_LENDER: 'credit.NOT_LENDER',
  TOO_MANY_CONSENTS: 'credit.TOO_MANY_CONSENTS',
  NO_CONSENT: 'credit.NO_CONSENT',
} as const;

export const SCORE_MIN = 300;
export const SCORE_MAX = 900;
export const BANDS = ['A', 'B', 'C', 'D', 'E'] as const;
export type Band = (typeof BANDS)[number];
/** Most lenders one borrower has consent records for (the list is one state entry). */
export const MAX_CONSENTS = 32;

export const AttestationSchema = struct('Attestation', [
  ['borrower', addressSchema],
  ['bureau', addressSchema],
  ['bureauMember', str({ max: 32 })],
  ['score', u16],
  ['band', oneOf(BANDS)],
  ['currency', assetCodeSchema],
  ['grossMonthlyIncome', u64],
  ['outsideMonthlyDebt', u64],
  ['issuedAtMs', u64],
  ['expiresAtMs', u64],
  ['recordedAtMs', u64],
] as const);
export type Attestation = Infer<typeof AttestationSchema>;

const purposeSchema = str({ max: 64, pattern: /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/ });

export const ConsentSchema = struct('Consent', [
  ['borrower', addressSchema],
  ['lenderMember', str({ max: 32 })],
  ['purpose', purposeSchema],
  ['grantedAtMs', u64],
  ['expiresAtMs', u64],
  ['revokedAtMs', optional(u64)],
] as const);
export type Consent = Infer<typeof ConsentSchema>;

export const HistorySchema = struct('CreditHistory', [
  ['onTime', u32],
  ['late', u32],
  ['defaulted', u32],
  ['paidOff', u32],
] as const);
export type CreditHistory = Infer<typeof HistorySchema>;
export type HistoryKind = keyof CreditHistory;

const ConsentListSchema = list(str({ max: 32 }), { max: MAX_CONSENTS });

const attKey = (borrower: Uint8Array): Uint8Array => stateKey('credit', 'att', borrower);
const consentKey = (borrower: Uint8Array, lenderMember: string): Uint8Array =>
  stateKey('credit', 'consent', borrower, lenderMember);
const consentListKey = (borrower: Uint8Array): Uint8Array => stateKey('credit', 'consents', borrower);
const historyKey = memoByBytes((borrower) => stateKey('credit', 'hist', borrower));

export function loadAttestation(state: KvReader, borrower: Uint8Array): Attestation | null {
  return load(state, attKey(borrower), AttestationSchema) ?? null;
}

/**
 * The borrower's consent for a lender organisation, or null if none or revoked. `lender` is a lender account's
 * address (resolved to its member organisation, so any of the lender's accounts sees the consent) or a member id.
 * Expiry is not applied here: the caller compares expiresAtMs with its block time and reports that reason itself.
 */
export function loadConsent(state: KvReader, borrower: Uint8Array, lender: Uint8Array | string): Consent | null {
  const lenderMember = typeof lender === 'string' ? lender : memberOfAccount(state, lender)?.id;
  if (lenderMember === undefined) return null;
  const c = load(state, consentKey(borrower, lenderMember), ConsentSchema);
  return c === undefined || c.revokedAtMs !== null ? null : c;
}

/**
 * Every installment paid rewrites a history, so it has direct fast paths: while all four counters are below 128 the
 * canonical encoding is 5 bytes, a fixarray (0x94) of positive fixints; those bytes are read and written directly
 * (the same bytes and values as the codec's, tested), anything else goes through the codec.
 */
function encodeHistory(h: CreditHistory): Uint8Array {
  if (h.onTime < 0x80 && h.late < 0x80 && h.defaulted < 0x80 && h.paidOff < 0x80) {
    const out = allocBytes(5);
    out[0] = 0x94;
    out[1] = h.onTime;
    out[2] = h.late;
    out[3] = h.defaulted;
    out[4] = h.paidOff;
    return out;
  }
  return encode(HistorySchema, h);
}

function decodeHistory(raw: Uint8Array): CreditHistory {
  if (raw.length === 5 && raw[0] === 0x94 && raw[1]! < 0x80 && raw[2]! < 0x80 && raw[3]! < 0x80 && raw[4]! < 0x80) {
    return { onTime: raw[1]!, late: raw[2]!, defaulted: raw[3]!, paidOff: raw[4]! };
  }
  return decode(HistorySchema, raw, MAX_RECORD_BYTES);
}

function loadHistoryAt(state: KvReader, key: Uint8Array): CreditHistory {
  const raw = state.get(key);
  return raw === undefined ? { onTime: 0, late: 0, defaulted: 0, paidOff: 0 } : decodeHistory(raw);
}

export { encodeHistory, decodeHistory };

export function loadHistory(state: KvReader, borrower: Uint8Array): CreditHistory {
  return loadHistoryAt(state, historyKey(borrower));
}

/** Adds one event to a borrower's credit history (called by the loan module; counters saturate at u32 max). */
export function recordHistory(state: KvWriter, borrower: Uint8Array, kind: HistoryKind): void {
  const key = historyKey(borrower);
  const h = loadHistoryAt(state, key);
  if (h[kind] < 0xffff_ffff) h[kind] += 1;
  state.set(key, encodeHistory(h));
}

// ---- operations ----

export const AttestArgs = struct('credit.attest', [
  ['borrower', addressSchema],
  ['score', u16],
  ['band', oneOf(BANDS)],
  ['currency', assetCodeSchema],
  ['grossMonthlyIncome', u64],
  ['outsideMonthlyDebt', u64],
  ['issuedAtMs', u64],
  ['expiresAtMs', u64],
] as const);
export const ConsentArgs = struct('credit.consent', [
  ['lender', addressSchema],
  ['purpose', purposeSchema],
  ['expiresAtMs', u64],
] as const);
export const RevokeConsentArgs = struct('credit.revokeConsent', [['lender', addressSchema]] as const);

const attest: OpDef<Infer<typeof AttestArgs>> = {
  args: AttestArgs,
  gasBase: 3_000n,
  run(ctx, a) {
    const bureau = memberOfAccount(ctx.state, ctx.sender);
    if (bureau === null || !bureau.roles.includes('bureau'))
      return failure(CREDIT_CODES.NOT_BUREAU, 'only credit-bureau accounts attest');
    if (loadBorrower(ctx.state, a.borrower) === null)
      return failure(CREDIT_CODES.UNKNOWN_BORROWER, `${hex(a.borrower)} is not an onboarded borrower`);
    if (a.score < SCORE_MIN || a.score > SCORE_MAX)
      return failure(CREDIT_CODES.BAD_SCORE, `score ${a.score} outside ${SCORE_MIN}..${SCORE_MAX}`);
    if (!assetExists(ctx.state, a.currency))
      return failure(CREDIT_CODES.UNKNOWN_ASSET, `unknown currency ${a.currency}`);
    if (a.issuedAtMs > ctx.block.timeMs)
      return failure(CREDIT_CODES.FUTURE_ISSUE, `issued at ${a.issuedAtMs}, after block time ${ctx.block.timeMs}`);
    if (a.expiresAtMs <= ctx.block.timeMs)
      return failure(CREDIT_CODES.BAD_EXPIRY, `expiry ${a.expiresAtMs} is not after block time ${ctx.block.timeMs}`);
    // The newest attestation replaces the previous one: lenders underwrite on the latest bureau view.
    save(ctx.state, attKey(a.borrower), AttestationSchema, {
      ...a,
      bureau: ctx.sender,
      bureauMember: bureau.id,
      recordedAtMs: ctx.block.timeMs,
    });
    ctx.emit('attested', {
      borrower: hex(a.borrower),
      bureau: hex(ctx.sender),
      bureauMember: bureau.id,
      score: String(a.score),
      band: a.band,
      expiresAtMs: a.expiresAtMs.toString(),
    });
    return OK;
  },
};

function loadConsentList(state: KvReader, borrower: Uint8Array): string[] {
  return load(state, consentListKey(borrower), ConsentListSchema) ?? [];
}

const consent: OpDef<Infer<typeof ConsentArgs>> = {
  args: ConsentArgs,
  gasBase: 2_000n,
  run(ctx, a) {
    if (loadBorrower(ctx.state, ctx.sender) === null)
      return failure(CREDIT_CODES.NOT_BORROWER, 'only onboarded borrowers grant consent');
    const lender = memberOfAccount(ctx.state, a.lender);
    if (lender === null || !lender.roles.includes('lender'))
      return failure(CREDIT_CODES.NOT_LENDER, `${hex(a.lender)} is not a lender account`);
    if (a.expiresAtMs <= ctx.block.timeMs)
      return failure(CREDIT_CODES.BAD_EXPIRY, `expiry ${a.expiresAtMs} is not after block time ${ctx.block.timeMs}`);
    const lenders = loadConsentList(ctx.state, ctx.sender);
    if (!lenders.includes(lender.id)) {
      if (lenders.length >= MAX_CONSENTS)
        return failure(CREDIT_CODES.TOO_MANY_CONSENTS, `at most ${MAX_CONSENTS} lenders`);
      lenders.push(lender.id);
      save(ctx.state, consentListKey(ctx.sender), ConsentListSchema, lenders.sort());
    }
    save(ctx.state, consentKey(ctx.sender, lender.id), ConsentSchema, {
      borrower: ctx.sender,
      lenderMember: lender.id,
      purpose: a.purpose,
      grantedAtMs: ctx.block.timeMs,
      expiresAtMs: a.expiresAtMs,
      revokedAtMs: null,
    });
    ctx.emit('consentGranted', {
      borrower: hex(ctx.sender),
      lender: lender.id,
      purpose: a.purpose,
      expiresAtMs: a.expiresAtMs.toString(),
    });
    return OK;
  },
};

const revokeConsent: OpDef<Infer<typeof RevokeConsentArgs>> = {
  args: RevokeConsentArgs,
  gasBase: 2_000n,
  run(ctx, a) {
    const lender = memberOfAccount(ctx.state, a.lender);
    const c = lender === null ? null : loadConsent(ctx.state, ctx.sender, lender.id);
    if (lender === null || c === null)
      return failure(CREDIT_CODES.NO_CONSENT, `no active consent for ${hex(a.lender)}`);
    // Kept with its revocation time, so the record shows when the lender's access ended.
    save(ctx.state, consentKey(ctx.sender, lender.id), ConsentSchema, { ...c, revokedAtMs: ctx.block.timeMs });
    ctx.emit('consentRevoked', { borrower: hex(ctx.sender), lender: lender.id });
    return OK;
  },
};

export const creditModule: Module = {
  name: 'credit',
  ops: { attest, consent, revokeConsent },
};

// ---- views (JSON-ready) ----

export interface CreditView {
  address: string;
  attestation: Record<string, string> | null;
  consents: { lender: string; purpose: string; grantedAtMs: string; expiresAtMs: string; revokedAtMs: string | null }[];
  history: { onTime: number; late: number; defaulted: number; paidOff: number };
}

function getCredit(state: KvReader, address: Uint8Array): CreditView {
  const att = loadAttestation(state, address);
  const consents = loadConsentList(state, address).map((lenderId) => {
    const c = load(state, consentKey(address, lenderId), ConsentSchema);
    assert(c !== undefined, 'consent list names a missing consent', { lenderId });
    return {
      lender: c.lenderMember,
      purpose: c.purpose,
      grantedAtMs: c.grantedAtMs.toString(),
      expiresAtMs: c.expiresAtMs.toString(),
      revokedAtMs: c.revokedAtMs?.toString() ?? null,
    };
  });
  return {
    address: hex(address),
    attestation: att && {
      borrower: hex(att.borrower),
      bureau: hex(att.bureau),
      bureauMember: att.bureauMember,
      score: String(att.score),
      band: att.band,
      currency: att.currency,
      grossMonthlyIncome: att.grossMonthlyIncome.toString(),
      outsideMonthlyDebt: att.outsideMonthlyDebt.toString(),
      issuedAtMs: att.issuedAtMs.toString(),
      expiresAtMs: att.expiresAtMs.toString(),
      recordedAtMs: att.recordedAtMs.toString(),
    },
    consents,
    history: loadHistory(state, address),
  };
}

export const views = { getCredit };
