// credit module: attestations, consents and their revocation, credit history, every rejection.
import { describe, it, expect } from 'vitest';
import { TestChain, L, addr, key, expectRejected, commitment, testGenesis, DAY_MS } from '../helpers/vm.js';
import { OnboardBorrowerArgs } from '../../src/vm/modules/member.js';
import {
  AttestArgs,
  ConsentArgs,
  RevokeConsentArgs,
  CREDIT_CODES,
  loadAttestation,
  loadConsent,
  loadHistory,
  recordHistory,
  views,
} from '../../src/vm/modules/credit.js';
import type { Infer } from '../../src/core/codec.js';

function chain(): TestChain {
  const c = new TestChain();
  c.ok(L.lender, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
    borrower: addr(L.alice),
    identityCommitment: commitment(L.alice),
  });
  return c;
}

function att(c: TestChain, over: Partial<Infer<typeof AttestArgs>> = {}): Infer<typeof AttestArgs> {
  return {
    borrower: addr(L.alice),
    score: 720,
    band: 'B',
    currency: 'CNY',
    grossMonthlyIncome: 25_000_00n,
    outsideMonthlyDebt: 3_000_00n,
    issuedAtMs: c.timeMs,
    expiresAtMs: c.timeMs + 90n * DAY_MS,
    ...over,
  };
}

function consentArgs(c: TestChain, over: Partial<Infer<typeof ConsentArgs>> = {}): Infer<typeof ConsentArgs> {
  return { lender: addr(L.lender), purpose: 'autoLoan', expiresAtMs: c.timeMs + 30n * DAY_MS, ...over };
}

