// member: consortium organisations, their roles and accounts, admission/removal by stake vote, borrower onboarding.
import { struct, str, u64, list, oneOf, type Infer } from '../../core/codec.js';
import { equalBytes } from '../../core/bytes.js';
import { addressOf } from '../../core/keys.js';
import { assert } from '../../core/errors.js';
import type { KvReader, KvWriter } from '../../state/kv.js';
import { stateKey, load, save, padded } from '../store.js';
import { OK, failure, ROLES, type Module, type OpDef, type Role, type Genesis } from '../types.js';
import { addressSchema, publicKeySchema, hash32Schema, hex, compareStrings, page } from '../util.js';

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
