// member: consortium organisations, their roles and accounts, admission/removal by stake vote, borrower onboarding.
import { struct, str, u64, list, oneOf, type Infer } from '../../core/codec.js';
import { equalBytes } from '../../core/bytes.js';
import { addressOf } from '../../core/keys.js';
import { assert } from '../../core/errors.js';
import type { KvReader, KvWriter } from '../../state/kv.js';
import { stateKey, load, save, padded } from '../store.js';
import { OK, failure, ROLES, type Module, type OpDef, type OpContext, type Role, type Genesis } from '../types.js';
import { addressSchema, publicKeySchema, hash32Schema, hex, compareStrings, page } from '../util.js';
// staking <-> member import each other's functions only (used at call time), never values at module load.
import { loadValidatorSet, loadValidator, exitValidator } from './staking.js';

export const MEMBER_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;
/** Most member organisations (the member list is one state entry). */
export const MAX_MEMBERS = 256;
/** Most accounts (keys) per organisation. */
export const MAX_ACCOUNTS = 16;
/** An open proposal that has not passed within this time can no longer be voted on. */
export const PROPOSAL_TTL_MS = 7n * 24n * 3600n * 1000n;

const memberIdSchema = str({ max: 32, pattern: MEMBER_ID_PATTERN });

export const MemberSchema = struct('Member', [
  ['id', memberIdSchema],
  ['name', str({ max: 128 })],
  ['roles', list(oneOf(ROLES), { max: ROLES.length })],
  ['accounts', list(publicKeySchema, { max: MAX_ACCOUNTS })],
  ['admittedAtMs', u64],
] as const);
export type Member = Infer<typeof MemberSchema>;

export const AccountSchema = struct('MemberAccount', [
  ['memberId', memberIdSchema],
  ['publicKey', publicKeySchema],
] as const);

export const BorrowerSchema = struct('Borrower', [
  ['address', addressSchema],
  ['identityCommitment', hash32Schema],
  ['onboardedBy', addressSchema],
  ['onboardedByMember', memberIdSchema],
  ['onboardedAtMs', u64],
] as const);
export type Borrower = Infer<typeof BorrowerSchema>;

const MemberListSchema = list(memberIdSchema, { max: MAX_MEMBERS });

const listKey = (): Uint8Array => stateKey('member', 'list');
const memberKey = (id: string): Uint8Array => stateKey('member', 'org', id);
const accountKey = (address: Uint8Array): Uint8Array => stateKey('member', 'acct', address);
const borrowerKey = (address: Uint8Array): Uint8Array => stateKey('member', 'borrower', address);

export function loadMember(state: KvReader, id: string): Member | null {
  return load(state, memberKey(id), MemberSchema) ?? null;
}

export function loadMemberList(state: KvReader): string[] {
  return load(state, listKey(), MemberListSchema) ?? [];
}

/** The organisation an account (address) belongs to, or null for non-member accounts. */
export function memberOfAccount(state: KvReader, address: Uint8Array): Member | null {
  const acct = load(state, accountKey(address), AccountSchema);
  return acct === undefined ? null : loadMember(state, acct.memberId);
}

/** True when the account belongs to an organisation holding `role`. */
export function hasRole(state: KvReader, address: Uint8Array, role: Role): boolean {
  return memberOfAccount(state, address)?.roles.includes(role) ?? false;
}

export function loadBorrower(state: KvReader, address: Uint8Array): Borrower | null {
  return load(state, borrowerKey(address), BorrowerSchema) ?? null;
}

// ---- proposals ----

