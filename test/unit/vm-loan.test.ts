// loan module: underwriting (every rejection reason), funding with lien, repayment order, delinquency, default,
// repossession and sale, assignment, the due index, views, and every failure code.
import { describe, it, expect } from 'vitest';
import { LoanChain, L, addr, DAY_MS, makeVin, productParams, BORROWERS, stateRoot } from '../helpers/vm-loan.js';
import { toHex } from '../../src/core/bytes.js';
import { expectRejected, supplyAndBalances, GENESIS_TIME_MS, commitment } from '../helpers/vm.js';
import { MemoryKv, Overlay } from '../../src/state/kv.js';
import { balanceOf } from '../../src/vm/modules/asset.js';
import { loadVehicle, SetStatusArgs, AppraiseArgs, TransferOwnershipArgs } from '../../src/vm/modules/vehicle.js';
import { loadHistory, ConsentArgs, RevokeConsentArgs, AttestArgs } from '../../src/vm/modules/credit.js';
import { OnboardBorrowerArgs } from '../../src/vm/modules/member.js';
import { CreateArgs, RetireArgs, UpdateArgs } from '../../src/vm/modules/product.js';
import {
  ApplyArgs,
  FundArgs,
  AssignArgs,
  AcceptAssignmentArgs,
  RepossessArgs,
  RecordSaleArgs,
  LOAN_CODES,
  loadLoan,
  loadApplication,
  loadSchedule,
  balancesOf,
  monthlyDebtOf,
  processDue,
  views,
  APPROVAL_TTL_MS,
  REJECTION_REASONS,
  encodeLoanState,
  decodeLoanState,
  LOAN_STATE_BYTES,
  DUE_CHUNK,
} from '../../src/vm/modules/loan.js';
import type { VmEvent } from '../../src/vm/types.js';

const A = 425_907n; // 140,000.00 at 6% (band B) over 36 months, level payment (python3 decimal)
const FIRST_INTEREST = 70_000n;

function approvedId(c: LoanChain, borrower: string = L.alice, over = {}): bigint {
  const r = c.apply(borrower, over);
  expect(r.code).toBe('OK');
  expect(r.events[0]?.type, JSON.stringify(r.events[0]?.attrs)).toBe('approved');
  return BigInt(r.events[0]!.attrs.applicationId!);
}

function reasonsOf(c: LoanChain, borrower: string, over = {}): string[] {
  const r = c.apply(borrower, over);
  expect(r.code, r.message).toBe('OK');
  const ev = r.events[0]!;
  if (ev.type === 'approved') return [];
  expect(ev.type).toBe('rejected');
  const id = BigInt(ev.attrs.applicationId!);
  const app = loadApplication(c.state, id)!;
  expect(app.status).toBe('rejected');
  expect(app.reasons.join(',')).toBe(ev.attrs.reasons);
  return [...app.reasons];
}

function types(events: VmEvent[]): string[] {
  return events.map((e) => e.type);
}