describe('credit', () => {
  it('a bureau attests a borrower; a newer attestation replaces it', () => {
    const c = chain();
    const r = c.ok(L.bureau, 'credit', 'attest', AttestArgs, att(c));
    expect(r.events[0]).toMatchObject({
      module: 'credit',
      type: 'attested',
      attrs: { score: '720', band: 'B', bureauMember: 'bureau' },
    });
    expect(loadAttestation(c.state, addr(L.alice))).toMatchObject({
      score: 720,
      band: 'B',
      grossMonthlyIncome: 25_000_00n,
      outsideMonthlyDebt: 3_000_00n,
      bureauMember: 'bureau',
    });
    c.ok(L.bureau, 'credit', 'attest', AttestArgs, att(c, { score: 650, band: 'C' }));
    expect(loadAttestation(c.state, addr(L.alice))?.score).toBe(650);
    expect(loadAttestation(c.state, addr(L.bob))).toBeNull();
  });

  it('a borrower grants consent to a lender organisation, seen from any of its accounts, and revokes it', () => {
    const c = chain();
    c.ok(L.alice, 'credit', 'consent', ConsentArgs, consentArgs(c));
    const got = loadConsent(c.state, addr(L.alice), addr(L.lender));
    expect(got).toMatchObject({ lenderMember: 'lender', purpose: 'autoLoan', revokedAtMs: null });
    // lender-2 is another key of the same organisation
    expect(loadConsent(c.state, addr(L.alice), addr(L.lender2))).toEqual(got);
    expect(loadConsent(c.state, addr(L.alice), 'lender')).toEqual(got);
    expect(loadConsent(c.state, addr(L.alice), addr(L.lenderB))).toBeNull();
    expect(loadConsent(c.state, addr(L.alice), addr(L.outsider))).toBeNull();
    const r = c.ok(L.alice, 'credit', 'revokeConsent', RevokeConsentArgs, { lender: addr(L.lender2) });
    expect(r.events[0]).toMatchObject({ type: 'consentRevoked', attrs: { lender: 'lender' } });
    expect(loadConsent(c.state, addr(L.alice), addr(L.lender))).toBeNull();
    // The record stays, with its revocation time, in the view.
    expect(views.getCredit(c.state, addr(L.alice)).consents).toEqual([
      {
        lender: 'lender',
        purpose: 'autoLoan',
        grantedAtMs: c.timeMs.toString(),
        expiresAtMs: (c.timeMs + 30n * DAY_MS).toString(),
        revokedAtMs: c.timeMs.toString(),
      },
    ]);
    // Granting again renews it.
    c.ok(L.alice, 'credit', 'consent', ConsentArgs, consentArgs(c));
    expect(loadConsent(c.state, addr(L.alice), addr(L.lender))?.revokedAtMs).toBeNull();
  });

  it('credit history counts every kind and is visible in the view', () => {
    const c = chain();
    expect(loadHistory(c.state, addr(L.alice))).toEqual({ onTime: 0, late: 0, defaulted: 0, paidOff: 0 });
    recordHistory(c.state, addr(L.alice), 'onTime');
    recordHistory(c.state, addr(L.alice), 'onTime');
    recordHistory(c.state, addr(L.alice), 'late');
    recordHistory(c.state, addr(L.alice), 'defaulted');
    recordHistory(c.state, addr(L.alice), 'paidOff');
    expect(loadHistory(c.state, addr(L.alice))).toEqual({ onTime: 2, late: 1, defaulted: 1, paidOff: 1 });
    expect(views.getCredit(c.state, addr(L.alice)).history).toEqual({ onTime: 2, late: 1, defaulted: 1, paidOff: 1 });
    expect(views.getCredit(c.state, addr(L.bob))).toEqual({
      address: Buffer.from(addr(L.bob)).toString('hex'),
      attestation: null,
      consents: [],
      history: { onTime: 0, late: 0, defaulted: 0, paidOff: 0 },
    });
  });

  const cases: {
    name: string;
    code: string;
    label: string;
    setup?: (c: TestChain) => void;
    send: (c: TestChain) => ReturnType<TestChain['send']>;
  }[] = [
    {
      name: 'attest by a lender',
      code: CREDIT_CODES.NOT_BUREAU,
      label: L.lender,
      send: (c) => c.send(L.lender, 'credit', 'attest', AttestArgs, att(c)),
    },
    {
      name: 'attest an account never onboarded',
      code: CREDIT_CODES.UNKNOWN_BORROWER,
      label: L.bureau,
      send: (c) => c.send(L.bureau, 'credit', 'attest', AttestArgs, att(c, { borrower: addr(L.bob) })),
    },
    {
      name: 'attest a score under 300',
      code: CREDIT_CODES.BAD_SCORE,
      label: L.bureau,
      send: (c) => c.send(L.bureau, 'credit', 'attest', AttestArgs, att(c, { score: 299 })),
    },
    {
      name: 'attest a score over 900',
      code: CREDIT_CODES.BAD_SCORE,
      label: L.bureau,
      send: (c) => c.send(L.bureau, 'credit', 'attest', AttestArgs, att(c, { score: 901 })),
    },
    {
      name: 'attest in an unknown currency',
      code: CREDIT_CODES.UNKNOWN_ASSET,
      label: L.bureau,
      send: (c) => c.send(L.bureau, 'credit', 'attest', AttestArgs, att(c, { currency: 'EUR' })),
    },
    {
      name: 'attest issued in the future',
      code: CREDIT_CODES.FUTURE_ISSUE,
      label: L.bureau,
      send: (c) => c.send(L.bureau, 'credit', 'attest', AttestArgs, att(c, { issuedAtMs: c.timeMs + 1n })),
    },
    {
      name: 'attest already expired',
      code: CREDIT_CODES.BAD_EXPIRY,
      label: L.bureau,
      send: (c) => c.send(L.bureau, 'credit', 'attest', AttestArgs, att(c, { expiresAtMs: c.timeMs })),
    },
    {
      name: 'consent by a non-borrower',
      code: CREDIT_CODES.NOT_BORROWER,
      label: L.bob,
      send: (c) => c.send(L.bob, 'credit', 'consent', ConsentArgs, consentArgs(c)),
    },
    {
      name: 'consent to a dealer',
      code: CREDIT_CODES.NOT_LENDER,
      label: L.alice,
      send: (c) => c.send(L.alice, 'credit', 'consent', ConsentArgs, consentArgs(c, { lender: addr(L.dealer) })),
    },
    {
      name: 'consent to an outsider',
      code: CREDIT_CODES.NOT_LENDER,
      label: L.alice,
      send: (c) => c.send(L.alice, 'credit', 'consent', ConsentArgs, consentArgs(c, { lender: addr(L.outsider) })),
    },
    {
      name: 'consent expiring now',
      code: CREDIT_CODES.BAD_EXPIRY,
      label: L.alice,
      send: (c) => c.send(L.alice, 'credit', 'consent', ConsentArgs, consentArgs(c, { expiresAtMs: c.timeMs })),
    },
    {
      name: 'consent to more lenders than the limit',
      code: CREDIT_CODES.TOO_MANY_CONSENTS,
      label: L.alice,
      setup: (c) => {
        // manyLenders() admitted 32 extra lender organisations at genesis: consent to each fills the list.
        for (let i = 0; i < 32; i++) {
          const r = c.send(
            L.alice,
            'credit',
            'consent',
            ConsentArgs,
            consentArgs(c, { lender: addr(`extra-lender-${i}`) }),
          );
          if (r.code !== 'OK') throw new Error(r.code);
        }
      },
      send: (c) => c.send(L.alice, 'credit', 'consent', ConsentArgs, consentArgs(c)),
    },
    {
      name: 'revoke a consent never given',
      code: CREDIT_CODES.NO_CONSENT,
      label: L.alice,
      send: (c) => c.send(L.alice, 'credit', 'revokeConsent', RevokeConsentArgs, { lender: addr(L.lenderB) }),
    },
    {
      name: 'revoke for a non-member address',
      code: CREDIT_CODES.NO_CONSENT,
      label: L.alice,
      send: (c) => c.send(L.alice, 'credit', 'revokeConsent', RevokeConsentArgs, { lender: addr(L.outsider) }),
    },
    {
      name: 'revoke twice',
      code: CREDIT_CODES.NO_CONSENT,
      label: L.alice,
      setup: (c) => {
        c.ok(L.alice, 'credit', 'consent', ConsentArgs, consentArgs(c));
        c.ok(L.alice, 'credit', 'revokeConsent', RevokeConsentArgs, { lender: addr(L.lender) });
      },
      send: (c) => c.send(L.alice, 'credit', 'revokeConsent', RevokeConsentArgs, { lender: addr(L.lender) }),
    },
  ];
  for (const t of cases) {
    it(`rejects ${t.name} with ${t.code}, changing nothing but the nonce`, () => {
      const c = t.code === CREDIT_CODES.TOO_MANY_CONSENTS ? manyLenders() : chain();
      t.setup?.(c);
      expectRejected(c, t.label, t.code, () => t.send(c));
    });
  }

  it('every credit error code is covered by the rejection table', () => {
    const covered = new Set(cases.map((t) => t.code));
    for (const code of Object.values(CREDIT_CODES)) expect(covered.has(code), code).toBe(true);
  });
});

/** A chain whose genesis has 32 extra lender organisations, so a borrower can reach the consent limit. */
function manyLenders(): TestChain {
  const base = testGenesis();
  const extra = Array.from({ length: 32 }, (_, i) => ({
    id: `extra-lender-${i}`,
    name: `Lender ${i}`,
    roles: ['lender' as const],
    accounts: [keyOf(`extra-lender-${i}`)],
  }));
  const c = new TestChain({ genesis: { ...base, members: [...base.members, ...extra] } });
  c.ok(L.lender, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
    borrower: addr(L.alice),
    identityCommitment: commitment(L.alice),
  });
  return c;
}

function keyOf(label: string): Uint8Array {
  return key(label).publicKey;
}