export const MEMBER_CODES = {
  NOT_MEMBER: 'member.NOT_MEMBER',
  MEMBER_EXISTS: 'member.MEMBER_EXISTS',
  UNKNOWN_MEMBER: 'member.UNKNOWN_MEMBER',
  BAD_ROLES: 'member.BAD_ROLES',
  NO_ACCOUNTS: 'member.NO_ACCOUNTS',
  DUPLICATE_ACCOUNT: 'member.DUPLICATE_ACCOUNT',
  ACCOUNT_TAKEN: 'member.ACCOUNT_TAKEN',
  TOO_MANY_MEMBERS: 'member.TOO_MANY_MEMBERS',
  PROPOSAL_PENDING: 'member.PROPOSAL_PENDING',
  LAST_VALIDATORS: 'member.LAST_VALIDATORS',
  NOT_VALIDATOR: 'member.NOT_VALIDATOR',
  PROPOSAL_NOT_FOUND: 'member.PROPOSAL_NOT_FOUND',
  PROPOSAL_CLOSED: 'member.PROPOSAL_CLOSED',
  PROPOSAL_EXPIRED: 'member.PROPOSAL_EXPIRED',
  ALREADY_VOTED: 'member.ALREADY_VOTED',
  TOO_MANY_ACCOUNTS: 'member.TOO_MANY_ACCOUNTS',
  NOT_OWN_ACCOUNT: 'member.NOT_OWN_ACCOUNT',
  LAST_ACCOUNT: 'member.LAST_ACCOUNT',
  ACCOUNT_BONDED: 'member.ACCOUNT_BONDED',
  NOT_LENDER_OR_DEALER: 'member.NOT_LENDER_OR_DEALER',
  IS_MEMBER_ACCOUNT: 'member.IS_MEMBER_ACCOUNT',
  ALREADY_ONBOARDED: 'member.ALREADY_ONBOARDED',
  BAD_COMMITMENT: 'member.BAD_COMMITMENT',
} as const;

const PROPOSAL_KINDS = ['admit', 'remove'] as const;
const PROPOSAL_STATUS = ['open', 'passed', 'failed'] as const;

export const ProposalSchema = struct('MemberProposal', [
  ['id', u64],
  ['kind', oneOf(PROPOSAL_KINDS)],
  ['memberId', memberIdSchema],
  ['name', str({ max: 128 })],
  ['roles', list(oneOf(ROLES), { max: ROLES.length })],
  ['accounts', list(publicKeySchema, { max: MAX_ACCOUNTS })],
  ['proposer', addressSchema],
  ['createdAtMs', u64],
  ['votes', list(addressSchema, { max: 1024 })],
  ['status', oneOf(PROPOSAL_STATUS)],
] as const);
export type Proposal = Infer<typeof ProposalSchema>;

const proposalKey = (id: bigint): Uint8Array => stateKey('member', 'proposal', padded(id));
const nextProposalKey = (): Uint8Array => stateKey('member', 'nextProposal');
/** member id -> the open proposal about it, so two proposals about one organisation never race. */
const pendingKey = (memberId: string): Uint8Array => stateKey('member', 'pending', memberId);

export function loadProposal(state: KvReader, id: bigint): Proposal | null {
  return load(state, proposalKey(id), ProposalSchema) ?? null;
}

export const ProposeAdmitArgs = struct('member.proposeAdmit', [
  ['id', memberIdSchema],
  ['name', str({ max: 128 })],
  ['roles', list(oneOf(ROLES), { max: ROLES.length })],
  ['accounts', list(publicKeySchema, { max: MAX_ACCOUNTS })],
] as const);
export const ProposeRemoveArgs = struct('member.proposeRemove', [['id', memberIdSchema]] as const);
export const VoteArgs = struct('member.vote', [['proposalId', u64]] as const);
export const AddAccountArgs = struct('member.addAccount', [['publicKey', publicKeySchema]] as const);
export const RemoveAccountArgs = struct('member.removeAccount', [['address', addressSchema]] as const);
export const OnboardBorrowerArgs = struct('member.onboardBorrower', [
  ['borrower', addressSchema],
  ['identityCommitment', hash32Schema],
] as const);

function saveMemberList(state: KvWriter, ids: string[]): void {
  save(state, listKey(), MemberListSchema, [...ids].sort(compareStrings));
}

/** Why an account (by public key) cannot join an organisation, or null. */
function accountTakenReason(state: KvReader, publicKey: Uint8Array): string | null {
  const addr = addressOf(publicKey);
  const acct = load(state, accountKey(addr), AccountSchema);
  if (acct !== undefined) return `account ${hex(addr)} already belongs to ${acct.memberId}`;
  if (loadBorrower(state, addr) !== null) return `account ${hex(addr)} is an onboarded borrower`;
  return null;
}

