// Property tests of the loan domain over random sequences of operations and block times: money conserved per
// asset, liens released only when nothing is owed or through a recorded sale, liened cars never change owner (but
// for repossession by the lienholder), schedules sum up, one status per loan, and replay gives the same state root.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { LoanChain, L, addr, stateRoot, productParams, BORROWERS } from '../helpers/vm-loan.js';
import { supplyAndBalances } from '../helpers/vm.js';
import { equalBytes } from '../../src/core/bytes.js';
import { loadVehicle, TransferOwnershipArgs } from '../../src/vm/modules/vehicle.js';
import { CreateArgs } from '../../src/vm/modules/product.js';
import {
  AssignArgs,
  AcceptAssignmentArgs,
  RepossessArgs,
  RecordSaleArgs,
  FundArgs,
  LOAN_STATUSES,
  loadLoan,
  loadSchedule,
  balancesOf,
  monthlyDebtOf,
  views,
  penaltyAccrued,
  type Loan,
} from '../../src/vm/modules/loan.js';
import { buildSchedule } from '../../src/vm/money.js';

type Cmd =
  | { k: 'open'; b: number; v: number; term: number; downPct: number; product: number }
  | { k: 'repay'; loan: number; mode: 'installment' | 'part' | 'payoff' | 'over'; pct: number; payer: number }
  | { k: 'days'; days: number; ms: number }
  | { k: 'assign'; loan: number }
  | { k: 'repossess'; loan: number }
  | { k: 'sale'; loan: number; pct: number }
  | { k: 'move'; v: number };

const VEHICLES = 6;
const TERMS = [12, 24, 36, 48, 60];

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('open' as const),
      b: fc.nat(2),
      v: fc.nat(VEHICLES - 1),
      term: fc.nat(4),
      downPct: fc.integer({ min: 18, max: 60 }),
      product: fc.nat(1),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('repay' as const),
      loan: fc.nat(7),
      mode: fc.constantFrom('installment' as const, 'part' as const, 'payoff' as const, 'over' as const),
      pct: fc.integer({ min: 1, max: 100 }),
      payer: fc.nat(3),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('days' as const),
      days: fc.oneof(fc.nat(3), fc.integer({ min: 25, max: 45 })),
      ms: fc.nat(86_399_999),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('assign' as const), loan: fc.nat(7) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('repossess' as const), loan: fc.nat(7) }) },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant('sale' as const), loan: fc.nat(7), pct: fc.integer({ min: 0, max: 150 }) }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('move' as const), v: fc.nat(VEHICLES - 1) }) },
);

const OPEN: ReadonlySet<string> = new Set(['current', 'delinquent', 'defaulted', 'repossessed']);
const PAYERS = [L.alice, L.bob, L.carol, L.lender];

function setup(): LoanChain {
  const c = LoanChain.create({ vehicles: VEHICLES });
  // A second product: level principal, no grace, share-of-installment late fee, quick default.
  c.ok(
    L.lender,
    'product',
    'create',
    CreateArgs,
    productParams({
      name: 'Fast',
      method: 'levelPrincipal',
      graceDays: 0,
      lateFeeKind: 'bps',
      lateFeeValue: 500n,
      penaltyUpliftBps: 2400,
      defaultDays: 30,
    }),
  );
  return c;
}

function loans(c: LoanChain, ids: readonly bigint[]): Loan[] {
  return ids.map((id) => loadLoan(c.state, id)!);
}

