// Loan money rules: exact amortization (level payment / level principal), half-up rounding, and UTC calendar days.
//
// Everything here is integer arithmetic: money is bigint minor units, rates are basis points (so every rate is an
// exact rational), and dates are whole days since 1970-01-01 UTC computed with Howard Hinnant's civil-date
// algorithm. No Date objects and no floating point, so every node computes the same schedule.
import { assert } from '../core/errors.js';

export const DAY_MS = 86_400_000n;
/** Basis points per unit × months per year: the monthly rate of an APR of `bps` is bps / 120,000. */
export const MONTHLY_RATE_DENOMINATOR = 120_000n;
/** Basis points per unit × days per year: a penalty APR of `bps` accrues bps / 3,650,000 of the base per day. */
export const DAILY_RATE_DENOMINATOR = 3_650_000n;
/** Longest schedule the VM builds, months (regulatory caps are lower; this bounds loops and record sizes). */
export const MAX_TERM_MONTHS = 120;

export type RepaymentMethod = 'levelPayment' | 'levelPrincipal';
export const REPAYMENT_METHODS: readonly RepaymentMethod[] = ['levelPayment', 'levelPrincipal'];

/** One scheduled installment: due day (days since epoch, UTC) and its principal and interest parts. */
export interface Installment {
  dueDay: number;
  principal: bigint;
  interest: bigint;
}

/** num / den rounded half-up (ties away from zero) for num >= 0, den > 0. */
export function roundHalfUp(num: bigint, den: bigint): bigint {
  if (!(num >= 0n && den > 0n))
    assert(false, 'roundHalfUp needs num >= 0 and den > 0', { num: String(num), den: String(den) });
  return (2n * num + den) / (2n * den);
}

/** One month's interest on `outstanding` at `aprBps` APR: outstanding × APR / 12, rounded half-up. */
export function monthlyInterest(outstanding: bigint, aprBps: number): bigint {
  return roundHalfUp(outstanding * BigInt(aprBps), MONTHLY_RATE_DENOMINATOR);
}

/**
 * The level-payment (等额本息) installment A = P·r / (1 − (1 + r)^−n), r = APR / 12, computed exactly as the
 * rational P·a·(D + a)^n / (D·((D + a)^n − D^n)) with a = APR in bps and D = 120,000, then rounded half-up.
 * With a zero rate it is P / n rounded half-up.
 */
export function levelPaymentInstallment(principal: bigint, aprBps: number, termMonths: number): bigint {
  checkTerms(principal, aprBps, termMonths);
  const n = BigInt(termMonths);
  if (aprBps === 0) return roundHalfUp(principal, n);
  const a = BigInt(aprBps);
  const d = MONTHLY_RATE_DENOMINATOR;
  const growth = (d + a) ** n;
  const base = d ** n;
  return roundHalfUp(principal * a * growth, d * (growth - base));
}

function checkTerms(principal: bigint, aprBps: number, termMonths: number): void {
  assert(principal >= 0n, 'negative principal');
  assert(Number.isInteger(aprBps) && aprBps >= 0 && aprBps <= 100_000, 'APR out of range', { aprBps });
  assert(Number.isInteger(termMonths) && termMonths >= 1 && termMonths <= MAX_TERM_MONTHS, 'term out of range', {
    termMonths,
  });
}

export interface ScheduleTerms {
  principal: bigint;
  aprBps: number;
  termMonths: number;
  method: RepaymentMethod;
  /** Funding day (days since epoch, UTC): installments fall due on its day-of-month. */
  fundedDay: number;
}

/**
 * The repayment schedule. Each month's interest is the outstanding principal × r rounded half-up.
 * Level payment: principal part = A − interest (never more than what is outstanding).
 * Level principal: principal part = floor(P / n); the remainder of the division goes to the last installment.
 * In both, the last installment settles the remaining principal exactly, so the principal parts sum to P.
 */
export function buildSchedule(t: ScheduleTerms): Installment[] {
  checkTerms(t.principal, t.aprBps, t.termMonths);
  const n = t.termMonths;
  const level = t.method === 'levelPayment' ? levelPaymentInstallment(t.principal, t.aprBps, n) : 0n;
  const flat = t.principal / BigInt(n);
  const out: Installment[] = [];
  let outstanding = t.principal;
  for (let k = 1; k <= n; k++) {
    const interest = monthlyInterest(outstanding, t.aprBps);
    let principal: bigint;
    if (k === n) principal = outstanding;
    else if (t.method === 'levelPayment') principal = minBig(level - interest, outstanding);
    else principal = minBig(flat, outstanding);
    if (principal < 0n) assert(false, 'negative principal part', { k });
    out.push({ dueDay: dueDayOf(t.fundedDay, k), principal, interest });
    outstanding -= principal;
  }
  return out;
}

