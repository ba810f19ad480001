// One table of the VM modules' read views the RPC serves, with list results normalised to { items, total }.
import type { KvReader } from '../state/kv.js';
import { views as assetViews } from '../vm/modules/asset.js';
import { views as memberViews } from '../vm/modules/member.js';
import { views as vehicleViews } from '../vm/modules/vehicle.js';
import { views as creditViews } from '../vm/modules/credit.js';
import { views as stakingViews } from '../vm/modules/staking.js';
import { views as productViews } from '../vm/modules/product.js';
import { RPC_ERRORS } from './api.js';
import { RpcFailure } from './errors.js';

interface PageOpts {
  offset: number;
  limit: number;
}

function loanModuleMissing(): never {
  throw new RpcFailure(RPC_ERRORS.METHOD_NOT_FOUND, 'this node was built without the loan module');
}

export const VIEWS = {
  account: assetViews.account,
  listMembers: memberViews.listMembers,
  getVehicle: vehicleViews.getVehicle,
  getCredit: creditViews.getCredit,
  listValidators: stakingViews.listValidators,
  listProducts(state: KvReader, opts: PageOpts & { lender?: string }): { items: unknown[]; total: number } {
    const r = productViews.listProducts(state, opts);
    return { items: r.items, total: r.total };
  },
  getLoan(_state: KvReader, _id: bigint): unknown {
    return loanModuleMissing();
  },
  listLoansByBorrower(_state: KvReader, _address: Uint8Array, _opts: PageOpts): { items: unknown[]; total: number } {
    return loanModuleMissing();
  },
  listDelinquent(_state: KvReader, _opts: PageOpts): { items: unknown[]; total: number } {
    return loanModuleMissing();
  },
};
