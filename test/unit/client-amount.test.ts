// Exact amount parsing and formatting for the client and CLI: decimal major units <-> bigint minor units.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AmountError, formatAmount, formatAmountGrouped, parseAmount } from '../../src/client/amount.js';

describe('parseAmount', () => {
  const good: [string, number, bigint][] = [
    ['3042.19', 2, 304219n],
    ['3042', 2, 304200n],
    ['3042.1', 2, 304210n],
    ['3042.190', 2, 304219n],
    ['0.5', 2, 50n],
    ['.5', 2, 50n],
    ['5.', 2, 500n],
    ['0', 2, 0n],
    ['100000.00', 2, 10000000n],
    ['1,000.25', 2, 100025n],
    ['1_000_000', 2, 100000000n],
    [' 12.34 ', 2, 1234n],
    ['7', 0, 7n],
    ['7.000', 0, 7n],
    ['0.000001', 6, 1n],
    ['18446744073709551615', 0, 18446744073709551615n],
    ['184467440737095516.15', 2, 18446744073709551615n],
  ];
  for (const [text, decimals, minor] of good) {
    it(`reads "${text}" with ${decimals} decimals as ${minor}`, () => {
      expect(parseAmount(text, decimals), `"${text}"/${decimals}`).toBe(minor);
    });
  }

  const bad: [string, number, AmountError['code']][] = [
    ['3042.191', 2, 'TOO_MANY_DECIMALS'],
    ['0.001', 2, 'TOO_MANY_DECIMALS'],
    ['5.5', 0, 'TOO_MANY_DECIMALS'],
    ['-1', 2, 'NEGATIVE_AMOUNT'],
    ['-0.01', 2, 'NEGATIVE_AMOUNT'],
    ['', 2, 'BAD_AMOUNT'],
    ['.', 2, 'BAD_AMOUNT'],
    ['abc', 2, 'BAD_AMOUNT'],
    ['1e3', 2, 'BAD_AMOUNT'],
    ['1.2.3', 2, 'BAD_AMOUNT'],
    ['+5', 2, 'BAD_AMOUNT'],
    ['0x10', 2, 'BAD_AMOUNT'],
    ['1 000', 2, 'BAD_AMOUNT'],
    ['10,00', 2, 'BAD_AMOUNT'],
    ['1,0000', 2, 'BAD_AMOUNT'],
    ['Infinity', 2, 'BAD_AMOUNT'],
    ['18446744073709551616', 0, 'AMOUNT_TOO_LARGE'],
    ['184467440737095516.16', 2, 'AMOUNT_TOO_LARGE'],
  ];
  for (const [text, decimals, code] of bad) {
    it(`refuses "${text}" with ${decimals} decimals (${code})`, () => {
      let err: unknown;
      try {
        parseAmount(text, decimals);
      } catch (e) {
        err = e;
      }
      expect(err, `"${text}"`).toBeInstanceOf(AmountError);
      expect((err as AmountError).code, `"${text}"`).toBe(code);
    });
  }

  it('refuses impossible decimals', () => {
    expect(() => parseAmount('1', -1)).toThrow(AmountError);
    expect(() => parseAmount('1', 1.5)).toThrow(AmountError);
  });

  it('round-trips with formatAmount for any u64 and decimals', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.integer({ min: 0, max: 18 }), (minor, decimals) => {
        expect(parseAmount(formatAmount(minor, decimals), decimals)).toBe(minor);
        expect(parseAmount(formatAmountGrouped(minor, decimals), decimals)).toBe(minor);
      }),
    );
  });
});

describe('formatAmount', () => {
  it('writes minor units as major units with every decimal', () => {
    expect(formatAmount(304219n, 2)).toBe('3042.19');
    expect(formatAmount(5n, 2)).toBe('0.05');
    expect(formatAmount(0n, 2)).toBe('0.00');
    expect(formatAmount('1000', 0)).toBe('1000');
    expect(formatAmount(-150n, 2)).toBe('-1.50');
  });

  it('groups thousands for people', () => {
    expect(formatAmountGrouped(10000000n, 2)).toBe('100,000.00');
    expect(formatAmountGrouped(304219n, 2)).toBe('3,042.19');
    expect(formatAmountGrouped(99n, 2)).toBe('0.99');
    expect(formatAmountGrouped(-123456789n, 2)).toBe('-1,234,567.89');
  });
});
