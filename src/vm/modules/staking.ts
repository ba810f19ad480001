// staking: validators bond stake from an asset balance, unbond after a delay, and are slashed and jailed on evidence.
import { struct, str, u16, u64, list, optional, type Infer } from '../../core/codec.js';
import { compareBytes, equalBytes } from '../../core/bytes.js';
import { addressOf } from '../../core/keys.js';
import { assert } from '../../core/errors.js';
import type { KvReader, KvWriter } from '../../state/kv.js';
import { stateKey, load, save } from '../store.js';
import { OK, failure, type Module, type OpDef, type Genesis, type ValidatorUpdate } from '../types.js';
import { addressSchema, publicKeySchema, assetCodeSchema, hex, moduleAddress } from '../util.js';

/** The module account holding bonded and unbonding stake. */
export const BONDED_POOL = moduleAddress('staking/bonded');

export const ParamsSchema = struct('StakingParams', [
  ['bondAsset', assetCodeSchema],
  ['unbondingMs', u64],
  ['slashBps', u16],
  ['jailMs', u64],
  ['minStake', u64],
] as const);
export type StakingParams = Infer<typeof ParamsSchema>;

export const ValidatorSchema = struct('Validator', [
  ['address', addressSchema],
  ['publicKey', publicKeySchema],
  ['memberId', str({ max: 32 })],
  ['stake', u64],
  ['jailedUntilMs', optional(u64)],
] as const);
export type Validator = Infer<typeof ValidatorSchema>;

export interface ActiveValidator {
  publicKey: Uint8Array;
  address: Uint8Array;
  power: bigint;
}

const paramsKey = (): Uint8Array => stateKey('staking', 'params');
const validatorKey = (address: Uint8Array): Uint8Array => stateKey('staking', 'val', address);
const validatorListKey = (): Uint8Array => stateKey('staking', 'vals');

export function loadParams(state: KvReader): StakingParams {
  const p = load(state, paramsKey(), ParamsSchema);
  assert(p !== undefined, 'staking parameters missing (genesis not loaded)');
  return p;
}

export function loadValidator(state: KvReader, address: Uint8Array): Validator | null {
  return load(state, validatorKey(address), ValidatorSchema) ?? null;
}

function isActive(v: Validator, p: StakingParams): boolean {
  return v.jailedUntilMs === null && v.stake > 0n && v.stake >= p.minStake;
}

/** The active (unjailed, at least minStake) validators, by power descending then address ascending. */
export function loadValidatorSet(state: KvReader): ActiveValidator[] {
  const p = loadParams(state);
  const out: ActiveValidator[] = [];
  for (const addr of load(state, validatorListKey(), list(addressSchema, { max: 1024 })) ?? []) {
    const v = loadValidator(state, addr);
    assert(v !== null, 'validator list names a missing validator', { address: hex(addr) });
    if (isActive(v, p)) out.push({ publicKey: v.publicKey, address: v.address, power: v.stake });
  }
  return out.sort((a, b) => (a.power === b.power ? compareBytes(a.address, b.address) : a.power > b.power ? -1 : 1));
}
