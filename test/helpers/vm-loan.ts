// Loan test scenario on top of the shared TestChain: onboarded borrowers with attestations and consents, a
// standard product, dealer-owned vehicles with valid VINs, and helpers to move whole days forward.
import type { Infer } from '../../src/core/codec.js';
import { TestChain, L, addr, commitment, DAY_MS } from './vm.js';
import { OnboardBorrowerArgs } from '../../src/vm/modules/member.js';
import { AttestArgs, ConsentArgs } from '../../src/vm/modules/credit.js';
import { RegisterArgs, vinCheckDigit } from '../../src/vm/modules/vehicle.js';
import { TransferArgs } from '../../src/vm/modules/asset.js';
import { CreateArgs, type ProductParams } from '../../src/vm/modules/product.js';
import { ApplyArgs, FundArgs, RepayArgs } from '../../src/vm/modules/loan.js';
import type { Receipt, VmEvent } from '../../src/vm/types.js';
import type { Tx } from '../../src/core/types.js';
import { sha256 } from '../../src/core/hash.js';
import { referenceRoot } from '../../src/state/smt.js';
import type { MemoryKv } from '../../src/state/kv.js';

/** What happened on a chain after its setup, to replay it on a fresh one: txs and block steps. */
export type ChainLogEntry = { tx: Tx } | { blockMs: bigint };

/** The state root over all entries, by the state tree's definition (src/state/smt.ts referenceRoot). */
export function stateRoot(state: MemoryKv): Uint8Array {
  return referenceRoot([...state.entries()].map(([k, v]) => ({ keyHash: sha256(k), valueHash: sha256(v) })));
}

export { L, addr, DAY_MS };

/** A valid VIN (check digit computed) for serial n. */
export function makeVin(n: number): string {
  const raw = `LFV2A21K0${String(n).padStart(8, '0')}`;
  return raw.slice(0, 8) + vinCheckDigit(raw) + raw.slice(9);
}

export function productParams(over: Partial<ProductParams> = {}): ProductParams {
  return {
    name: 'Standard auto loan',
    currency: 'CNY',
    aprBpsByBand: [450, 600, 800, 1000, 1400],
    termsMonths: [12, 24, 36, 48, 60],
    method: 'levelPayment',
    minScore: 600,
    maxLtvBps: { privateFuel: 8000, privateNewEnergy: 8500, commercial: 7000, used: 7000 },
    maxDtiBps: 5000,
    minDownPaymentBps: 2000,
    graceDays: 3,
    lateFeeKind: 'fixed',
    lateFeeValue: 100_00n,
    penaltyUpliftBps: 1800,
    defaultDays: 90,
    ...over,
  };
}

export const BORROWERS = [L.alice, L.bob, L.carol] as const;

export interface LoanChainOptions {
  vehicles?: number;
  product?: Partial<ProductParams>;
  /** Score band and score for every borrower. */
  band?: 'A' | 'B' | 'C' | 'D' | 'E';
  score?: number;
  income?: bigint;
  outsideDebt?: bigint;
  /** Money each borrower receives from the bank (fen). */
  borrowerFunds?: bigint;
}

/** A chain with borrowers alice/bob/carol onboarded, attested (score 720, band B) and consenting to 'lender'. */
export class LoanChain extends TestChain {
  vins: string[] = [];
  /** When not null, every executed tx and block step is appended (see replay). */
  log: ChainLogEntry[] | null = null;

  override run(tx: Tx): Receipt {
    this.log?.push({ tx });
    return super.run(tx);
  }

  /** Runs a log recorded on another chain with the same setup. */
  replay(log: readonly ChainLogEntry[]): void {
    for (const e of log) {
      if ('tx' in e) this.run(e.tx);
      else {
        this.nextBlock(e.blockMs);
        this.beginBlock();
      }
    }
  }

  static create(o: LoanChainOptions = {}): LoanChain {
    const c = new LoanChain();
    for (const b of BORROWERS) {
      c.ok(L.lender, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
        borrower: addr(b),
        identityCommitment: commitment(b),
      });
      c.ok(L.bureau, 'credit', 'attest', AttestArgs, c.attestation(b, o));
      c.ok(b, 'credit', 'consent', ConsentArgs, {
        lender: addr(L.lender),
        purpose: 'autoLoan',
        expiresAtMs: c.timeMs + 365n * DAY_MS,
      });
      if ((o.borrowerFunds ?? 1_000_000_00n) > 0n) {
        c.ok(L.bank, 'asset', 'transfer', TransferArgs, {
          asset: 'CNY',
          to: addr(b),
          amount: o.borrowerFunds ?? 1_000_000_00n,
          memo: 'funds',
        });
      }
    }
    c.ok(L.lender, 'product', 'create', CreateArgs, productParams(o.product));
    for (let i = 0; i < (o.vehicles ?? 5); i++) c.addVehicle({});
    return c;
  }

  attestation(b: string, o: LoanChainOptions = {}): Infer<typeof AttestArgs> {
    return {
      borrower: addr(b),
      score: o.score ?? 720,
      band: o.band ?? 'B',
      currency: 'CNY',
      grossMonthlyIncome: o.income ?? 50_000_00n,
      outsideMonthlyDebt: o.outsideDebt ?? 2_000_00n,
      issuedAtMs: this.timeMs,
      expiresAtMs: this.timeMs + 180n * DAY_MS,
    };
  }

  addVehicle(v: Partial<Infer<typeof RegisterArgs>>): string {
    const vin = makeVin(this.vins.length + 1);
    this.ok(L.maker, 'vehicle', 'register', RegisterArgs, {
      vin,
      make: 'Geely',
      model: 'Galaxy',
      modelYear: 2026,
      energy: 'fuel',
      use: 'private',
      condition: 'new',
      owner: addr(L.dealer),
      ...v,
    });
    this.vins.push(vin);
    return vin;
  }

  /** Applies (price 200,000.00, 30% down, 36 months by default); returns the receipt. */
  apply(borrower: string, over: Partial<Infer<typeof ApplyArgs>> = {}): Receipt {
    return this.send(borrower, 'loan', 'apply', ApplyArgs, {
      productId: 1n,
      vin: this.vins[0]!,
      price: 200_000_00n,
      downPayment: 60_000_00n,
      termMonths: 36,
      ...over,
    });
  }

  /** Applies and funds; returns the loan id. */
  openLoan(borrower: string, over: Partial<Infer<typeof ApplyArgs>> = {}, lender: string = L.lender): bigint {
    const r = this.apply(borrower, over);
    if (r.code !== 'OK' || r.events[0]?.type !== 'approved')
      throw new Error(`application failed: ${r.code} ${JSON.stringify(r.events)}`);
    const id = BigInt(r.events[0].attrs.applicationId!);
    this.ok(lender, 'loan', 'fund', FundArgs, { applicationId: id });
    return id;
  }

  repay(payer: string, loanId: bigint, amount: bigint): Receipt {
    return this.send(payer, 'loan', 'repay', RepayArgs, { loanId, amount });
  }

  /** Ends the current block and starts one `days` later (same time of day), running begin-block. */
  advanceDays(days: number, extraMs = 0n): VmEvent[] {
    this.log?.push({ blockMs: BigInt(days) * DAY_MS + extraMs });
    this.nextBlock(BigInt(days) * DAY_MS + extraMs);
    return this.beginBlock();
  }
}
