// One table of the VM modules' read views the RPC serves, with list results normalised to { items, total }.
import type { KvReader } from '../state/kv.js';
import { views as assetViews } from '../vm/modules/asset.js';
import { views as memberViews } from '../vm/modules/member.js';
import { views as vehicleViews } from '../vm/modules/vehicle.js';
import { views as creditViews } from '../vm/modules/credit.js';
import { views as stakingViews } from '../vm/modules/staking.js';
import { views as productViews } from '../vm/modules/product.js';
import { views as loanViews } from '../vm/modules/loan.js';

interface PageOpts {
  offset: number;
  limit: number;
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
  getLoan(state: KvReader, id: bigint): unknown {
    return loanViews.getLoan(state, id);
  },
  listLoansByBorrower(state: KvReader, address: Uint8Array, opts: PageOpts): { items: unknown[]; total: number } {
    const r = loanViews.listLoansByBorrower(state, address, opts);
    return { items: r.items, total: r.total };
  },
  listDelinquent(state: KvReader, opts: PageOpts): { items: unknown[]; total: number } {
    const r = loanViews.listDelinquent(state, opts);
    return { items: r.items, total: r.total };
  },
};