describe('loan.apply underwriting', () => {
  it('approves a good application and prices it by the score band', () => {
    const c = LoanChain.create();
    const r = c.apply(L.alice);
    expect(r.code).toBe('OK');
    expect(r.events[0]).toMatchObject({
      module: 'loan',
      type: 'approved',
      attrs: { applicationId: '1', principal: '14000000', aprBps: '600', installment: String(A), reasons: '' },
    });
    expect(loadApplication(c.state, 1n)).toMatchObject({
      status: 'approved',
      principal: 140_000_00n,
      aprBps: 600,
      installment: A,
      reasons: [],
    });
    expect(views.getLoan(c.state, 1n)).toMatchObject({ kind: 'application', status: 'approved' });
    // Band C prices at 8%.
    const c2 = LoanChain.create({ band: 'C' });
    expect(c2.apply(L.alice).events[0]?.attrs.installment).toBe('438709');
  });

  // Each case isolates one rule; where another rule necessarily fails with it, the list says so.
  const cases: [string, (c: LoanChain) => Record<string, unknown>, string[]][] = [
    [
      'borrower not onboarded',
      () => ({ _who: L.outsider }),
      ['BORROWER_NOT_ONBOARDED', 'NO_CONSENT', 'NO_ATTESTATION'],
    ],
    [
      'product retired',
      (c) => {
        c.ok(L.lender, 'product', 'retire', RetireArgs, { id: 1n });
        return {};
      },
      ['PRODUCT_RETIRED'],
    ],
    [
      'consent revoked',
      (c) => {
        c.ok(L.alice, 'credit', 'revokeConsent', RevokeConsentArgs, { lender: addr(L.lender) });
        return {};
      },
      ['NO_CONSENT'],
    ],
    [
      'consent expired',
      (c) => {
        c.ok(L.alice, 'credit', 'consent', ConsentArgs, {
          lender: addr(L.lender),
          purpose: 'autoLoan',
          expiresAtMs: c.timeMs + DAY_MS,
        });
        c.advanceDays(2);
        return {};
      },
      ['CONSENT_EXPIRED'],
    ],
    [
      'no attestation',
      (c) => {
        c.ok(L.lender, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
          borrower: addr(L.outsider),
          identityCommitment: commitment(L.outsider),
        });
        c.ok(L.outsider, 'credit', 'consent', ConsentArgs, {
          lender: addr(L.lender),
          purpose: 'autoLoan',
          expiresAtMs: c.timeMs + 30n * DAY_MS,
        });
        return { _who: L.outsider };
      },
      ['NO_ATTESTATION'],
    ],
    [
      'attestation expired',
      (c) => {
        c.advanceDays(181);
        return {};
      },
      ['ATTESTATION_EXPIRED'],
    ],
    [
      'attestation in another currency',
      (c) => {
        c.ok(L.bureau, 'credit', 'attest', AttestArgs, { ...c.attestation(L.alice), currency: 'USD' });
        return {};
      },
      ['ATTESTATION_CURRENCY_MISMATCH'],
    ],
    [
      'score below minimum',
      (c) => {
        c.ok(L.bureau, 'credit', 'attest', AttestArgs, { ...c.attestation(L.alice), score: 580 });
        return {};
      },
      ['SCORE_BELOW_MINIMUM'],
    ],
    ['term not offered', () => ({ termMonths: 30 }), ['TERM_NOT_OFFERED']],
    [
      'term above the used-car cap',
      (c) => ({ vin: c.addVehicle({ condition: 'used' }), termMonths: 48 }),
      ['TERM_ABOVE_CAP'],
    ],
    [
      'down payment below minimum',
      (c) => {
        newProduct(c, { minDownPaymentBps: 4000 });
        return { productId: 2n };
      },
      ['DOWN_PAYMENT_BELOW_MINIMUM'],
    ],
    [
      'LTV above the product',
      (c) => {
        newProduct(c, { maxLtvBps: { privateFuel: 6000, privateNewEnergy: 8500, commercial: 7000, used: 7000 } });
        return { productId: 2n };
      },
      ['LTV_ABOVE_PRODUCT'],
    ],
    [
      'LTV above the regulatory cap',
      (c) => {
        newProduct(c, {
          minDownPaymentBps: 1000,
          maxLtvBps: { privateFuel: 9000, privateNewEnergy: 9000, commercial: 9000, used: 9000 },
        });
        return { productId: 2n, downPayment: 30_000_00n };
      },
      ['LTV_ABOVE_CAP'],
    ],
    [
      'LTV against an appraisal below the price',
      (c) => {
        c.ok(L.dealer, 'vehicle', 'appraise', AppraiseArgs, { vin: c.vins[0]!, asset: 'CNY', amount: 150_000_00n });
        return {};
      },
      ['LTV_ABOVE_PRODUCT', 'LTV_ABOVE_CAP'],
    ],
    [
      'DTI above maximum',
      (c) => {
        c.ok(L.bureau, 'credit', 'attest', AttestArgs, { ...c.attestation(L.alice), grossMonthlyIncome: 10_000_00n });
        return {};
      },
      ['DTI_ABOVE_MAXIMUM'],
    ],
    ['vehicle not registered', () => ({ vin: makeVin(999) }), ['VEHICLE_NOT_FOUND']],
    [
      'vehicle stolen',
      (c) => {
        c.ok(L.registrar, 'vehicle', 'setStatus', SetStatusArgs, { vin: c.vins[0]!, status: 'stolen' });
        return {};
      },
      ['VEHICLE_NOT_PLEDGEABLE'],
    ],
    [
      'vehicle already liened',
      (c) => {
        c.openLoan(L.bob);
        return {};
      },
      ['VEHICLE_LIENED'],
    ],
  ];

  for (const [name, setup, expected] of cases) {
    it(`rejects: ${name} -> ${expected.join(', ')}`, () => {
      const c = LoanChain.create();
      const { _who, ...over } = setup(c) as { _who?: string };
      const who = _who ?? L.alice;
      const before = balanceOf(c.state, 'CNY', addr(L.lender));
      expect(reasonsOf(c, who, over)).toEqual(expected);
      // A rejection records the application but moves no money.
      expect(balanceOf(c.state, 'CNY', addr(L.lender))).toBe(before);
    });
  }

  it('covers every rejection reason in the tests above', () => {
    const covered = new Set(cases.flatMap(([, , r]) => r));
    expect(REJECTION_REASONS.filter((r) => !covered.has(r))).toEqual([]);
  });

  it('lists every failed rule at once', () => {
    const c = LoanChain.create();
    c.ok(L.bureau, 'credit', 'attest', AttestArgs, {
      ...c.attestation(L.alice),
      score: 500,
      grossMonthlyIncome: 1_000_00n,
    });
    c.ok(L.registrar, 'vehicle', 'setStatus', SetStatusArgs, { vin: c.vins[0]!, status: 'scrapped' });
    expect(reasonsOf(c, L.alice, { termMonths: 30, downPayment: 10_000_00n })).toEqual([
      'SCORE_BELOW_MINIMUM',
      'TERM_NOT_OFFERED',
      'DOWN_PAYMENT_BELOW_MINIMUM',
      'LTV_ABOVE_PRODUCT',
      'LTV_ABOVE_CAP',
      'VEHICLE_NOT_PLEDGEABLE',
    ]);
  });

  it("DTI counts the borrower's open loans at every lender", () => {
    const c = LoanChain.create();
    // alice borrows from lender-b first (her consent to lender-b, lender-b's product).
    c.ok(L.alice, 'credit', 'consent', ConsentArgs, {
      lender: addr(L.lenderB),
      purpose: 'autoLoan',
      expiresAtMs: c.timeMs + 30n * DAY_MS,
    });
    c.ok(L.lenderB, 'product', 'create', CreateArgs, productParams({ name: 'B loan' }));
    c.openLoan(L.alice, { productId: 2n, vin: c.vins[1]! }, L.lenderB);
    expect(monthlyDebtOf(c.state, addr(L.alice), 'CNY')).toBe(A);
    // Income 16,000: outside 2,000 + new 4,259.07 = 39% alone, but with the lender-b loan 66% > 50%.
    c.ok(L.bureau, 'credit', 'attest', AttestArgs, { ...c.attestation(L.alice), grossMonthlyIncome: 16_000_00n });
    expect(reasonsOf(c, L.alice)).toEqual(['DTI_ABOVE_MAXIMUM']);
    expect(reasonsOf(c, L.bob)).toEqual([]);
  });

  it('tx failures: unknown product, bad amounts (only the nonce changes)', () => {
    const c = LoanChain.create();
    const send = (over: Partial<{ productId: bigint; price: bigint; downPayment: bigint }>) => () =>
      c.send(L.alice, 'loan', 'apply', ApplyArgs, {
        productId: 1n,
        vin: c.vins[0]!,
        price: 200_000_00n,
        downPayment: 60_000_00n,
        termMonths: 36,
        ...over,
      });
    expectRejected(c, L.alice, LOAN_CODES.PRODUCT_NOT_FOUND, send({ productId: 9n }));
    expectRejected(c, L.alice, LOAN_CODES.BAD_AMOUNT, send({ price: 0n, downPayment: 0n }));
    expectRejected(c, L.alice, LOAN_CODES.BAD_AMOUNT, send({ downPayment: 200_000_00n }));
  });
});

