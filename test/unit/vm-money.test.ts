// Money rules: amortization checked against figures computed independently (python3 decimal, 60 digits), calendar.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  levelPaymentInstallment,
  buildSchedule,
  firstInstallmentAmount,
  monthlyInterest,
  roundHalfUp,
  daysFromCivil,
  civilFromDays,
  dueDayOf,
  daysInMonth,
  isoDate,
  daysPastDue,
  dpdBucket,
  dayOfMs,
  addBig,
  subBig,
} from '../../src/vm/money.js';

// [principal fen, APR bps, months, level-payment A, last LP installment, total LP interest,
//  level-principal first (principal, interest), last (principal, interest), total LPr interest]
// Computed with python3 Decimal (precision 60): A = P·r/(1−(1+r)^−n), r = APR/12, rounded half-up.
const TABLE: [bigint, number, number, bigint, bigint, bigint, [bigint, bigint], [bigint, bigint], bigint][] = [
  [10_000_000n, 600, 36, 304_219n, 304_236n, 951_901n, [277_777n, 50_000n], [277_805n, 1_389n], 925_002n],
  [20_000_000n, 450, 60, 372_860n, 372_881n, 2_371_621n, [333_333n, 75_000n], [333_353n, 1_250n], 2_287_500n],
  [15_000_000n, 1200, 24, 706_102n, 706_103n, 1_946_449n, [625_000n, 150_000n], [625_000n, 6_250n], 1_875_000n],
  [8_888_888n, 399, 12, 756_847n, 756_852n, 193_281n, [740_740n, 29_556n], [740_748n, 2_463n], 192_114n],
  [100_000n, 1800, 6, 17_553n, 17_550n, 5_315n, [16_666n, 1_500n], [16_670n, 250n], 5_250n],
  [5_000_000n, 0, 12, 416_667n, 416_663n, 0n, [416_666n, 0n], [416_674n, 0n], 0n],
  [
    123_456_789n,
    725,
    48,
    2_970_667n,
    2_970_663n,
    19_135_223n,
    [2_572_016n, 745_885n],
    [2_572_037n, 15_539n],
    18_274_180n,
  ],
  [1_000n, 2400, 36, 39n, 50n, 415n, [27n, 20n], [55n, 1n], 380n],
];

const FUNDED = daysFromCivil(2026, 1, 31);

