// member module: genesis members, admission and removal by > 2/3 of stake, accounts, borrower onboarding, every rejection.
import { describe, it, expect } from 'vitest';
import {
  TestChain,
  L,
  addr,
  key,
  expectRejected,
  commitment,
  testGenesis,
  DAY_MS,
  VALIDATOR_STAKE,
} from '../helpers/vm.js';
import {
  ProposeAdmitArgs,
  ProposeRemoveArgs,
  VoteArgs,
  AddAccountArgs,
  RemoveAccountArgs,
  OnboardBorrowerArgs,
  MEMBER_CODES,
  MAX_MEMBERS,
  MAX_ACCOUNTS,
  PROPOSAL_TTL_MS,
  hasRole,
  memberOfAccount,
  loadBorrower,
  loadProposal,
  loadMemberList,
  tally,
  views,
} from '../../src/vm/modules/member.js';
import { loadValidatorSet, loadUnbonding, loadValidator } from '../../src/vm/modules/staking.js';
import type { Infer } from '../../src/core/codec.js';
import type { Genesis } from '../../src/vm/types.js';

const pk = (l: string): Uint8Array => key(l).publicKey;
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function admit(over: Partial<Infer<typeof ProposeAdmitArgs>> = {}): Infer<typeof ProposeAdmitArgs> {
  return {
    id: 'new-lender',
    name: 'New Lender Ltd',
    roles: ['lender', 'dealer'],
    accounts: [pk('new-lender-1')],
    ...over,
  };
}