function newProduct(c: LoanChain, over: Parameters<typeof productParams>[0]): void {
  c.ok(L.lender, 'product', 'create', CreateArgs, productParams(over));
}

describe('loan.fund', () => {
  it('pays the seller, moves the car to the borrower, registers the lien and fixes the schedule', () => {
    const c = LoanChain.create();
    const id = approvedId(c);
    const lender0 = balanceOf(c.state, 'CNY', addr(L.lender));
    const dealer0 = balanceOf(c.state, 'CNY', addr(L.dealer));
    const r = c.ok(L.lender, 'loan', 'fund', FundArgs, { applicationId: id });
    expect(types(r.events)).toEqual(['funded', 'lienRegistered']);
    expect(r.events[0]!.attrs).toMatchObject({
      loanId: '1',
      principal: '14000000',
      installment: String(A),
      firstDueDate: '2026-12-29',
      seller: Buffer.from(addr(L.dealer)).toString('hex'),
    });
    expect(balanceOf(c.state, 'CNY', addr(L.lender))).toBe(lender0 - 140_000_00n);
    expect(balanceOf(c.state, 'CNY', addr(L.dealer))).toBe(dealer0 + 140_000_00n);
    const v = loadVehicle(c.state, c.vins[0]!)!;
    expect(v.owner).toEqual(addr(L.alice));
    expect(v.lien).toEqual({ loanId: 1n, lender: addr(L.lender), registeredAtMs: GENESIS_TIME_MS });
    const sched = loadSchedule(c.state, 1n);
    expect(sched).toHaveLength(36);
    expect(sched.reduce((s, i) => s + i.principal, 0n)).toBe(140_000_00n);
    expect(sched[0]).toMatchObject({ principal: A - FIRST_INTEREST, interest: FIRST_INTEREST });
    expect(loadLoan(c.state, 1n)).toMatchObject({ status: 'current', lender: addr(L.lender), installment: A });
    expect(loadApplication(c.state, 1n)?.status).toBe('funded');
    expect(monthlyDebtOf(c.state, addr(L.alice), 'CNY')).toBe(A);
    // The liened car cannot change owner.
    expect(
      c.send(L.alice, 'vehicle', 'transferOwnership', TransferOwnershipArgs, { vin: c.vins[0]!, to: addr(L.bob) }).code,
    ).toBe('vehicle.LIENED');
    const view = views.getLoan(c.state, 1n) as {
      schedule: { dueDate: string; amount: string; state: string }[];
      status: string;
    };
    expect(view.status).toBe('current');
    expect(view.schedule.slice(0, 3).map((s) => s.dueDate)).toEqual(['2026-12-29', '2027-01-29', '2027-02-28']);
    expect(view.schedule[0]).toMatchObject({ amount: String(A), state: 'scheduled' });
  });

  it('loans of one lender share its address array (interned), so they share its memoised keys', () => {
    const c = LoanChain.create();
    const a = c.openLoan(L.alice);
    const b2 = c.openLoan(L.bob, { vin: c.vins[1]! });
    const la = loadLoan(c.state, a)!;
    const lb = loadLoan(c.state, b2)!;
    expect(la.lender).toEqual(addr(L.lender));
    expect(la.lender).toBe(lb.lender);
    expect(la.borrower).not.toBe(lb.borrower);
    // A fresh load (a fresh object the caller may change) still carries the same arrays.
    expect(loadLoan(c.state, a)!.lender).toBe(la.lender);
    // Decoded from other bytes (a copy of the state, as after a restart), both loans still get one lender array.
    const copy = new MemoryKv();
    for (const [k, v] of c.state.entries()) copy.set(k, Uint8Array.from(v));
    const ca = loadLoan(copy, a)!;
    expect(ca.lender).toBe(loadLoan(copy, b2)!.lender);
    expect(ca.borrower).toBe(la.borrower);
  });

  it('failures: unknown, not approved, already funded, wrong lender, expired, liened, not pledgeable, no funds', () => {
    const c = LoanChain.create({ vehicles: 6 });
    const fund = (who: string, id: bigint) => () => c.send(who, 'loan', 'fund', FundArgs, { applicationId: id });
    expectRejected(c, L.lender, LOAN_CODES.NOT_FOUND, fund(L.lender, 77n));
    const rejected = BigInt(c.apply(L.alice, { termMonths: 30 }).events[0]!.attrs.applicationId!);
    expectRejected(c, L.lender, LOAN_CODES.NOT_APPROVED, fund(L.lender, rejected));
    const ok = approvedId(c, L.alice, { vin: c.vins[1]! });
    expectRejected(c, L.lenderB, LOAN_CODES.NOT_LENDER, fund(L.lenderB, ok));
    expectRejected(c, L.outsider, LOAN_CODES.NOT_LENDER, fund(L.outsider, ok));
    // lender-2 is an account of the same lender organisation, but holds no money.
    expectRejected(c, L.lender2, 'asset.INSUFFICIENT_FUNDS', fund(L.lender2, ok));
    c.ok(L.lender, 'loan', 'fund', FundArgs, { applicationId: ok });
    expectRejected(c, L.lender, LOAN_CODES.NOT_APPROVED, fund(L.lender, ok));
    // Two approvals for one car: the second cannot be funded once the first is.
    const a1 = approvedId(c, L.alice, { vin: c.vins[2]! });
    const a2 = approvedId(c, L.bob, { vin: c.vins[2]! });
    c.ok(L.lender, 'loan', 'fund', FundArgs, { applicationId: a1 });
    expectRejected(c, L.lender, LOAN_CODES.VEHICLE_LIENED, fund(L.lender, a2));
    const stolen = approvedId(c, L.bob, { vin: c.vins[3]! });
    c.ok(L.registrar, 'vehicle', 'setStatus', SetStatusArgs, { vin: c.vins[3]!, status: 'stolen' });
    expectRejected(c, L.lender, LOAN_CODES.VEHICLE_NOT_PLEDGEABLE, fund(L.lender, stolen));
    const late = approvedId(c, L.carol, { vin: c.vins[4]! });
    c.nextBlock(APPROVAL_TTL_MS + 1n);
    expectRejected(c, L.lender, LOAN_CODES.APPLICATION_EXPIRED, fund(L.lender, late));
  });
});