describe('amortization', () => {
  it('100,000.00 at 6% APR over 36 months, level payment, is 3,042.19 a month', () => {
    expect(levelPaymentInstallment(10_000_000n, 600, 36)).toBe(304_219n);
  });

  for (const [p, apr, n, a, lastLp, intLp, firstLpr, lastLpr, intLpr] of TABLE) {
    it(`P=${p} APR=${apr}bps n=${n}`, () => {
      expect(levelPaymentInstallment(p, apr, n), 'installment').toBe(a);
      const lp = buildSchedule({ principal: p, aprBps: apr, termMonths: n, method: 'levelPayment', fundedDay: FUNDED });
      expect(lp).toHaveLength(n);
      lp.slice(0, -1).forEach((i, k) => expect(i.principal + i.interest, `installment ${k + 1}`).toBe(a));
      const last = lp[n - 1]!;
      expect(last.principal + last.interest, 'last installment').toBe(lastLp);
      expect(
        lp.reduce((s, i) => s + i.principal, 0n),
        'principal parts sum to P',
      ).toBe(p);
      expect(
        lp.reduce((s, i) => s + i.interest, 0n),
        'total interest',
      ).toBe(intLp);

      const lpr = buildSchedule({
        principal: p,
        aprBps: apr,
        termMonths: n,
        method: 'levelPrincipal',
        fundedDay: FUNDED,
      });
      expect([lpr[0]!.principal, lpr[0]!.interest], 'first level-principal installment').toEqual(firstLpr);
      expect([lpr[n - 1]!.principal, lpr[n - 1]!.interest], 'last level-principal installment').toEqual(lastLpr);
      expect(lpr.reduce((s, i) => s + i.principal, 0n)).toBe(p);
      expect(
        lpr.reduce((s, i) => s + i.interest, 0n),
        'total interest',
      ).toBe(intLpr);
      lpr.slice(0, -1).forEach((i) => expect(i.principal).toBe(p / BigInt(n)));
    });
  }

  it('first-month interest is outstanding × APR / 12 rounded half-up', () => {
    expect(monthlyInterest(10_000_000n, 600)).toBe(50_000n);
    // 100 × 0.06 / 12 = 0.5 -> 1 (half up); 99 × 0.06 / 12 = 0.495 -> 0
    expect(monthlyInterest(100n, 600)).toBe(1n);
    expect(monthlyInterest(99n, 600)).toBe(0n);
    expect(roundHalfUp(5n, 2n)).toBe(3n);
    expect(roundHalfUp(7n, 3n)).toBe(2n);
    expect(roundHalfUp(0n, 3n)).toBe(0n);
  });

  it('a tiny principal over a long term never yields negative parts', () => {
    for (const method of ['levelPayment', 'levelPrincipal'] as const) {
      const s = buildSchedule({ principal: 3n, aprBps: 0, termMonths: 5, method, fundedDay: FUNDED });
      expect(s.every((i) => i.principal >= 0n && i.interest >= 0n)).toBe(true);
      expect(s.reduce((x, i) => x + i.principal, 0n)).toBe(3n);
    }
  });

  it("the first installment computed alone equals the schedule's first (the DTI input)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 1, max: 120 }),
        fc.constantFrom('levelPayment' as const, 'levelPrincipal' as const),
        (principal, aprBps, termMonths, method) => {
          const first = buildSchedule({ principal, aprBps, termMonths, method, fundedDay: FUNDED })[0]!;
          expect(firstInstallmentAmount({ principal, aprBps, termMonths, method })).toBe(
            first.principal + first.interest,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses impossible terms (bug guard)', () => {
    expect(() => levelPaymentInstallment(1n, 600, 0)).toThrow(/term/);
    expect(() => levelPaymentInstallment(-1n, 600, 12)).toThrow(/principal/);
    expect(() => roundHalfUp(1n, 0n)).toThrow();
  });
});

describe('calendar', () => {
  it('day numbers match the proleptic Gregorian calendar (python datetime)', () => {
    const cases: [number, number, number, number][] = [
      [1970, 1, 1, 0],
      [1969, 12, 31, -1],
      [2000, 3, 1, 11017],
      [2026, 1, 31, 20484],
      [2026, 11, 29, 20786],
      [2028, 2, 29, 21243],
      [2100, 2, 28, 47540],
    ];
    for (const [y, m, d, n] of cases) {
      expect(daysFromCivil(y, m, d), `${y}-${m}-${d}`).toBe(n);
      expect(civilFromDays(n)).toEqual({ year: y, month: m, day: d });
    }
    expect(daysInMonth(2028, 2)).toBe(29);
    expect(daysInMonth(2100, 2)).toBe(28);
    expect(daysInMonth(2000, 2)).toBe(29);
    expect(dayOfMs(BigInt(Date.UTC(2026, 10, 29, 23, 59, 59)))).toBe(20786);
  });

  it('dayOfMs gives the UTC day of any sequence of times (its one-entry memo never answers for another time)', () => {
    const DAY = 86_400_000n;
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: 4_000_000_000_000n }), { minLength: 1, maxLength: 20 }),
        (times) => {
          // Each time twice in a row, then the sequence again: hits, misses and a return to an earlier time.
          for (const t of [...times.flatMap((t) => [t, t]), ...times]) expect(dayOfMs(t)).toBe(Number(t / DAY));
        },
      ),
    );
    expect(dayOfMs(DAY - 1n)).toBe(0);
    expect(dayOfMs(DAY)).toBe(1);
    expect(() => dayOfMs(-1n)).toThrow(/negative time/);
    expect(dayOfMs(DAY)).toBe(1);
  });

  it('due dates keep the funding day-of-month, clamped to month end', () => {
    const dues = Array.from({ length: 13 }, (_, k) => isoDate(dueDayOf(FUNDED, k + 1)));
    expect(dues).toEqual([
      '2026-02-28',
      '2026-03-31',
      '2026-04-30',
      '2026-05-31',
      '2026-06-30',
      '2026-07-31',
      '2026-08-31',
      '2026-09-30',
      '2026-10-31',
      '2026-11-30',
      '2026-12-31',
      '2027-01-31',
      '2027-02-28',
    ]);
    const f = daysFromCivil(2027, 8, 30);
    expect([6, 7, 18].map((k) => isoDate(dueDayOf(f, k)))).toEqual(['2028-02-29', '2028-03-30', '2029-02-28']);
  });

  it('days past due and buckets', () => {
    expect(daysPastDue(null, 100)).toBe(0);
    expect(daysPastDue(100, 100)).toBe(0);
    expect(daysPastDue(100, 101)).toBe(1);
    expect([0, 1, 29, 30, 59, 60, 89, 90, 400].map(dpdBucket)).toEqual([
      'current',
      '1-29',
      '1-29',
      '30-59',
      '30-59',
      '60-89',
      '60-89',
      '90+',
      '90+',
    ]);
  });
});

describe('addBig and subBig', () => {
  it('equal + and - for every pair, zeros and equal operands included', () => {
    const amount = fc.oneof(fc.constant(0n), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }));
    fc.assert(
      fc.property(amount, amount, (a, b) => {
        expect(addBig(a, b)).toBe(a + b);
        expect(subBig(a, b)).toBe(a - b);
        expect(subBig(a, a)).toBe(0n);
      }),
      { numRuns: 2000 },
    );
  });
});