/** Checks an admission's content; the same checks run at proposal time and again when it passes. */
function admitReason(
  state: KvReader,
  p: { memberId: string; roles: Role[]; accounts: Uint8Array[] },
): { code: string; message: string } | null {
  if (loadMember(state, p.memberId) !== null)
    return { code: MEMBER_CODES.MEMBER_EXISTS, message: `member ${p.memberId} already exists` };
  if (p.roles.length === 0 || new Set(p.roles).size !== p.roles.length) {
    return { code: MEMBER_CODES.BAD_ROLES, message: 'roles must be non-empty and distinct' };
  }
  if (p.accounts.length === 0)
    return { code: MEMBER_CODES.NO_ACCOUNTS, message: 'an organisation needs at least one account' };
  const seen = new Set<string>();
  for (const pk of p.accounts) {
    if (seen.has(hex(pk)))
      return { code: MEMBER_CODES.DUPLICATE_ACCOUNT, message: `account key ${hex(pk)} listed twice` };
    seen.add(hex(pk));
    const taken = accountTakenReason(state, pk);
    if (taken !== null) return { code: MEMBER_CODES.ACCOUNT_TAKEN, message: taken };
  }
  if (loadMemberList(state).length >= MAX_MEMBERS)
    return { code: MEMBER_CODES.TOO_MANY_MEMBERS, message: `at most ${MAX_MEMBERS} members` };
  return null;
}

/** Why removing a member is impossible now, or null. Removing the organisations holding all active stake would halt the chain. */
function removeReason(state: KvReader, memberId: string): { code: string; message: string } | null {
  const m = loadMember(state, memberId);
  if (m === null) return { code: MEMBER_CODES.UNKNOWN_MEMBER, message: `no member ${memberId}` };
  const set = loadValidatorSet(state);
  const remaining = set.filter((v) => !m.accounts.some((pk) => equalBytes(addressOf(pk), v.address)));
  if (set.length > 0 && remaining.length === 0) {
    return { code: MEMBER_CODES.LAST_VALIDATORS, message: `removing ${memberId} would leave no active validator` };
  }
  return null;
}

function addMember(state: KvWriter, m: Member): void {
  save(state, memberKey(m.id), MemberSchema, m);
  for (const pk of m.accounts) save(state, accountKey(addressOf(pk)), AccountSchema, { memberId: m.id, publicKey: pk });
  const ids = loadMemberList(state);
  ids.push(m.id);
  saveMemberList(state, ids);
}

/** Removes an organisation: its accounts lose their roles; its validators' stake starts unbonding. */
function removeMember(
  state: KvWriter,
  m: Member,
  timeMs: bigint,
  emit: (type: string, attrs: Record<string, string>) => void,
): void {
  for (const pk of m.accounts) {
    const addr = addressOf(pk);
    const exited = exitValidator(state, addr, timeMs);
    if (exited > 0n) emit('validatorExited', { member: m.id, validator: hex(addr), amount: exited.toString() });
    state.delete(accountKey(addr));
  }
  state.delete(memberKey(m.id));
  saveMemberList(
    state,
    loadMemberList(state).filter((id) => id !== m.id),
  );
}

/** Voting power of the proposal's voters over the active set's total; passes with voted*3 > total*2. */
export function tally(state: KvReader, p: Proposal): { voted: bigint; total: bigint; passed: boolean } {
  let voted = 0n;
  let total = 0n;
  for (const v of loadValidatorSet(state)) {
    total += v.power;
    if (p.votes.some((a) => equalBytes(a, v.address))) voted += v.power;
  }
  return { voted, total, passed: total > 0n && voted * 3n > total * 2n };
}

type Emit = (type: string, attrs: Record<string, string>) => void;

/** Counts the votes and, on > 2/3 of stake, executes the proposal (re-checking it against today's state). */
function maybeExecute(state: KvWriter, p: Proposal, timeMs: bigint, emit: Emit): Proposal {
  const t = tally(state, p);
  if (!t.passed) return p;
  const id = p.id.toString();
  state.delete(pendingKey(p.memberId));
  const why = p.kind === 'admit' ? admitReason(state, p) : removeReason(state, p.memberId);
  if (why !== null) {
    emit('proposalFailed', { proposalId: id, member: p.memberId, code: why.code, reason: why.message });
    return { ...p, status: 'failed' };
  }
  if (p.kind === 'admit') {
    addMember(state, { id: p.memberId, name: p.name, roles: p.roles, accounts: p.accounts, admittedAtMs: timeMs });
    emit('memberAdmitted', { proposalId: id, member: p.memberId, roles: p.roles.join(',') });
  } else {
    const m = loadMember(state, p.memberId);
    assert(m !== null, 'remove reason checked the member exists');
    removeMember(state, m, timeMs, emit);
    emit('memberRemoved', { proposalId: id, member: p.memberId });
  }
  emit('proposalPassed', { proposalId: id, voted: t.voted.toString(), total: t.total.toString() });
  return { ...p, status: 'passed' };
}