describe('member', () => {
  it('loads genesis members as an explicit, sorted list with roles and accounts', () => {
    const c = new TestChain();
    expect(loadMemberList(c.state)).toEqual([
      'bank',
      'bureau',
      'dealer',
      'dmv',
      'lender',
      'lender-b',
      'maker',
      'val-a',
      'val-b',
      'val-c',
    ]);
    expect(hasRole(c.state, addr(L.lender2), 'lender')).toBe(true);
    expect(hasRole(c.state, addr(L.lender2), 'bank')).toBe(false);
    expect(hasRole(c.state, addr(L.outsider), 'lender')).toBe(false);
    expect(memberOfAccount(c.state, addr(L.registrar))?.id).toBe('dmv');
    expect(memberOfAccount(c.state, addr(L.alice))).toBeNull();
    const page = views.listMembers(c.state, { offset: 4, limit: 2 });
    expect(page.total).toBe(10);
    expect(page.members.map((m) => m.id)).toEqual(['lender', 'lender-b']);
    expect(page.members[0]?.accounts).toEqual([
      { publicKey: hexOf(pk(L.lender)), address: hexOf(addr(L.lender)) },
      { publicKey: hexOf(pk(L.lender2)), address: hexOf(addr(L.lender2)) },
    ]);
    expect(views.getMember(c.state, 'dmv')?.roles).toEqual(['registrar']);
    expect(views.getMember(c.state, 'nobody')).toBeNull();
    expect(views.getMember(c.state, 'NOT VALID')).toBeNull();
  });

  it('admits an organisation only with more than 2/3 of validator stake (2 of 3 equal stakes is not enough)', () => {
    const c = new TestChain();
    const r1 = c.ok(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit());
    expect(r1.events.map((e) => e.type)).toEqual(['proposalCreated', 'voted']);
    c.ok(L.v2, 'member', 'vote', VoteArgs, { proposalId: 0n });
    const p = loadProposal(c.state, 0n)!;
    expect(p.status).toBe('open');
    expect(tally(c.state, p)).toEqual({ voted: 2n * VALIDATOR_STAKE, total: 3n * VALIDATOR_STAKE, passed: false });
    expect(memberOfAccount(c.state, addr('new-lender-1'))).toBeNull();
    const r3 = c.ok(L.v3, 'member', 'vote', VoteArgs, { proposalId: 0n });
    expect(r3.events.map((e) => e.type)).toEqual(['voted', 'memberAdmitted', 'proposalPassed']);
    expect(loadProposal(c.state, 0n)?.status).toBe('passed');
    expect(memberOfAccount(c.state, addr('new-lender-1'))).toMatchObject({
      id: 'new-lender',
      roles: ['lender', 'dealer'],
      admittedAtMs: c.timeMs,
    });
    expect(loadMemberList(c.state)).toContain('new-lender');
    // The new lender acts in its role at once.
    c.ok('new-lender-1', 'member', 'onboardBorrower', OnboardBorrowerArgs, {
      borrower: addr(L.carol),
      identityCommitment: commitment(L.carol),
    });
    expect(views.getProposal(c.state, 0n)).toMatchObject({
      status: 'passed',
      votes: [hexOf(addr(L.v1)), hexOf(addr(L.v2)), hexOf(addr(L.v3))],
    });
  });

  it('votes are weighted by stake: a validator holding > 2/3 passes a proposal alone', () => {
    const g = testGenesis();
    g.validators[0]!.stake = 5n * VALIDATOR_STAKE; // 5 of 7
    const c = new TestChain({ genesis: g });
    const r = c.ok(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit());
    expect(r.events.map((e) => e.type)).toEqual(['proposalCreated', 'voted', 'memberAdmitted', 'proposalPassed']);
  });

  it('a non-validator member proposes without voting', () => {
    const c = new TestChain();
    const r = c.ok(L.bank, 'member', 'proposeAdmit', ProposeAdmitArgs, admit());
    expect(r.events.map((e) => e.type)).toEqual(['proposalCreated']);
    expect(loadProposal(c.state, 0n)?.votes).toEqual([]);
  });

  it('removes an organisation: its accounts lose their roles and its validator stake starts unbonding', () => {
    const c = new TestChain();
    c.ok(L.v1, 'member', 'proposeRemove', ProposeRemoveArgs, { id: 'val-c' });
    c.ok(L.v2, 'member', 'vote', VoteArgs, { proposalId: 0n });
    const r = c.ok(L.v3, 'member', 'vote', VoteArgs, { proposalId: 0n });
    expect(r.events.map((e) => e.type)).toEqual(['voted', 'validatorExited', 'memberRemoved', 'proposalPassed']);
    expect(memberOfAccount(c.state, addr(L.v3))).toBeNull();
    expect(loadMemberList(c.state)).not.toContain('val-c');
    expect(loadValidator(c.state, addr(L.v3))).toBeNull();
    expect(
      loadValidatorSet(c.state)
        .map((v) => hexOf(v.address))
        .sort(),
    ).toEqual([hexOf(addr(L.v1)), hexOf(addr(L.v2))].sort());
    expect(loadUnbonding(c.state)).toEqual([
      { address: addr(L.v3), amount: VALIDATOR_STAKE, completeAtMs: c.timeMs + 7n * DAY_MS },
    ]);
  });

  it('a proposal whose admission became impossible before it passed is recorded as failed', () => {
    const c = new TestChain();
    c.ok(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit());
    c.ok(L.v2, 'member', 'vote', VoteArgs, { proposalId: 0n });
    // The proposed key joins another organisation in the meantime.
    c.ok(L.bank, 'member', 'addAccount', AddAccountArgs, { publicKey: pk('new-lender-1') });
    const r = c.ok(L.v3, 'member', 'vote', VoteArgs, { proposalId: 0n });
    expect(r.events.map((e) => e.type)).toEqual(['voted', 'proposalFailed']);
    expect(r.events[1]?.attrs['code']).toBe(MEMBER_CODES.ACCOUNT_TAKEN);
    expect(loadProposal(c.state, 0n)?.status).toBe('failed');
    expect(views.getMember(c.state, 'new-lender')).toBeNull();
    // With the proposal closed, a new one about the same id can be made.
    c.ok(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit({ accounts: [pk('new-lender-2')] }));
  });

  it('an organisation adds and removes its own accounts', () => {
    const c = new TestChain();
    const r = c.ok(L.dealer, 'member', 'addAccount', AddAccountArgs, { publicKey: pk('dealer-2') });
    expect(r.events[0]).toMatchObject({
      type: 'accountAdded',
      attrs: { member: 'dealer', address: hexOf(addr('dealer-2')) },
    });
    expect(hasRole(c.state, addr('dealer-2'), 'dealer')).toBe(true);
    c.ok('dealer-2', 'member', 'removeAccount', RemoveAccountArgs, { address: addr(L.dealer) });
    expect(memberOfAccount(c.state, addr(L.dealer))).toBeNull();
    expect(views.getMember(c.state, 'dealer')?.accounts.map((a) => a.address)).toEqual([hexOf(addr('dealer-2'))]);
  });

  it('a lender or a dealer onboards a borrower with an identity commitment only', () => {
    const c = new TestChain();
    const r = c.ok(L.dealer, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
      borrower: addr(L.alice),
      identityCommitment: commitment(L.alice),
    });
    expect(r.events[0]).toMatchObject({
      type: 'borrowerOnboarded',
      attrs: { member: 'dealer', identityCommitment: hexOf(commitment(L.alice)) },
    });
    expect(loadBorrower(c.state, addr(L.alice))).toEqual({
      address: addr(L.alice),
      identityCommitment: commitment(L.alice),
      onboardedBy: addr(L.dealer),
      onboardedByMember: 'dealer',
      onboardedAtMs: c.timeMs,
    });
    c.ok(L.lender2, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
      borrower: addr(L.bob),
      identityCommitment: commitment(L.bob),
    });
    expect(views.getBorrower(c.state, addr(L.bob))?.onboardedByMember).toBe('lender');
    expect(views.getBorrower(c.state, addr(L.carol))).toBeNull();
  });

  type Case = {
    name: string;
    code: string;
    label: string;
    genesis?: () => Genesis;
    setup?: (c: TestChain) => void;
    send: (c: TestChain) => ReturnType<TestChain['send']>;
  };
  const cases: Case[] = [
    {
      name: 'a proposal by a non-member',
      code: MEMBER_CODES.NOT_MEMBER,
      label: L.outsider,
      send: (c) => c.send(L.outsider, 'member', 'proposeAdmit', ProposeAdmitArgs, admit()),
    },
    {
      name: 'a removal proposal by a non-member',
      code: MEMBER_CODES.NOT_MEMBER,
      label: L.outsider,
      send: (c) => c.send(L.outsider, 'member', 'proposeRemove', ProposeRemoveArgs, { id: 'dealer' }),
    },
    {
      name: 'admitting an existing member id',
      code: MEMBER_CODES.MEMBER_EXISTS,
      label: L.v1,
      send: (c) => c.send(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit({ id: 'dealer' })),
    },
    {
      name: 'removing an unknown member',
      code: MEMBER_CODES.UNKNOWN_MEMBER,
      label: L.v1,
      send: (c) => c.send(L.v1, 'member', 'proposeRemove', ProposeRemoveArgs, { id: 'nobody' }),
    },
    {
      name: 'admitting with no roles',
      code: MEMBER_CODES.BAD_ROLES,
      label: L.v1,
      send: (c) => c.send(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit({ roles: [] })),
    },
    {
      name: 'admitting with a repeated role',
      code: MEMBER_CODES.BAD_ROLES,
      label: L.v1,
      send: (c) => c.send(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit({ roles: ['lender', 'lender'] })),
    },
    {
      name: 'admitting with no accounts',
      code: MEMBER_CODES.NO_ACCOUNTS,
      label: L.v1,
      send: (c) => c.send(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit({ accounts: [] })),
    },
    {
      name: 'admitting with a repeated account',
      code: MEMBER_CODES.DUPLICATE_ACCOUNT,
      label: L.v1,
      send: (c) => c.send(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit({ accounts: [pk('x'), pk('x')] })),
    },
    {
      name: "admitting another member's account",
      code: MEMBER_CODES.ACCOUNT_TAKEN,
      label: L.v1,
      send: (c) => c.send(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit({ accounts: [pk(L.bank)] })),
    },
    {
      name: "admitting a borrower's account",
      code: MEMBER_CODES.ACCOUNT_TAKEN,
      label: L.v1,
      setup: (c) => {
        c.ok(L.lender, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
          borrower: addr(L.alice),
          identityCommitment: commitment(L.alice),
        });
      },
      send: (c) => c.send(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit({ accounts: [pk(L.alice)] })),
    },
    {
      name: 'admitting past the member limit',
      code: MEMBER_CODES.TOO_MANY_MEMBERS,
      label: L.v1,
      genesis: () => {
        const g = testGenesis();
        for (let i = g.members.length; i < MAX_MEMBERS; i++)
          g.members.push({ id: `filler-${i}`, name: 'Filler', roles: ['dealer'], accounts: [pk(`filler-${i}`)] });
        return g;
      },
      send: (c) => c.send(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit()),
    },
    {
      name: 'a second open proposal about one organisation',
      code: MEMBER_CODES.PROPOSAL_PENDING,
      label: L.v2,
      setup: (c) => {
        c.ok(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit());
      },
      send: (c) => c.send(L.v2, 'member', 'proposeAdmit', ProposeAdmitArgs, admit({ accounts: [pk('other')] })),
    },
    {
      name: 'a second open removal of one organisation',
      code: MEMBER_CODES.PROPOSAL_PENDING,
      label: L.v2,
      setup: (c) => {
        c.ok(L.v1, 'member', 'proposeRemove', ProposeRemoveArgs, { id: 'dealer' });
      },
      send: (c) => c.send(L.v2, 'member', 'proposeRemove', ProposeRemoveArgs, { id: 'dealer' }),
    },
    {
      name: 'removing the organisation holding every validator',
      code: MEMBER_CODES.LAST_VALIDATORS,
      label: L.v1,
      genesis: () => ({ ...testGenesis(), validators: testGenesis().validators.slice(0, 1) }),
      send: (c) => c.send(L.v1, 'member', 'proposeRemove', ProposeRemoveArgs, { id: 'val-a' }),
    },
    {
      name: 'a vote by a non-validator',
      code: MEMBER_CODES.NOT_VALIDATOR,
      label: L.bank,
      setup: (c) => {
        c.ok(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit());
      },
      send: (c) => c.send(L.bank, 'member', 'vote', VoteArgs, { proposalId: 0n }),
    },
    {
      name: 'a vote on a missing proposal',
      code: MEMBER_CODES.PROPOSAL_NOT_FOUND,
      label: L.v1,
      send: (c) => c.send(L.v1, 'member', 'vote', VoteArgs, { proposalId: 9n }),
    },
    {
      name: 'a vote on a passed proposal',
      code: MEMBER_CODES.PROPOSAL_CLOSED,
      label: L.v1,
      setup: (c) => {
        c.ok(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit());
        c.ok(L.v2, 'member', 'vote', VoteArgs, { proposalId: 0n });
        c.ok(L.v3, 'member', 'vote', VoteArgs, { proposalId: 0n });
      },
      send: (c) => c.send(L.v1, 'member', 'vote', VoteArgs, { proposalId: 0n }),
    },
    {
      name: 'a vote after the proposal expired',
      code: MEMBER_CODES.PROPOSAL_EXPIRED,
      label: L.v2,
      setup: (c) => {
        c.ok(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit());
        c.timeMs += PROPOSAL_TTL_MS;
      },
      send: (c) => c.send(L.v2, 'member', 'vote', VoteArgs, { proposalId: 0n }),
    },
    {
      name: 'a second vote by one validator',
      code: MEMBER_CODES.ALREADY_VOTED,
      label: L.v1,
      setup: (c) => {
        c.ok(L.v1, 'member', 'proposeAdmit', ProposeAdmitArgs, admit());
      },
      send: (c) => c.send(L.v1, 'member', 'vote', VoteArgs, { proposalId: 0n }),
    },
    {
      name: 'addAccount by a non-member',
      code: MEMBER_CODES.NOT_MEMBER,
      label: L.outsider,
      send: (c) => c.send(L.outsider, 'member', 'addAccount', AddAccountArgs, { publicKey: pk('x') }),
    },
    {
      name: "addAccount of another member's key",
      code: MEMBER_CODES.ACCOUNT_TAKEN,
      label: L.dealer,
      send: (c) => c.send(L.dealer, 'member', 'addAccount', AddAccountArgs, { publicKey: pk(L.lender) }),
    },
    {
      name: 'addAccount past the per-member limit',
      code: MEMBER_CODES.TOO_MANY_ACCOUNTS,
      label: L.dealer,
      setup: (c) => {
        for (let i = 1; i < MAX_ACCOUNTS; i++)
          c.ok(L.dealer, 'member', 'addAccount', AddAccountArgs, { publicKey: pk(`dealer-extra-${i}`) });
      },
      send: (c) => c.send(L.dealer, 'member', 'addAccount', AddAccountArgs, { publicKey: pk('one-too-many') }),
    },
    {
      name: 'removeAccount by a non-member',
      code: MEMBER_CODES.NOT_MEMBER,
      label: L.outsider,
      send: (c) => c.send(L.outsider, 'member', 'removeAccount', RemoveAccountArgs, { address: addr(L.dealer) }),
    },
    {
      name: "removeAccount of another member's account",
      code: MEMBER_CODES.NOT_OWN_ACCOUNT,
      label: L.lender,
      send: (c) => c.send(L.lender, 'member', 'removeAccount', RemoveAccountArgs, { address: addr(L.dealer) }),
    },
    {
      name: 'removeAccount of the last account',
      code: MEMBER_CODES.LAST_ACCOUNT,
      label: L.dealer,
      send: (c) => c.send(L.dealer, 'member', 'removeAccount', RemoveAccountArgs, { address: addr(L.dealer) }),
    },
    {
      name: 'removeAccount of a bonded validator account',
      code: MEMBER_CODES.ACCOUNT_BONDED,
      label: 'val-1b',
      setup: (c) => {
        c.ok(L.v1, 'member', 'addAccount', AddAccountArgs, { publicKey: pk('val-1b') });
      },
      send: (c) => c.send('val-1b', 'member', 'removeAccount', RemoveAccountArgs, { address: addr(L.v1) }),
    },
    {
      name: 'onboarding by a bank',
      code: MEMBER_CODES.NOT_LENDER_OR_DEALER,
      label: L.bank,
      send: (c) =>
        c.send(L.bank, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
          borrower: addr(L.alice),
          identityCommitment: commitment(L.alice),
        }),
    },
    {
      name: 'onboarding by a non-member',
      code: MEMBER_CODES.NOT_LENDER_OR_DEALER,
      label: L.outsider,
      send: (c) =>
        c.send(L.outsider, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
          borrower: addr(L.alice),
          identityCommitment: commitment(L.alice),
        }),
    },
    {
      name: 'onboarding a member account',
      code: MEMBER_CODES.IS_MEMBER_ACCOUNT,
      label: L.lender,
      send: (c) =>
        c.send(L.lender, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
          borrower: addr(L.bank),
          identityCommitment: commitment(L.bank),
        }),
    },
    {
      name: 'onboarding twice',
      code: MEMBER_CODES.ALREADY_ONBOARDED,
      label: L.dealer,
      setup: (c) => {
        c.ok(L.lender, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
          borrower: addr(L.alice),
          identityCommitment: commitment(L.alice),
        });
      },
      send: (c) =>
        c.send(L.dealer, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
          borrower: addr(L.alice),
          identityCommitment: commitment('other'),
        }),
    },
    {
      name: 'onboarding with an all-zero commitment',
      code: MEMBER_CODES.BAD_COMMITMENT,
      label: L.lender,
      send: (c) =>
        c.send(L.lender, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
          borrower: addr(L.alice),
          identityCommitment: new Uint8Array(32),
        }),
    },
  ];
  for (const t of cases) {
    it(`rejects ${t.name} with ${t.code}, changing nothing but the nonce`, () => {
      const c = new TestChain(t.genesis ? { genesis: t.genesis() } : {});
      t.setup?.(c);
      expectRejected(c, t.label, t.code, () => t.send(c));
    });
  }

  it('every member error code is covered by the rejection table', () => {
    const covered = new Set(cases.map((t) => t.code));
    for (const code of Object.values(MEMBER_CODES)) expect(covered.has(code), code).toBe(true);
  });
});

