// credit: bureaus' attestations of borrowers' credit, borrowers' consents to lenders, and on-chain credit history.
import { struct, str, u16, u32, u64, oneOf, list, optional, type Infer } from '../../core/codec.js';
import type { KvReader, KvWriter } from '../../state/kv.js';
import { stateKey, load, save } from '../store.js';
import { OK, failure, type Module, type OpDef } from '../types.js';
import { addressSchema, assetCodeSchema, hex } from '../util.js';
import { hasRole, memberOfAccount, loadBorrower } from './member.js';
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
const consentKey = (borrower: Uint8Array, lenderMember: string): Uint8Array => stateKey('credit', 'consent', borrower, lenderMember);
const consentListKey = (borrower: Uint8Array): Uint8Array => stateKey('credit', 'consents', borrower);
const historyKey = (borrower: Uint8Array): Uint8Array => stateKey('credit', 'hist', borrower);

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

export function loadHistory(state: KvReader, borrower: Uint8Array): CreditHistory {
  return load(state, historyKey(borrower), HistorySchema) ?? { onTime: 0, late: 0, defaulted: 0, paidOff: 0 };
}

/** Adds one event to a borrower's credit history (called by the loan module; counters saturate at u32 max). */
export function recordHistory(state: KvWriter, borrower: Uint8Array, kind: HistoryKind): void {
  const h = loadHistory(state, borrower);
  if (h[kind] < 0xffff_ffff) h[kind] += 1;
  save(state, historyKey(borrower), HistorySchema, h);
}