/** Runs one command; returns the loan id whose repossession may change a liened car's owner. */
function step(c: LoanChain, ids: bigint[], cmd: Cmd): bigint | null {
  const pick = (i: number): Loan | null => (ids.length === 0 ? null : loadLoan(c.state, ids[i % ids.length]!));
  // Prefer a loan in the status the operation needs (else any), so repossessions and sales are exercised.
  const pickIn = (i: number, status: Loan['status']): Loan | null => {
    const all = loans(c, ids).filter((l) => l.status === status);
    return all.length > 0 ? all[i % all.length]! : pick(i);
  };
  const holderKey = (l: Loan): string => (equalBytes(l.lender, addr(L.lenderB)) ? L.lenderB : L.lender);
  switch (cmd.k) {
    case 'open': {
      const vin = c.vins[cmd.v]!;
      const price = 100_000_00n + BigInt(cmd.v) * 17_000_00n;
      const r = c.apply(BORROWERS[cmd.b]!, {
        productId: BigInt(cmd.product + 1),
        vin,
        price,
        downPayment: (price * BigInt(cmd.downPct)) / 100n,
        termMonths: TERMS[cmd.term]!,
      });
      expect(r.code).toBe('OK');
      if (r.events[0]?.type === 'approved') {
        const id = BigInt(r.events[0].attrs.applicationId!);
        const f = c.send(L.lender, 'loan', 'fund', FundArgs, { applicationId: id });
        expect(f.code).toBe('OK');
        ids.push(id);
      }
      return null;
    }
    case 'repay': {
      const l = pick(cmd.loan);
      if (!l) return null;
      const payoff = OPEN.has(l.status) ? balancesOf(l).payoff : 1n;
      const amount =
        cmd.mode === 'installment'
          ? l.installment
          : cmd.mode === 'part'
            ? (l.installment * BigInt(cmd.pct)) / 100n + 1n
            : cmd.mode === 'payoff'
              ? payoff + 1_000n
              : payoff * 2n;
      const r = c.repay(PAYERS[cmd.payer]!, l.id, amount);
      if (r.code !== 'OK') expect(['loan.NOT_REPAYABLE', 'asset.INSUFFICIENT_FUNDS']).toContain(r.code);
      return null;
    }
    case 'days':
      c.advanceDays(cmd.days, BigInt(cmd.ms));
      return null;
    case 'assign': {
      const l = pick(cmd.loan);
      if (!l) return null;
      const from = holderKey(l);
      const to = from === L.lender ? L.lenderB : L.lender;
      const r = c.send(from, 'loan', 'assign', AssignArgs, { loanId: l.id, to: addr(to), price: l.principal / 2n });
      if (r.code === 'OK')
        expect(c.send(to, 'loan', 'acceptAssignment', AcceptAssignmentArgs, { loanId: l.id }).code).toBe('OK');
      else expect(r.code).toBe('loan.CLOSED');
      return null;
    }
    case 'repossess': {
      const l = pickIn(cmd.loan, 'defaulted');
      if (!l) return null;
      const r = c.send(holderKey(l), 'loan', 'repossess', RepossessArgs, { loanId: l.id });
      if (r.code !== 'OK') expect(r.code).toBe('loan.NOT_DEFAULTED');
      return l.id;
    }
    case 'sale': {
      const l = pickIn(cmd.loan, 'repossessed');
      if (!l) return null;
      const proceeds = (balancesOf(l).payoff * BigInt(cmd.pct)) / 100n;
      const r = c.send(holderKey(l), 'loan', 'recordSale', RecordSaleArgs, {
        loanId: l.id,
        buyer: addr(L.dealer),
        proceeds,
      });
      if (r.code !== 'OK') expect(['loan.NOT_REPOSSESSED', 'asset.INSUFFICIENT_FUNDS']).toContain(r.code);
      return null;
    }
    case 'move': {
      const vin = c.vins[cmd.v]!;
      const v = loadVehicle(c.state, vin)!;
      const owner = [...BORROWERS, L.dealer, L.lender, L.lenderB].find((k) => equalBytes(addr(k), v.owner));
      if (owner === undefined) return null;
      const r = c.send(owner, 'vehicle', 'transferOwnership', TransferOwnershipArgs, { vin, to: addr(L.dealer) });
      if (v.lien !== null) expect(r.code).toBe('vehicle.LIENED');
      return null;
    }
  }
}