function isActiveValidator(state: KvReader, address: Uint8Array): boolean {
  return loadValidatorSet(state).some((v) => equalBytes(v.address, address));
}

/** An open proposal about the member id that has not expired, if any. */
function pendingProposal(state: KvReader, memberId: string, timeMs: bigint): Proposal | null {
  const id = load(state, pendingKey(memberId), u64);
  if (id === undefined) return null;
  const p = loadProposal(state, id);
  return p !== null && p.status === 'open' && timeMs < p.createdAtMs + PROPOSAL_TTL_MS ? p : null;
}

function createProposal(
  ctx: OpContext,
  fields: Pick<Proposal, 'kind' | 'memberId' | 'name' | 'roles' | 'accounts'>,
): void {
  const id = load(ctx.state, nextProposalKey(), u64) ?? 0n;
  save(ctx.state, nextProposalKey(), u64, id + 1n);
  // The proposer's own vote counts at once when it is an active validator.
  const votes = isActiveValidator(ctx.state, ctx.sender) ? [ctx.sender] : [];
  let p: Proposal = { id, ...fields, proposer: ctx.sender, createdAtMs: ctx.block.timeMs, votes, status: 'open' };
  save(ctx.state, pendingKey(p.memberId), u64, id);
  ctx.emit('proposalCreated', {
    proposalId: id.toString(),
    kind: p.kind,
    member: p.memberId,
    proposer: hex(ctx.sender),
  });
  if (votes.length > 0) ctx.emit('voted', { proposalId: id.toString(), voter: hex(ctx.sender) });
  p = maybeExecute(ctx.state, p, ctx.block.timeMs, ctx.emit.bind(ctx));
  save(ctx.state, proposalKey(id), ProposalSchema, p);
}

const proposeAdmit: OpDef<Infer<typeof ProposeAdmitArgs>> = {
  args: ProposeAdmitArgs,
  gasBase: 5_000n,
  run(ctx, a) {
    if (memberOfAccount(ctx.state, ctx.sender) === null)
      return failure(MEMBER_CODES.NOT_MEMBER, 'only member accounts propose');
    if (pendingProposal(ctx.state, a.id, ctx.block.timeMs) !== null) {
      return failure(MEMBER_CODES.PROPOSAL_PENDING, `a proposal about ${a.id} is already open`);
    }
    const why = admitReason(ctx.state, { memberId: a.id, roles: a.roles, accounts: a.accounts });
    if (why !== null) return failure(why.code, why.message);
    createProposal(ctx, { kind: 'admit', memberId: a.id, name: a.name, roles: a.roles, accounts: a.accounts });
    return OK;
  },
};

const proposeRemove: OpDef<Infer<typeof ProposeRemoveArgs>> = {
  args: ProposeRemoveArgs,
  gasBase: 5_000n,
  run(ctx, a) {
    if (memberOfAccount(ctx.state, ctx.sender) === null)
      return failure(MEMBER_CODES.NOT_MEMBER, 'only member accounts propose');
    if (pendingProposal(ctx.state, a.id, ctx.block.timeMs) !== null) {
      return failure(MEMBER_CODES.PROPOSAL_PENDING, `a proposal about ${a.id} is already open`);
    }
    const why = removeReason(ctx.state, a.id);
    if (why !== null) return failure(why.code, why.message);
    createProposal(ctx, { kind: 'remove', memberId: a.id, name: '', roles: [], accounts: [] });
    return OK;
  },
};