describe('loan.repay', () => {
  it('an exact installment on its due date pays interest then principal, on time', () => {
    const c = LoanChain.create();
    const id = c.openLoan(L.alice);
    c.advanceDays(30); // 2026-12-29, the first due date
    const r = c.repay(L.alice, id, A);
    expect(r.code).toBe('OK');
    expect(r.events.find((e) => e.type === 'repaid')!.attrs).toMatchObject({
      amount: String(A),
      interest: String(FIRST_INTEREST),
      principal: String(A - FIRST_INTEREST),
      penalty: '0',
      fees: '0',
      status: 'current',
    });
    expect(loadHistory(c.state, addr(L.alice))).toMatchObject({ onTime: 1, late: 0 });
    const l = loadLoan(c.state, id)!;
    expect(balancesOf(l)).toMatchObject({
      interestDue: 0n,
      principalDue: 0n,
      principalOutstanding: 140_000_00n - (A - FIRST_INTEREST),
    });
    expect(l.firstUnpaid).toBe(1);
  });

  it('partial payments go to interest first, anyone may pay, and an early payment is applied on the due date', () => {
    const c = LoanChain.create();
    const id = c.openLoan(L.alice);
    // Paid 10 days early by bob: nothing is due yet, so it is held as advance.
    c.advanceDays(20);
    const early = c.repay(L.bob, id, A);
    expect(early.events.find((e) => e.type === 'repaid')!.attrs).toMatchObject({
      advance: String(A),
      interest: '0',
      principal: '0',
    });
    c.advanceDays(10);
    const l = loadLoan(c.state, id)!;
    expect(l).toMatchObject({
      advance: 0n,
      firstUnpaid: 1,
      interestPaid: FIRST_INTEREST,
      principalPaid: A - FIRST_INTEREST,
      status: 'current',
    });
    expect(loadHistory(c.state, addr(L.alice)).onTime).toBe(1);
    // Second installment paid in two parts on its due date: 50,000 fen all interest (68,220 due), then the rest.
    c.advanceDays(31); // 2027-01-29
    const p1 = c.repay(L.alice, id, 50_000n).events.find((e) => e.type === 'repaid')!.attrs;
    expect(p1).toMatchObject({ interest: '50000', principal: '0' });
    const p2 = c.repay(L.alice, id, A - 50_000n).events.find((e) => e.type === 'repaid')!.attrs;
    expect(p2).toMatchObject({ interest: '18220', principal: String(A - 68_220n) });
    expect(loadLoan(c.state, id)!.firstUnpaid).toBe(2);
  });

  it('early payoff: outstanding principal plus accrued items, capped, releases the lien and records paidOff', () => {
    const c = LoanChain.create();
    const id = c.openLoan(L.alice);
    c.advanceDays(30);
    c.repay(L.alice, id, A);
    c.advanceDays(5);
    const l = loadLoan(c.state, id)!;
    const payoff = balancesOf(l).payoff;
    expect(payoff).toBe(140_000_00n - (A - FIRST_INTEREST));
    const alice0 = balanceOf(c.state, 'CNY', addr(L.alice));
    const r = c.repay(L.alice, id, payoff + 1_000_00n);
    expect(types(r.events)).toEqual(['lienReleased', 'repaid', 'paidOff']);
    expect(r.events[1]!.attrs.amount).toBe(String(payoff));
    expect(balanceOf(c.state, 'CNY', addr(L.alice))).toBe(alice0 - payoff);
    expect(loadLoan(c.state, id)).toMatchObject({ status: 'paidOff' });
    expect(loadVehicle(c.state, c.vins[0]!)!.lien).toBeNull();
    expect(loadHistory(c.state, addr(L.alice))).toMatchObject({ onTime: 1, paidOff: 1 });
    expect(monthlyDebtOf(c.state, addr(L.alice), 'CNY')).toBe(0n);
    // The car is the borrower's to sell now.
    c.ok(L.alice, 'vehicle', 'transferOwnership', TransferOwnershipArgs, { vin: c.vins[0]!, to: addr(L.bob) });
    expectRejected(c, L.alice, LOAN_CODES.NOT_REPAYABLE, () => c.repay(L.alice, id, 1n));
  });

  it('paying every installment as scheduled closes the loan with the last one', () => {
    const c = LoanChain.create({ product: { termsMonths: [12] } });
    const id = c.openLoan(L.alice, { termMonths: 12 });
    const sched = loadSchedule(c.state, id);
    let day = Number(GENESIS_TIME_MS / DAY_MS);
    for (const inst of sched) {
      c.advanceDays(inst.dueDay - day);
      day = inst.dueDay;
      expect(c.repay(L.alice, id, inst.principal + inst.interest).code).toBe('OK');
    }
    expect(loadLoan(c.state, id)!.status).toBe('paidOff');
    expect(loadHistory(c.state, addr(L.alice))).toMatchObject({ onTime: 12, late: 0, paidOff: 1 });
    expect(loadVehicle(c.state, c.vins[0]!)!.lien).toBeNull();
  });

  it('failures: zero amount, unknown loan, insufficient funds', () => {
    const c = LoanChain.create();
    const id = c.openLoan(L.alice);
    expectRejected(c, L.alice, LOAN_CODES.ZERO_AMOUNT, () => c.repay(L.alice, id, 0n));
    expectRejected(c, L.alice, LOAN_CODES.NOT_FOUND, () => c.repay(L.alice, 42n, 1n));
    expectRejected(c, L.outsider, 'asset.INSUFFICIENT_FUNDS', () => c.repay(L.outsider, id, 1_000n));
  });
});