describe('member genesis', () => {
  it('refuses a key shared by two organisations, and repeated roles', () => {
    const g = testGenesis();
    g.members.push({ id: 'copycat', name: 'Copycat', roles: ['dealer'], accounts: [pk(L.dealer)] });
    expect(() => new TestChain({ genesis: g })).toThrow(/already belongs to dealer/);
    const g2 = testGenesis();
    g2.members[3]!.roles = ['bank', 'bank'];
    expect(() => new TestChain({ genesis: g2 })).toThrow(/roles must be non-empty and distinct/);
  });

  it("a removed organisation's accounts can no longer act in its roles", () => {
    const c = new TestChain();
    c.ok(L.v1, 'member', 'proposeRemove', ProposeRemoveArgs, { id: 'dealer' });
    c.ok(L.v2, 'member', 'vote', VoteArgs, { proposalId: 0n });
    c.ok(L.v3, 'member', 'vote', VoteArgs, { proposalId: 0n });
    expect(hasRole(c.state, addr(L.dealer), 'dealer')).toBe(false);
    expectRejected(c, L.dealer, MEMBER_CODES.NOT_LENDER_OR_DEALER, () =>
      c.send(L.dealer, 'member', 'onboardBorrower', OnboardBorrowerArgs, {
        borrower: addr(L.alice),
        identityCommitment: commitment(L.alice),
      }),
    );
  });
});
