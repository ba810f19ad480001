// The chain's module set, in the order genesis, begin-block and end-block run them.
//
// Order matters for genesis: assets before members' balances, members before staking's validators.
import { Vm } from './vm.js';
import type { Module } from './types.js';
import { assetModule } from './modules/asset.js';
import { memberModule } from './modules/member.js';
import { vehicleModule } from './modules/vehicle.js';
import { creditModule } from './modules/credit.js';
import { stakingModule } from './modules/staking.js';
import { productModule } from './modules/product.js';
import { loanModule } from './modules/loan.js';

export function allModules(): Module[] {
  return [assetModule, memberModule, vehicleModule, creditModule, stakingModule, productModule, loanModule];
}

export function createVm(): Vm {
  return new Vm(allModules());
}
