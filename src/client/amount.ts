// Exact conversion between decimal major units typed by people ("3042.19" CNY) and bigint minor units (304219 fen).
//
// String arithmetic only: a float cannot hold every amount exactly, and money must never be rounded by accident.
import { AutochainError } from '../core/errors.js';

export type AmountErrorCode = 'BAD_AMOUNT' | 'TOO_MANY_DECIMALS' | 'NEGATIVE_AMOUNT' | 'AMOUNT_TOO_LARGE';

export class AmountError extends AutochainError<AmountErrorCode> {}

const U64_MAX = (1n << 64n) - 1n;
const AMOUNT_RE = /^(\d+)(?:\.(\d*))?$|^\.(\d+)$/;

/**
 * Parses a decimal amount in major units into minor units, exactly. Accepts "3042.19", "3042", "0.5", ".5" and
 * "1_000.00" / "1,000.00" (digit grouping); refuses signs, exponents, spaces inside, and more fraction digits than
 * the asset has (a fen cannot be split), with an AmountError saying why.
 */
export function parseAmount(text: string, decimals: number): bigint {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 18) {
    throw new AmountError('BAD_AMOUNT', `asset decimals must be an integer from 0 to 18, got ${String(decimals)}`);
  }
  const trimmed = String(text).trim();
  if (trimmed.startsWith('-')) throw new AmountError('NEGATIVE_AMOUNT', `amount must not be negative: "${trimmed}"`);
  const plain = stripGrouping(trimmed);
  const m = AMOUNT_RE.exec(plain);
  if (m === null) {
    throw new AmountError('BAD_AMOUNT', `"${trimmed}" is not an amount (write it like 3042.19)`);
  }
  const whole = m[1] ?? '0';
  const fraction = (m[2] ?? m[3] ?? '').replace(/0+$/, '');
  if (fraction.length > decimals) {
    throw new AmountError(
      'TOO_MANY_DECIMALS',
      `"${trimmed}" has more than ${decimals} decimal place${decimals === 1 ? '' : 's'} for this asset`,
    );
  }
  const minor = BigInt(whole + fraction.padEnd(decimals, '0'));
  if (minor > U64_MAX) throw new AmountError('AMOUNT_TOO_LARGE', `"${trimmed}" is larger than the chain can hold`);
  return minor;
}

/** Digit grouping with "_" or "," is allowed only between groups of three digits in the whole part. */
function stripGrouping(s: string): string {
  if (!/[_,]/.test(s)) return s;
  const [whole = '', ...rest] = s.split('.');
  if (!/^\d{1,3}([_,]\d{3})+$/.test(whole)) return s; // left as is: the pattern check refuses it
  return [whole.replace(/[_,]/g, ''), ...rest].join('.');
}

/** Formats minor units as major units with exactly `decimals` fraction digits: 304219n, 2 -> "3042.19". */
export function formatAmount(minor: bigint | string, decimals: number): string {
  const n = typeof minor === 'bigint' ? minor : BigInt(minor);
  const negative = n < 0n;
  const digits = (negative ? -n : n).toString();
  if (decimals === 0) return (negative ? '-' : '') + digits;
  const padded = digits.padStart(decimals + 1, '0');
  const whole = padded.slice(0, padded.length - decimals);
  const fraction = padded.slice(padded.length - decimals);
  return `${negative ? '-' : ''}${whole}.${fraction}`;
}

/** Like formatAmount, with thousands separators for people: 10000000n, 2 -> "100,000.00". */
export function formatAmountGrouped(minor: bigint | string, decimals: number): string {
  const s = formatAmount(minor, decimals);
  const [whole = '', fraction] = s.split('.');
  const sign = whole.startsWith('-') ? '-' : '';
  const grouped = whole.replace('-', '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return sign + grouped + (fraction !== undefined ? `.${fraction}` : '');
}