function checkInvariants(c: LoanChain, ids: readonly bigint[], supply0: Map<string, bigint>): void {
  // Money is conserved per asset: supply equals the balances, and no loan operation mints or burns.
  for (const [code, supply, sum] of supplyAndBalances(c.state)) {
    expect(sum, `${code} balances`).toBe(supply);
    expect(supply, `${code} supply`).toBe(supply0.get(code));
  }
  const debt = new Map<string, bigint>();
  const delinquent = new Set<string>();
  for (const l of loans(c, ids)) {
    // One status, and the records that depend on it agree with it.
    expect(LOAN_STATUSES).toContain(l.status);
    const v = loadVehicle(c.state, l.vin)!;
    const liened = v.lien !== null && v.lien.loanId === l.id;
    expect(liened, `loan ${l.id} (${l.status}) lien`).toBe(OPEN.has(l.status));
    if (liened) expect(v.lien!.lender).toEqual(l.lender);
    if (l.status === 'paidOff') {
      // Released only when nothing was owed.
      expect([l.principalPaid, l.interestPaid, l.feesPaid, l.advance]).toEqual([
        l.principal,
        l.interestFallenDue,
        l.feesCharged,
        0n,
      ]);
      expect(l.penaltyPaid).toBe(penaltyAccrued(l));
    }
    if (l.status === 'sold') expect(l.sale).not.toBeNull();
    else expect(l.sale).toBeNull();
    if (OPEN.has(l.status)) {
      const k = Buffer.from(l.borrower).toString('hex');
      debt.set(k, (debt.get(k) ?? 0n) + l.installment);
      balancesOf(l); // asserts every balance is in range
    }
    if (l.status === 'delinquent' || l.status === 'defaulted') delinquent.add(String(l.id));
    // The schedule: fixed at funding, principal parts sum to the principal, amounts to principal plus interest.
    const s = loadSchedule(c.state, l.id);
    expect(s).toEqual(
      buildSchedule({
        principal: l.principal,
        aprBps: l.aprBps,
        termMonths: l.termMonths,
        method: l.method,
        fundedDay: l.fundedDay,
      }),
    );
    const interest = s.reduce((x, i) => x + i.interest, 0n);
    expect(s.reduce((x, i) => x + i.principal, 0n)).toBe(l.principal);
    expect(s.reduce((x, i) => x + i.principal + i.interest, 0n)).toBe(l.principal + interest);
    const fallen = s.slice(0, l.dueCount);
    expect(l.interestFallenDue).toBe(fallen.reduce((x, i) => x + i.interest, 0n));
    expect(l.principalFallenDue).toBe(fallen.reduce((x, i) => x + i.principal, 0n));
  }
  for (const b of BORROWERS) {
    const k = Buffer.from(addr(b)).toString('hex');
    expect(monthlyDebtOf(c.state, addr(b), 'CNY'), `${b} monthly debt`).toBe(debt.get(k) ?? 0n);
  }
  const listed = views.listDelinquent(c.state, { limit: 100 });
  expect(new Set(listed.items.map((i) => String(i.id)))).toEqual(delinquent);
}

describe('loan properties', () => {
  it('random operations and block times keep every invariant, and replay gives the same state root', () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { minLength: 5, maxLength: 60 }), (cmds) => {
        const c = setup();
        const supply0 = new Map(supplyAndBalances(c.state).map(([code, supply]) => [code, supply]));
        c.log = [];
        const ids: bigint[] = [];
        for (const cmd of cmds) {
          const before = c.vins.map((vin) => loadVehicle(c.state, vin)!);
          const repossessed = step(c, ids, cmd);
          before.forEach((b, i) => {
            const a = loadVehicle(c.state, c.vins[i]!)!;
            // A liened vehicle keeps its owner, unless its lienholder repossessed it in this step.
            if (
              b.lien !== null &&
              a.lien !== null &&
              a.lien.loanId === b.lien.loanId &&
              repossessed !== b.lien.loanId
            ) {
              expect(a.owner, `${b.vin} owner while liened`).toEqual(b.owner);
            }
          });
          checkInvariants(c, ids, supply0);
        }
        const fresh = setup();
        fresh.replay(c.log);
        expect(stateRoot(fresh.state)).toEqual(stateRoot(c.state));
      }),
      { numRuns: 50, seed: Number(process.env.SEED ?? 20261129) },
    );
  });
});