const vote: OpDef<Infer<typeof VoteArgs>> = {
  args: VoteArgs,
  gasBase: 3_000n,
  run(ctx, a) {
    if (!isActiveValidator(ctx.state, ctx.sender))
      return failure(MEMBER_CODES.NOT_VALIDATOR, 'only active validator accounts vote');
    const p = loadProposal(ctx.state, a.proposalId);
    if (p === null) return failure(MEMBER_CODES.PROPOSAL_NOT_FOUND, `no proposal ${a.proposalId}`);
    if (p.status !== 'open') return failure(MEMBER_CODES.PROPOSAL_CLOSED, `proposal ${a.proposalId} is ${p.status}`);
    if (ctx.block.timeMs >= p.createdAtMs + PROPOSAL_TTL_MS) {
      return failure(
        MEMBER_CODES.PROPOSAL_EXPIRED,
        `proposal ${a.proposalId} expired at ${p.createdAtMs + PROPOSAL_TTL_MS}`,
      );
    }
    if (p.votes.some((v) => equalBytes(v, ctx.sender)))
      return failure(MEMBER_CODES.ALREADY_VOTED, 'this account already voted');
    ctx.emit('voted', { proposalId: p.id.toString(), voter: hex(ctx.sender) });
    const next = maybeExecute(
      ctx.state,
      { ...p, votes: [...p.votes, ctx.sender] },
      ctx.block.timeMs,
      ctx.emit.bind(ctx),
    );
    save(ctx.state, proposalKey(p.id), ProposalSchema, next);
    return OK;
  },
};

const addAccount: OpDef<Infer<typeof AddAccountArgs>> = {
  args: AddAccountArgs,
  gasBase: 2_000n,
  run(ctx, a) {
    const m = memberOfAccount(ctx.state, ctx.sender);
    if (m === null) return failure(MEMBER_CODES.NOT_MEMBER, 'only member accounts add accounts');
    const taken = accountTakenReason(ctx.state, a.publicKey);
    if (taken !== null) return failure(MEMBER_CODES.ACCOUNT_TAKEN, taken);
    if (m.accounts.length >= MAX_ACCOUNTS)
      return failure(MEMBER_CODES.TOO_MANY_ACCOUNTS, `at most ${MAX_ACCOUNTS} accounts per member`);
    save(ctx.state, memberKey(m.id), MemberSchema, { ...m, accounts: [...m.accounts, a.publicKey] });
    const addr = addressOf(a.publicKey);
    save(ctx.state, accountKey(addr), AccountSchema, { memberId: m.id, publicKey: a.publicKey });
    ctx.emit('accountAdded', { member: m.id, address: hex(addr), publicKey: hex(a.publicKey) });
    return OK;
  },
};

const removeAccount: OpDef<Infer<typeof RemoveAccountArgs>> = {
  args: RemoveAccountArgs,
  gasBase: 2_000n,
  run(ctx, a) {
    const m = memberOfAccount(ctx.state, ctx.sender);
    if (m === null) return failure(MEMBER_CODES.NOT_MEMBER, 'only member accounts remove accounts');
    const idx = m.accounts.findIndex((pk) => equalBytes(addressOf(pk), a.address));
    if (idx < 0) return failure(MEMBER_CODES.NOT_OWN_ACCOUNT, `${hex(a.address)} is not an account of ${m.id}`);
    if (m.accounts.length === 1)
      return failure(MEMBER_CODES.LAST_ACCOUNT, 'an organisation keeps at least one account');
    if ((loadValidator(ctx.state, a.address)?.stake ?? 0n) > 0n) {
      return failure(MEMBER_CODES.ACCOUNT_BONDED, `${hex(a.address)} has bonded stake: unbond it first`);
    }
    save(ctx.state, memberKey(m.id), MemberSchema, { ...m, accounts: m.accounts.filter((_, i) => i !== idx) });
    ctx.state.delete(accountKey(a.address));
    ctx.emit('accountRemoved', { member: m.id, address: hex(a.address) });
    return OK;
  },
};