/**
 * The first installment's amount (principal + interest), as buildSchedule computes it, without building the rest:
 * underwriting uses it as the new loan's monthly debt service (DTI). For level principal it is the largest.
 */
export function firstInstallmentAmount(t: Omit<ScheduleTerms, 'fundedDay'>): bigint {
  checkTerms(t.principal, t.aprBps, t.termMonths);
  const interest = monthlyInterest(t.principal, t.aprBps);
  if (t.termMonths === 1) return t.principal + interest;
  const principal =
    t.method === 'levelPayment'
      ? minBig(levelPaymentInstallment(t.principal, t.aprBps, t.termMonths) - interest, t.principal)
      : minBig(t.principal / BigInt(t.termMonths), t.principal);
  return principal + interest;
}

/**
 * a + b and a - b without a new BigInt when an operand is zero or (for -) both are equal: every BigInt operation
 * allocates (16-24 bytes, also 0n + 0n), and most of a current loan's amounts are zero. Same values as + and -.
 */
export function addBig(a: bigint, b: bigint): bigint {
  return b === 0n ? a : a === 0n ? b : a + b;
}

export function subBig(a: bigint, b: bigint): bigint {
  return b === 0n ? a : a === b ? 0n : a - b;
}

export function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

// ---- calendar (proleptic Gregorian, UTC, integers only) ----

/** Floor division of integers (exact for safe integers; no floating-point rounding involved). */
function fdiv(a: number, b: number): number {
  const r = ((a % b) + b) % b;
  return (a - r) / b;
}

/** Days since 1970-01-01 of the civil date (month 1-12, day 1-31). Hinnant's days_from_civil. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = fdiv(y, 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = fdiv(153 * mp + 2, 5) + day - 1;
  const doe = yoe * 365 + fdiv(yoe, 4) - fdiv(yoe, 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The civil date of a day number. Hinnant's civil_from_days. */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719468;
  const era = fdiv(z, 146097);
  const doe = z - era * 146097;
  const yoe = fdiv(doe - fdiv(doe, 1460) + fdiv(doe, 36524) - fdiv(doe, 146096), 365);
  const doy = doe - (365 * yoe + fdiv(yoe, 4) - fdiv(yoe, 100));
  const mp = fdiv(5 * doy + 2, 153);
  const day = doy - fdiv(153 * mp + 2, 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** The k-th due day (k >= 1) of a loan funded on `fundedDay`: same day-of-month k months later, clamped to month end. */
export function dueDayOf(fundedDay: number, k: number): number {
  const f = civilFromDays(fundedDay);
  const monthIndex = f.month - 1 + k;
  const year = f.year + fdiv(monthIndex, 12);
  const month = (monthIndex % 12) + 1;
  return daysFromCivil(year, month, Math.min(f.day, daysInMonth(year, month)));
}

/** dayOfMs's last time and its day. */
let lastDayMs = -1n;
let lastDay = 0;

/** The UTC day number of a block time in ms since the epoch. */
export function dayOfMs(timeMs: bigint): number {
  // Every op of a block asks for the same time's day: the last answer is remembered (a pure function, so a hit is
  // what dividing again would give, without the BigInt division and its allocation).
  if (timeMs === lastDayMs) return lastDay;
  assert(timeMs >= 0n, 'negative time');
  const day = Number(timeMs / DAY_MS);
  lastDayMs = timeMs;
  lastDay = day;
  return day;
}

/** ISO date (YYYY-MM-DD) of a day number, for views and events. */
export function isoDate(day: number): string {
  const c = civilFromDays(day);
  return `${String(c.year).padStart(4, '0')}-${String(c.month).padStart(2, '0')}-${String(c.day).padStart(2, '0')}`;
}

/** Days past due: whole days since the oldest unpaid due day (0 when nothing is past due). */
export function daysPastDue(oldestUnpaidDueDay: number | null, today: number): number {
  return oldestUnpaidDueDay === null || today <= oldestUnpaidDueDay ? 0 : today - oldestUnpaidDueDay;
}

/** Days-past-due buckets: 0 current, then 1-29, 30-59, 60-89, 90+. */
export const DPD_BUCKETS = ['current', '1-29', '30-59', '60-89', '90+'] as const;
export type DpdBucket = (typeof DPD_BUCKETS)[number];
/** The first dpd of buckets 1..4. */
export const DPD_BUCKET_STARTS = [1, 30, 60, 90] as const;

export function dpdBucket(dpd: number): DpdBucket {
  if (dpd >= 90) return '90+';
  if (dpd >= 60) return '60-89';
  if (dpd >= 30) return '30-59';
  if (dpd >= 1) return '1-29';
  return 'current';
}