describe('post-loan monitoring', () => {
  it('grace, one late fee per missed installment, penalty interest, buckets with events, cure', () => {
    const c = LoanChain.create();
    const id = c.openLoan(L.alice);
    expect(c.advanceDays(30).filter((e) => e.module === 'loan')).toEqual([]); // due today: not yet late
    const d1 = c.advanceDays(1);
    expect(d1).toContainEqual(
      expect.objectContaining({
        module: 'loan',
        type: 'delinquency',
        attrs: expect.objectContaining({ from: 'current', to: '1-29', dpd: '1' }),
      }),
    );
    expect(loadLoan(c.state, id)!.status).toBe('delinquent');
    expect(views.listDelinquent(c.state).items.map((i) => i.id)).toEqual(['1']);
    expect(c.advanceDays(2).filter((e) => e.type === 'lateFee')).toEqual([]); // still within 3 grace days
    const fee = c.advanceDays(1).filter((e) => e.type === 'lateFee');
    expect(fee).toHaveLength(1);
    expect(fee[0]!.attrs).toMatchObject({ installment: '1', fee: '10000' });
    c.advanceDays(6); // penalty on A for 6 days at 18%: A × 1800 × 6 / 3,650,000 = 1,260.15.. -> 1,260
    const l = loadLoan(c.state, id)!;
    // No wake-up on these days: the view projects the loan to the last processed day.
    const view = views.getLoan(c.state, id) as { balances: Record<string, string>; dpd: number };
    expect(view.dpd).toBe(10);
    expect(view.balances).toMatchObject({
      penaltyDue: '1260',
      feesDue: '10000',
      interestDue: String(FIRST_INTEREST),
      principalDue: String(A - FIRST_INTEREST),
    });
    expect(l.feesCharged).toBe(10_000n);
    // Paying everything due cures it: order penalty, fees, interest, principal.
    const r = c.repay(L.alice, id, 1_260n + 10_000n + A);
    expect(r.events.find((e) => e.type === 'repaid')!.attrs).toMatchObject({
      penalty: '1260',
      fees: '10000',
      interest: String(FIRST_INTEREST),
      principal: String(A - FIRST_INTEREST),
    });
    expect(r.events).toContainEqual(
      expect.objectContaining({ type: 'delinquency', attrs: expect.objectContaining({ from: '1-29', to: 'current' }) }),
    );
    expect(loadLoan(c.state, id)!.status).toBe('current');
    expect(loadHistory(c.state, addr(L.alice)).late).toBe(1);
    expect(views.listDelinquent(c.state).total).toBe(0);
  });

  it('moves through 30/60/90 buckets, defaults at the threshold, then repossession and a sale with surplus', () => {
    const c = LoanChain.create();
    const id = c.openLoan(L.alice);
    const seen: string[] = [];
    for (let d = 0; d < 125; d++) {
      for (const e of c.advanceDays(1))
        if (e.type === 'delinquency' || e.type === 'defaulted')
          seen.push(e.type === 'defaulted' ? `defaulted@${e.attrs.dpd}` : `${e.attrs.to}@${e.attrs.dpd}`);
    }
    expect(seen).toEqual(['1-29@1', '30-59@30', '60-89@60', '90+@90', 'defaulted@90']);
    const l = loadLoan(c.state, id)!;
    expect(l.status).toBe('defaulted');
    expect(l.feesCharged).toBe(4n * 10_000n); // four installments fell due unpaid, each past its grace
    expect(loadHistory(c.state, addr(L.alice)).defaulted).toBe(1);

    expectRejected(c, L.lenderB, LOAN_CODES.NOT_LENDER, () =>
      c.send(L.lenderB, 'loan', 'repossess', RepossessArgs, { loanId: id }),
    );
    expectRejected(c, L.lender, LOAN_CODES.NOT_REPOSSESSED, () =>
      c.send(L.lender, 'loan', 'recordSale', RecordSaleArgs, { loanId: id, buyer: addr(L.bob), proceeds: 1n }),
    );
    const rp = c.ok(L.lender2, 'loan', 'repossess', RepossessArgs, { loanId: id });
    expect(types(rp.events)).toEqual(['repossessed']);
    const v = loadVehicle(c.state, c.vins[0]!)!;
    expect(v).toMatchObject({ status: 'seized', owner: addr(L.lender) });
    expect(v.lien?.loanId).toBe(id);
    expectRejected(c, L.alice, LOAN_CODES.NOT_REPAYABLE, () => c.repay(L.alice, id, 1n));
    expect(views.listDelinquent(c.state).total).toBe(0);

    const owed = balancesOf(loadLoan(c.state, id)!).payoff;
    const alice0 = balanceOf(c.state, 'CNY', addr(L.alice));
    const s = c.ok(L.lender, 'loan', 'recordSale', RecordSaleArgs, {
      loanId: id,
      buyer: addr(L.carol),
      proceeds: owed + 5_000_00n,
    });
    expect(s.events.find((e) => e.type === 'saleRecorded')!.attrs).toMatchObject({
      applied: String(owed),
      surplus: '500000',
      deficiency: '0',
    });
    expect(balanceOf(c.state, 'CNY', addr(L.alice))).toBe(alice0 + 5_000_00n);
    expect(loadVehicle(c.state, c.vins[0]!)).toMatchObject({ status: 'active', owner: addr(L.carol), lien: null });
    expect(loadLoan(c.state, id)).toMatchObject({ status: 'sold' });
    expect(monthlyDebtOf(c.state, addr(L.alice), 'CNY')).toBe(0n);
  });

  it('a sale below the amount owed records the deficiency; a loan not in default cannot be repossessed', () => {
    const c = LoanChain.create({ product: { defaultDays: 30, graceDays: 0 } });
    const id = c.openLoan(L.alice);
    expectRejected(c, L.lender, LOAN_CODES.NOT_DEFAULTED, () =>
      c.send(L.lender, 'loan', 'repossess', RepossessArgs, { loanId: id }),
    );
    c.advanceDays(70);
    expect(loadLoan(c.state, id)!.status).toBe('defaulted');
    c.ok(L.lender, 'loan', 'repossess', RepossessArgs, { loanId: id });
    const owed = balancesOf(loadLoan(c.state, id)!).payoff;
    const s = c.ok(L.lender, 'loan', 'recordSale', RecordSaleArgs, {
      loanId: id,
      buyer: addr(L.dealer),
      proceeds: 50_000_00n,
    });
    expect(s.events.find((e) => e.type === 'saleRecorded')!.attrs).toMatchObject({
      applied: '5000000',
      surplus: '0',
      deficiency: String(owed - 50_000_00n),
    });
    expect(loadLoan(c.state, id)!.sale).toMatchObject({ deficiency: owed - 50_000_00n });
    expectRejected(c, L.lender, LOAN_CODES.NOT_REPOSSESSED, () =>
      c.send(L.lender, 'loan', 'recordSale', RecordSaleArgs, { loanId: id, buyer: addr(L.dealer), proceeds: 1n }),
    );
  });

  it('a surplus the lender cannot pay fails the sale and changes nothing', () => {
    const c = LoanChain.create({ product: { defaultDays: 30 } });
    const id = c.openLoan(L.alice, {}, L.lender);
    c.advanceDays(70);
    c.ok(L.lender2, 'loan', 'repossess', RepossessArgs, { loanId: id });
    // lender-2 holds nothing; a surplus must come from the reporting account.
    expectRejected(c, L.lender2, 'asset.INSUFFICIENT_FUNDS', () =>
      c.send(L.lender2, 'loan', 'recordSale', RecordSaleArgs, {
        loanId: id,
        buyer: addr(L.dealer),
        proceeds: 10_000_000_00n,
      }),
    );
  });

  it('begin-block work grows with the loans due, not with all loans', () => {
    const c = LoanChain.create({ vehicles: 4 });
    c.openLoan(L.alice, { vin: c.vins[0]! }); // funded Nov 29: due Dec 29
    c.advanceDays(1);
    c.openLoan(L.bob, { vin: c.vins[1]! }); // funded Nov 30: due Dec 30
    c.openLoan(L.carol, { vin: c.vins[2]! }); // funded Nov 30: due Dec 30
    c.advanceDays(1);
    c.openLoan(L.bob, { vin: c.vins[3]!, price: 50_000_00n, downPayment: 20_000_00n }); // funded Dec 1: due Jan 1
    const probe = (): number => processDue({ state: new Overlay(c.state), block: c.block(), emit: () => {} });
    const counts: number[] = [];
    c.nextBlock(26n * DAY_MS); // Dec 27: begin-block not yet run
    for (let d = 0; d < 7; d++) {
      counts.push(probe());
      c.beginBlock();
      expect(probe(), 'a second pass in the same block finds nothing').toBe(0);
      c.nextBlock(DAY_MS);
    }
    // Dec 27..Jan 2: Dec 29 loan 1 due; Dec 30 loan 1 one day late + loans 2, 3 due; Dec 31 loans 2, 3 one day late;
    // Jan 1 loan 4 due; Jan 2 loan 1's late fee and loan 4 one day late.
    expect(counts).toEqual([0, 0, 1, 3, 2, 1, 2]);
  });

  it('a day with more loans than a due chunk holds, processed a few entries per block, ends as in one pass', () => {
    const n = 2 * DUE_CHUNK + 5;
    const chains = [
      LoanChain.create({ vehicles: n, income: 1_000_000_00n }),
      LoanChain.create({ vehicles: n, income: 1_000_000_00n }),
    ];
    const ids: bigint[] = [];
    for (const c of chains) {
      ids.length = 0;
      for (let i = 0; i < n; i++) {
        ids.push(c.openLoan(BORROWERS[i % 3]!, { vin: c.vins[i]!, price: 10_000_00n, downPayment: 3_000_00n }));
      }
      c.nextBlock(30n * DAY_MS); // Dec 29: every loan's first installment falls due today
    }
    const dueDay = loadSchedule(chains[0]!.state, ids[0]!)[0]!.dueDay;
    const dayPrefix = `loan/due/${String(dueDay).padStart(8, '0')}/`;
    const dayEntries = (c: LoanChain): number =>
      [...c.state.entries()].filter(([k]) => Buffer.from(k).toString('latin1').startsWith(dayPrefix)).length;
    // Every loan is in the day's list: two full chunks, a partial one, and the count.
    expect(dayEntries(chains[0]!)).toBe(4);
    const step = (c: LoanChain, max: number): number => {
      const o = new Overlay(c.state);
      const done = processDue({ state: o, block: c.block(), emit: () => {} }, max);
      o.commitTo(c.state);
      return done;
    };
    // 5 entries per block: stops inside a chunk and continues from the cursor.
    const passes: number[] = [];
    for (let done = step(chains[0]!, 5); done > 0; done = step(chains[0]!, 5)) passes.push(done);
    expect(passes).toEqual([5, 5, 5, 5, 5, 5, 5, 2]);
    expect(step(chains[1]!, 10_000)).toBe(n);
    for (const c of chains) {
      expect(dayEntries(c)).toBe(0);
      for (const id of ids) expect(loadLoan(c.state, id)!.dueCount).toBe(1);
    }
    expect(toHex(stateRoot(chains[0]!.state))).toBe(toHex(stateRoot(chains[1]!.state)));
  });

  it('after a long halt the first block catches up: events once, amounts as if processed daily', () => {
    const daily = LoanChain.create();
    const halted = LoanChain.create();
    for (const c of [daily, halted]) c.openLoan(L.alice);
    for (let d = 0; d < 130; d++) daily.advanceDays(1);
    const ev = halted.advanceDays(130).filter((e) => e.module === 'loan');
    // Dec 29 .. Apr 8 (dpd 100): four installments past their grace, one bucket move (current -> 90+), default.
    expect(ev.map((e) => e.type)).toEqual(['lateFee', 'lateFee', 'lateFee', 'lateFee', 'delinquency', 'defaulted']);
    expect(ev[4]!.attrs).toMatchObject({ from: 'current', to: '90+', dpd: '100' });
    // Stored records differ in how far penalty has accrued (daily's was last touched on its last wake-up day);
    // projected to the same day they agree.
    const a = views.getLoan(daily.state, 1n)!;
    const b = views.getLoan(halted.state, 1n)!;
    expect(b.asOf).toBe('2027-04-08');
    expect(b.balances).toEqual(a.balances);
    expect([b.status, b.dpd, b.bucket]).toEqual(['defaulted', 100, '90+']);
    expect([a.status, a.dpd, a.bucket]).toEqual(['defaulted', 100, '90+']);
  });
});