const onboardBorrower: OpDef<Infer<typeof OnboardBorrowerArgs>> = {
  args: OnboardBorrowerArgs,
  gasBase: 2_000n,
  run(ctx, a) {
    const m = memberOfAccount(ctx.state, ctx.sender);
    if (m === null || !(m.roles.includes('lender') || m.roles.includes('dealer'))) {
      return failure(MEMBER_CODES.NOT_LENDER_OR_DEALER, 'only lender or dealer accounts onboard borrowers');
    }
    if (a.identityCommitment.every((b) => b === 0))
      return failure(MEMBER_CODES.BAD_COMMITMENT, 'identity commitment is all zeros');
    if (load(ctx.state, accountKey(a.borrower), AccountSchema) !== undefined) {
      return failure(MEMBER_CODES.IS_MEMBER_ACCOUNT, `${hex(a.borrower)} is a member organisation's account`);
    }
    if (loadBorrower(ctx.state, a.borrower) !== null)
      return failure(MEMBER_CODES.ALREADY_ONBOARDED, `${hex(a.borrower)} is already onboarded`);
    save(ctx.state, borrowerKey(a.borrower), BorrowerSchema, {
      address: a.borrower,
      identityCommitment: a.identityCommitment,
      onboardedBy: ctx.sender,
      onboardedByMember: m.id,
      onboardedAtMs: ctx.block.timeMs,
    });
    ctx.emit('borrowerOnboarded', {
      borrower: hex(a.borrower),
      by: hex(ctx.sender),
      member: m.id,
      identityCommitment: hex(a.identityCommitment),
    });
    return OK;
  },
};

export const memberModule: Module = {
  name: 'member',
  ops: { proposeAdmit, proposeRemove, vote, addAccount, removeAccount, onboardBorrower },
  initGenesis(state: KvWriter, g: Genesis) {
    for (const gm of g.members) {
      const why = admitReason(state, { memberId: gm.id, roles: gm.roles, accounts: gm.accounts });
      assert(why === null, `genesis member ${gm.id}: ${why?.message ?? ''}`);
      assert(MEMBER_ID_PATTERN.test(gm.id), `genesis member id ${gm.id} is not valid`);
      addMember(state, {
        id: gm.id,
        name: gm.name,
        roles: gm.roles,
        accounts: gm.accounts,
        admittedAtMs: g.genesisTimeMs,
      });
    }
  },
};

// ---- views (JSON-ready) ----

export interface MemberView {
  id: string;
  name: string;
  roles: Role[];
  accounts: { publicKey: string; address: string }[];
  admittedAtMs: string;
}

function memberView(m: Member): MemberView {
  return {
    id: m.id,
    name: m.name,
    roles: m.roles,
    accounts: m.accounts.map((pk) => ({ publicKey: hex(pk), address: hex(addressOf(pk)) })),
    admittedAtMs: m.admittedAtMs.toString(),
  };
}

function listMembers(
  state: KvReader,
  opts?: { offset?: number; limit?: number },
): { total: number; members: MemberView[] } {
  const ids = loadMemberList(state);
  const { offset, limit } = page(opts);
  const members = ids.slice(offset, offset + limit).map((id) => {
    const m = loadMember(state, id);
    assert(m !== null, 'member list names a missing member', { id });
    return memberView(m);
  });
  return { total: ids.length, members };
}

function getMember(state: KvReader, id: string): MemberView | null {
  const m = MEMBER_ID_PATTERN.test(id) ? loadMember(state, id) : null;
  return m === null ? null : memberView(m);
}

function getBorrower(state: KvReader, address: Uint8Array): Record<string, string> | null {
  const b = loadBorrower(state, address);
  return b === null
    ? null
    : {
        address: hex(b.address),
        identityCommitment: hex(b.identityCommitment),
        onboardedBy: hex(b.onboardedBy),
        onboardedByMember: b.onboardedByMember,
        onboardedAtMs: b.onboardedAtMs.toString(),
      };
}

function getProposal(state: KvReader, id: bigint): Record<string, unknown> | null {
  const p = loadProposal(state, id);
  if (p === null) return null;
  const t = p.status === 'open' ? tally(state, p) : null;
  return {
    id: p.id.toString(),
    kind: p.kind,
    memberId: p.memberId,
    name: p.name,
    roles: p.roles,
    accounts: p.accounts.map(hex),
    proposer: hex(p.proposer),
    createdAtMs: p.createdAtMs.toString(),
    expiresAtMs: (p.createdAtMs + PROPOSAL_TTL_MS).toString(),
    votes: p.votes.map(hex),
    status: p.status,
    votedPower: t?.voted.toString() ?? null,
    totalPower: t?.total.toString() ?? null,
  };
}

export const views = { listMembers, getMember, getBorrower, getProposal };
