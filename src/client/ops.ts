// The args schema of every VM operation, by module and op: the client encodes tx args with exactly the schema the
// VM decodes them with, and TypeScript checks a call's args against that schema's type.
import type { Schema } from '../core/codec.js';
import { IssueArgs, RedeemArgs, TransferArgs } from '../vm/modules/asset.js';

export type OpSchemas = { readonly [module: string]: { readonly [op: string]: Schema<unknown> } };

export const OP_SCHEMAS = {
  asset: { issue: IssueArgs, redeem: RedeemArgs, transfer: TransferArgs },
} as const satisfies OpSchemas;