describe('loan.assign', () => {
  it('the holder offers, the buyer pays and takes over; payments and the lien follow', () => {
    const c = LoanChain.create();
    const id = c.openLoan(L.alice);
    const lien0 = loadVehicle(c.state, c.vins[0]!)!.lien!;
    c.ok(L.lender, 'loan', 'assign', AssignArgs, { loanId: id, to: addr(L.lenderB), price: 100_000_00n });
    const b0 = balanceOf(c.state, 'CNY', addr(L.lenderB));
    const l0 = balanceOf(c.state, 'CNY', addr(L.lender));
    const r = c.ok(L.lenderB, 'loan', 'acceptAssignment', AcceptAssignmentArgs, { loanId: id });
    expect(r.events[0]).toMatchObject({
      type: 'assigned',
      attrs: { from: 'lender', to: 'lender-b', price: '10000000' },
    });
    expect(balanceOf(c.state, 'CNY', addr(L.lenderB))).toBe(b0 - 100_000_00n);
    expect(balanceOf(c.state, 'CNY', addr(L.lender))).toBe(l0 + 100_000_00n);
    expect(loadVehicle(c.state, c.vins[0]!)!.lien).toEqual({ ...lien0, lender: addr(L.lenderB) });
    c.advanceDays(30);
    const before = balanceOf(c.state, 'CNY', addr(L.lenderB));
    c.repay(L.alice, id, A);
    expect(balanceOf(c.state, 'CNY', addr(L.lenderB))).toBe(before + A);
    // The old holder no longer controls it.
    expectRejected(c, L.lender, LOAN_CODES.NOT_LENDER, () =>
      c.send(L.lender, 'loan', 'assign', AssignArgs, { loanId: id, to: addr(L.lender), price: 0n }),
    );
  });

  it('failures: not holder, assignee not a lender, same lender, no offer, not the assignee, closed, no funds', () => {
    const c = LoanChain.create({ vehicles: 2 });
    const id = c.openLoan(L.alice);
    const assign =
      (who: string, to: string, loanId = id) =>
      () =>
        c.send(who, 'loan', 'assign', AssignArgs, { loanId, to: addr(to), price: 1_000n });
    expectRejected(c, L.lenderB, LOAN_CODES.NOT_LENDER, assign(L.lenderB, L.lenderB));
    expectRejected(c, L.lender, LOAN_CODES.NOT_FOUND, assign(L.lender, L.lenderB, 99n));
    expectRejected(c, L.lender, LOAN_CODES.ASSIGNEE_NOT_LENDER, assign(L.lender, L.dealer));
    expectRejected(c, L.lender, LOAN_CODES.SAME_LENDER, assign(L.lender, L.lender2));
    const accept =
      (who: string, loanId = id) =>
      () =>
        c.send(who, 'loan', 'acceptAssignment', AcceptAssignmentArgs, { loanId });
    expectRejected(c, L.lenderB, LOAN_CODES.NO_OFFER, accept(L.lenderB));
    expectRejected(c, L.lenderB, LOAN_CODES.NOT_FOUND, accept(L.lenderB, 99n));
    c.ok(L.lender, 'loan', 'assign', AssignArgs, { loanId: id, to: addr(L.lenderB), price: 200_000_000_00n });
    expectRejected(c, L.lender, LOAN_CODES.NOT_ASSIGNEE, accept(L.lender));
    expectRejected(c, L.lenderB, 'asset.INSUFFICIENT_FUNDS', accept(L.lenderB));
    c.repay(L.alice, id, balancesOf(loadLoan(c.state, id)!).payoff);
    expectRejected(c, L.lender, LOAN_CODES.CLOSED, assign(L.lender, L.lenderB));
    expectRejected(c, L.lenderB, LOAN_CODES.CLOSED, accept(L.lenderB));
  });
});

