// The args schema of every VM operation, by module and op: the client encodes tx args with exactly the schema the
// VM decodes them with, and TypeScript checks a call's args against that schema's type. A unit test checks that
// this table and the modules' own `ops` agree.
import type { Schema } from '../core/codec.js';
import { IssueArgs, RedeemArgs, TransferArgs } from '../vm/modules/asset.js';
import {
  AddAccountArgs,
  OnboardBorrowerArgs,
  ProposeAdmitArgs,
  ProposeRemoveArgs,
  RemoveAccountArgs,
  VoteArgs,
} from '../vm/modules/member.js';
import { AppraiseArgs, RegisterArgs, SetStatusArgs, TransferOwnershipArgs } from '../vm/modules/vehicle.js';
import { AttestArgs, ConsentArgs, RevokeConsentArgs } from '../vm/modules/credit.js';
import { BondArgs, UnbondArgs, UnjailArgs } from '../vm/modules/staking.js';
import { CreateArgs, RetireArgs, UpdateArgs } from '../vm/modules/product.js';
import {
  AcceptAssignmentArgs,
  ApplyArgs,
  AssignArgs,
  FundArgs,
  RecordSaleArgs,
  RepayArgs,
  RepossessArgs,
} from '../vm/modules/loan.js';

export type OpSchemas = { readonly [module: string]: { readonly [op: string]: Schema<unknown> } };

export const OP_SCHEMAS = {
  asset: { issue: IssueArgs, redeem: RedeemArgs, transfer: TransferArgs },
  member: {
    proposeAdmit: ProposeAdmitArgs,
    proposeRemove: ProposeRemoveArgs,
    vote: VoteArgs,
    addAccount: AddAccountArgs,
    removeAccount: RemoveAccountArgs,
    onboardBorrower: OnboardBorrowerArgs,
  },
  vehicle: {
    register: RegisterArgs,
    appraise: AppraiseArgs,
    transferOwnership: TransferOwnershipArgs,
    setStatus: SetStatusArgs,
  },
  credit: { attest: AttestArgs, consent: ConsentArgs, revokeConsent: RevokeConsentArgs },
  staking: { bond: BondArgs, unbond: UnbondArgs, unjail: UnjailArgs },
  product: { create: CreateArgs, update: UpdateArgs, retire: RetireArgs },
  loan: {
    apply: ApplyArgs,
    fund: FundArgs,
    repay: RepayArgs,
    assign: AssignArgs,
    acceptAssignment: AcceptAssignmentArgs,
    repossess: RepossessArgs,
    recordSale: RecordSaleArgs,
  },
} as const satisfies OpSchemas;