describe('loan views and conservation', () => {
  it("lists a borrower's applications and loans, paged, and keeps every asset's supply equal to its balances", () => {
    const c = LoanChain.create({ vehicles: 4 });
    c.openLoan(L.alice, { vin: c.vins[0]! });
    c.apply(L.alice, { vin: c.vins[1]!, termMonths: 30 });
    c.openLoan(L.alice, { vin: c.vins[2]!, price: 100_000_00n, downPayment: 30_000_00n });
    const page = views.listLoansByBorrower(c.state, Buffer.from(addr(L.alice)).toString('hex'), {
      offset: 1,
      limit: 2,
    });
    expect(page.total).toBe(3);
    expect(page.items.map((i) => [i.id, i.kind, i.status])).toEqual([
      ['2', 'application', 'rejected'],
      ['3', 'loan', 'current'],
    ]);
    expect(views.getLoan(c.state, '999')).toBeNull();
    expect(views.getLoan(c.state, 'x')).toBeNull();
    c.advanceDays(45);
    c.repay(L.bob, 1n, 100n);
    for (const [code, supply, sum] of supplyAndBalances(c.state)) expect(sum, code).toBe(supply);
    const dq = views.listDelinquent(c.state, { limit: 1 });
    expect(dq.total).toBe(2);
    expect(dq.items).toHaveLength(1);
  });

  it("a product update does not change a funded loan's terms", () => {
    const c = LoanChain.create();
    const id = c.openLoan(L.alice);
    c.ok(L.lender, 'product', 'update', UpdateArgs, {
      id: 1n,
      params: productParams({ graceDays: 10, lateFeeValue: 1n }),
    });
    expect(loadLoan(c.state, id)).toMatchObject({ graceDays: 3, lateFeeValue: 100_00n });
  });
});

describe('loan state record', () => {
  it('round-trips the fixed-width layout and refuses malformed bytes', () => {
    const c = LoanChain.create();
    const id = c.openLoan(L.alice);
    c.advanceDays(40);
    const l = loadLoan(c.state, id)!;
    const bytes = encodeLoanState({ ...l, closedAtMs: 123n });
    expect(bytes).toHaveLength(LOAN_STATE_BYTES);
    expect(decodeLoanState(bytes)).toMatchObject({
      status: 'delinquent',
      bucket: 1,
      dueCount: 1,
      closedAtMs: 123n,
      defaultedAtMs: null,
      feesCharged: 10_000n,
    });
    expect(() => decodeLoanState(bytes.subarray(1))).toThrow(/malformed/);
    const bad = bytes.slice();
    bad[1] = 99;
    expect(() => decodeLoanState(bad)).toThrow(/status/);
    expect(() => encodeLoanState({ ...l, advance: -1n })).toThrow(/u64/);
  });
});

describe('loan terms variants', () => {
  it('level principal: falling installments; a share-of-installment late fee; the view projects to a given day', () => {
    const c = LoanChain.create({
      product: { method: 'levelPrincipal', lateFeeKind: 'bps', lateFeeValue: 500n, graceDays: 0 },
    });
    const id = c.openLoan(L.alice);
    const s = loadSchedule(c.state, id);
    expect(s[0]).toEqual(expect.objectContaining({ principal: 388_888n, interest: 70_000n })); // python3 decimal
    expect(s.every((x, k) => k === 0 || x.principal + x.interest <= s[k - 1]!.principal + s[k - 1]!.interest)).toBe(
      true,
    );
    c.advanceDays(31); // one day past the first due date, no grace
    const fee = roundHalf((388_888n + 70_000n) * 500n, 10_000n);
    expect(loadLoan(c.state, id)!.feesCharged).toBe(fee);
    const later = views.getLoan(c.state, id, { asOfMs: c.timeMs + 20n * DAY_MS }) as {
      dpd: number;
      bucket: string;
      balances: { feesDue: string };
    };
    expect([later.dpd, later.bucket, later.balances.feesDue]).toEqual([21, '1-29', String(fee)]);
    // The projection wrote nothing.
    expect(loadLoan(c.state, id)!.bucket).toBe(1);
  });

  it('a default is sticky: paying what is due cures the bucket but not the status; payoff still closes it', () => {
    const c = LoanChain.create({ product: { defaultDays: 30 } });
    const id = c.openLoan(L.alice);
    c.advanceDays(62);
    expect(loadLoan(c.state, id)!.status).toBe('defaulted');
    const due = balancesOf(loadLoan(c.state, id)!);
    const r = c.repay(L.bob, id, due.penaltyDue + due.feesDue + due.interestDue + due.principalDue);
    expect(r.events).toContainEqual(
      expect.objectContaining({ type: 'delinquency', attrs: expect.objectContaining({ to: 'current' }) }),
    );
    expect(loadLoan(c.state, id)!.status).toBe('defaulted');
    expect(views.listDelinquent(c.state).total).toBe(1);
    c.repay(L.alice, id, balancesOf(loadLoan(c.state, id)!).payoff);
    expect(loadLoan(c.state, id)!.status).toBe('paidOff');
    expect(views.listDelinquent(c.state).total).toBe(0);
    // Dec 29's installment paid Jan 30 is late; Jan 29's paid within its 3 grace days is on time.
    expect(loadHistory(c.state, addr(L.alice))).toEqual({ defaulted: 1, paidOff: 1, late: 1, onTime: 1 });
  });
});

function roundHalf(n: bigint, d: bigint): bigint {
  return (2n * n + d) / (2n * d);
}
