// staking: validators bond stake from an asset balance, unbond after a delay, and are slashed and jailed on evidence.
import { struct, str, u16, u64, list, optional, type Infer } from '../../core/codec.js';
import { compareBytes, equalBytes } from '../../core/bytes.js';
import { addressOf } from '../../core/keys.js';
import { assert } from '../../core/errors.js';
import type { KvReader, KvWriter } from '../../state/kv.js';
import { stateKey, load, save } from '../store.js';
import {
  OK,
  failure,
  type Module,
  type OpDef,
  type Genesis,
  type ValidatorUpdate,
  type BlockStepContext,
  type Misbehaviour,
} from '../types.js';
import { MAX_VALIDATORS } from '../../core/constants.js';
import {
  addressSchema,
  publicKeySchema,
  assetCodeSchema,
  hex,
  moduleAddress,
  insertSortedBytes,
  removeBytes,
} from '../util.js';
import { transfer, mint, burn, assetExists } from './asset.js';
// member <-> staking import each other's functions only (used at call time), never values at module load.
import { memberOfAccount } from './member.js';

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
  for (const addr of loadValidatorList(state)) {
    const v = loadValidator(state, addr);
    assert(v !== null, 'validator list names a missing validator', { address: hex(addr) });
    if (isActive(v, p)) out.push({ publicKey: v.publicKey, address: v.address, power: v.stake });
  }
  return out.sort((a, b) => (a.power === b.power ? compareBytes(a.address, b.address) : a.power > b.power ? -1 : 1));
}

export const STAKING_CODES = {
  NOT_VALIDATOR_OPERATOR: 'staking.NOT_VALIDATOR_OPERATOR',
  ZERO_AMOUNT: 'staking.ZERO_AMOUNT',
  INSUFFICIENT_FUNDS: 'staking.INSUFFICIENT_FUNDS',
  BELOW_MIN_STAKE: 'staking.BELOW_MIN_STAKE',
  TOO_MANY_VALIDATORS: 'staking.TOO_MANY_VALIDATORS',
  NOT_VALIDATOR: 'staking.NOT_VALIDATOR',
  INSUFFICIENT_STAKE: 'staking.INSUFFICIENT_STAKE',
  LAST_VALIDATOR: 'staking.LAST_VALIDATOR',
  UNBONDING_QUEUE_FULL: 'staking.UNBONDING_QUEUE_FULL',
  NOT_JAILED: 'staking.NOT_JAILED',
  STILL_JAILED: 'staking.STILL_JAILED',
} as const;

/** Most pending unbonding entries chain-wide accepted from unbond txs (member removal may exceed it). */
export const MAX_UNBONDING = 1024;
const MAX_UNBONDING_STORED = 4096;

export const UnbondingSchema = struct('Unbonding', [
  ['address', addressSchema],
  ['amount', u64],
  ['completeAtMs', u64],
] as const);
export type Unbonding = Infer<typeof UnbondingSchema>;
const UnbondingQueueSchema = list(UnbondingSchema, { max: MAX_UNBONDING_STORED });
const ValidatorListSchema = list(addressSchema, { max: MAX_VALIDATORS });
const PowerSchema = struct('Power', [
  ['publicKey', publicKeySchema],
  ['power', u64],
] as const);
const PowerListSchema = list(PowerSchema, { max: MAX_VALIDATORS });

const unbondingKey = (): Uint8Array => stateKey('staking', 'unbonding');
/** The powers last reported to consensus; end-block reports the difference. */
const lastPowersKey = (): Uint8Array => stateKey('staking', 'lastPowers');
const slashedKey = (address: Uint8Array, height: bigint): Uint8Array => stateKey('staking', 'slashed', address, height);

export function loadUnbonding(state: KvReader): Unbonding[] {
  return load(state, unbondingKey(), UnbondingQueueSchema) ?? [];
}

function loadValidatorList(state: KvReader): Uint8Array[] {
  return load(state, validatorListKey(), ValidatorListSchema) ?? [];
}

function saveValidator(state: KvWriter, v: Validator): void {
  save(state, validatorKey(v.address), ValidatorSchema, v);
  const addrs = loadValidatorList(state);
  if (insertSortedBytes(addrs, v.address)) save(state, validatorListKey(), ValidatorListSchema, addrs);
}

/** A validator with no stake left is deleted (its unbonding entries live on in the queue). */
function deleteValidator(state: KvWriter, address: Uint8Array): void {
  state.delete(validatorKey(address));
  const addrs = loadValidatorList(state);
  if (removeBytes(addrs, address)) save(state, validatorListKey(), ValidatorListSchema, addrs);
}

/** Queues stake to return after the unbonding period; entries stay ordered by completion time (stable). */
function enqueueUnbonding(state: KvWriter, entry: Unbonding): void {
  const q = loadUnbonding(state);
  let i = q.length;
  while (i > 0 && q[i - 1]!.completeAtMs > entry.completeAtMs) i--;
  q.splice(i, 0, entry);
  assert(q.length <= MAX_UNBONDING_STORED, 'unbonding queue overflow');
  save(state, unbondingKey(), UnbondingQueueSchema, q);
}

/**
 * Moves a validator's whole stake to unbonding and removes it (member removal). Returns the amount queued
 * (0 if the account was not a validator).
 */
export function exitValidator(state: KvWriter, address: Uint8Array, timeMs: bigint): bigint {
  const v = loadValidator(state, address);
  if (v === null) return 0n;
  const p = loadParams(state);
  if (v.stake > 0n) enqueueUnbonding(state, { address, amount: v.stake, completeAtMs: timeMs + p.unbondingMs });
  deleteValidator(state, address);
  return v.stake;
}

function totalActivePower(state: KvReader): bigint {
  return loadValidatorSet(state).reduce((s, v) => s + v.power, 0n);
}

export const BondArgs = struct('staking.bond', [['amount', u64]] as const);
export const UnbondArgs = struct('staking.unbond', [['amount', u64]] as const);
export const UnjailArgs = struct('staking.unjail', [] as const);

const bond: OpDef<Infer<typeof BondArgs>> = {
  args: BondArgs,
  gasBase: 5_000n,
  run(ctx, a) {
    const m = memberOfAccount(ctx.state, ctx.sender);
    if (m === null || !m.roles.includes('validator')) {
      return failure(STAKING_CODES.NOT_VALIDATOR_OPERATOR, 'only accounts of validator-operator members bond');
    }
    if (a.amount === 0n) return failure(STAKING_CODES.ZERO_AMOUNT, 'amount must be positive');
    const p = loadParams(ctx.state);
    const existing = loadValidator(ctx.state, ctx.sender);
    const stake = (existing?.stake ?? 0n) + a.amount;
    if (stake < p.minStake)
      return failure(STAKING_CODES.BELOW_MIN_STAKE, `stake ${stake} is below the minimum ${p.minStake}`);
    if (existing === null && loadValidatorList(ctx.state).length >= MAX_VALIDATORS) {
      return failure(STAKING_CODES.TOO_MANY_VALIDATORS, `at most ${MAX_VALIDATORS} validators`);
    }
    const moved = transfer(ctx.state, p.bondAsset, ctx.sender, BONDED_POOL, a.amount);
    if (!moved.ok) return failure(STAKING_CODES.INSUFFICIENT_FUNDS, moved.message);
    saveValidator(ctx.state, {
      address: ctx.sender,
      publicKey: ctx.senderKey,
      memberId: m.id,
      stake,
      jailedUntilMs: existing?.jailedUntilMs ?? null,
    });
    ctx.emit('bonded', {
      validator: hex(ctx.sender),
      member: m.id,
      asset: p.bondAsset,
      amount: a.amount.toString(),
      stake: stake.toString(),
    });
    return OK;
  },
};

const unbond: OpDef<Infer<typeof UnbondArgs>> = {
  args: UnbondArgs,
  gasBase: 5_000n,
  run(ctx, a) {
    const v = loadValidator(ctx.state, ctx.sender);
    if (v === null) return failure(STAKING_CODES.NOT_VALIDATOR, 'this account has no bonded stake');
    if (a.amount === 0n) return failure(STAKING_CODES.ZERO_AMOUNT, 'amount must be positive');
    if (a.amount > v.stake)
      return failure(STAKING_CODES.INSUFFICIENT_STAKE, `bonded ${v.stake}, asked to unbond ${a.amount}`);
    const p = loadParams(ctx.state);
    const left = v.stake - a.amount;
    if (left > 0n && left < p.minStake) {
      return failure(
        STAKING_CODES.BELOW_MIN_STAKE,
        `would leave ${left}, below the minimum ${p.minStake}; unbond all to exit`,
      );
    }
    if (loadUnbonding(ctx.state).length >= MAX_UNBONDING)
      return failure(STAKING_CODES.UNBONDING_QUEUE_FULL, 'too many pending unbondings');
    const wasActive = isActive(v, p);
    if (wasActive && left === 0n && totalActivePower(ctx.state) === v.stake) {
      return failure(STAKING_CODES.LAST_VALIDATOR, 'the last active validator cannot leave: the chain would halt');
    }
    const completeAtMs = ctx.block.timeMs + p.unbondingMs;
    enqueueUnbonding(ctx.state, { address: ctx.sender, amount: a.amount, completeAtMs });
    if (left === 0n) deleteValidator(ctx.state, ctx.sender);
    else saveValidator(ctx.state, { ...v, stake: left });
    ctx.emit('unbonding', {
      validator: hex(ctx.sender),
      amount: a.amount.toString(),
      stake: left.toString(),
      completeAtMs: completeAtMs.toString(),
    });
    return OK;
  },
};

const unjail: OpDef<Infer<typeof UnjailArgs>> = {
  args: UnjailArgs,
  gasBase: 3_000n,
  run(ctx) {
    const v = loadValidator(ctx.state, ctx.sender);
    if (v === null) return failure(STAKING_CODES.NOT_VALIDATOR, 'this account has no bonded stake');
    if (v.jailedUntilMs === null) return failure(STAKING_CODES.NOT_JAILED, 'validator is not jailed');
    if (ctx.block.timeMs < v.jailedUntilMs)
      return failure(STAKING_CODES.STILL_JAILED, `jailed until ${v.jailedUntilMs}`);
    const p = loadParams(ctx.state);
    if (v.stake < p.minStake)
      return failure(
        STAKING_CODES.BELOW_MIN_STAKE,
        `stake ${v.stake} is below the minimum ${p.minStake}: bond more first`,
      );
    saveValidator(ctx.state, { ...v, jailedUntilMs: null });
    ctx.emit('unjailed', { validator: hex(ctx.sender) });
    return OK;
  },
};

function slashAmount(stake: bigint, slashBps: number): bigint {
  return (stake * BigInt(slashBps)) / 10_000n;
}

/** Slashes and jails each (validator, height) once; stake slashed is burned from the bonded pool. */
function beginBlock(ctx: BlockStepContext, misbehaviour: readonly Misbehaviour[]): void {
  if (misbehaviour.length === 0) return;
  const p = loadParams(ctx.state);
  for (const mb of misbehaviour) {
    const address = mb.validator.length === 32 ? addressOf(mb.validator) : mb.validator;
    if (ctx.state.get(slashedKey(address, mb.height)) !== undefined) continue;
    ctx.state.set(slashedKey(address, mb.height), new Uint8Array([1]));
    let burned = 0n;
    const v = loadValidator(ctx.state, address);
    if (v !== null) {
      const cut = slashAmount(v.stake, p.slashBps);
      burned += cut;
      const jailedUntilMs = ctx.block.timeMs + p.jailMs;
      saveValidator(ctx.state, { ...v, stake: v.stake - cut, jailedUntilMs });
      ctx.emit('staking', 'jailed', {
        validator: hex(address),
        untilMs: jailedUntilMs.toString(),
        height: mb.height.toString(),
      });
    }
    // Stake already on its way out still answers for misbehaviour committed while it was bonded.
    const q = loadUnbonding(ctx.state);
    let changed = false;
    for (const e of q) {
      if (!equalBytes(e.address, address)) continue;
      const cut = slashAmount(e.amount, p.slashBps);
      if (cut === 0n) continue;
      e.amount -= cut;
      burned += cut;
      changed = true;
    }
    if (changed)
      save(
        ctx.state,
        unbondingKey(),
        UnbondingQueueSchema,
        q.filter((e) => e.amount > 0n),
      );
    if (burned > 0n) {
      const r = burn(ctx.state, p.bondAsset, BONDED_POOL, burned);
      assert(r.ok, 'bonded pool holds all bonded and unbonding stake');
    }
    ctx.emit('staking', 'slashed', {
      validator: hex(address),
      height: mb.height.toString(),
      amount: burned.toString(),
      asset: p.bondAsset,
    });
  }
}

/** Releases matured unbondings, then reports validators whose power changed since the last report. */
function endBlock(ctx: BlockStepContext): ValidatorUpdate[] {
  const p = loadParams(ctx.state);
  const q = loadUnbonding(ctx.state);
  let released = 0;
  while (released < q.length && q[released]!.completeAtMs <= ctx.block.timeMs) {
    const e = q[released]!;
    const r = transfer(ctx.state, p.bondAsset, BONDED_POOL, e.address, e.amount);
    assert(r.ok, 'bonded pool holds all unbonding stake');
    ctx.emit('staking', 'unbondingCompleted', {
      validator: hex(e.address),
      amount: e.amount.toString(),
      asset: p.bondAsset,
    });
    released++;
  }
  if (released > 0) save(ctx.state, unbondingKey(), UnbondingQueueSchema, q.slice(released));

  const last = load(ctx.state, lastPowersKey(), PowerListSchema) ?? [];
  const current = loadValidatorSet(ctx.state);
  const updates: ValidatorUpdate[] = [];
  const lastByKey = new Map(last.map((x) => [hex(x.publicKey), x.power]));
  const currentKeys = new Set<string>();
  for (const v of current) {
    const k = hex(v.publicKey);
    currentKeys.add(k);
    if (lastByKey.get(k) !== v.power) updates.push({ publicKey: v.publicKey, power: v.power });
  }
  for (const x of last) if (!currentKeys.has(hex(x.publicKey))) updates.push({ publicKey: x.publicKey, power: 0n });
  if (updates.length === 0) return [];
  updates.sort((a, b) => compareBytes(a.publicKey, b.publicKey));
  save(
    ctx.state,
    lastPowersKey(),
    PowerListSchema,
    current.map((v) => ({ publicKey: v.publicKey, power: v.power })),
  );
  for (const u of updates)
    ctx.emit('staking', 'validatorUpdated', { publicKey: hex(u.publicKey), power: u.power.toString() });
  return updates;
}

export const stakingModule: Module = {
  name: 'staking',
  ops: { bond, unbond, unjail },
  initGenesis(state: KvWriter, g: Genesis) {
    const params: StakingParams = { ...g.staking };
    assert(params.slashBps >= 0 && params.slashBps <= 10_000, 'slashBps must be within 0..10000');
    assert(assetExists(state, params.bondAsset), `bond asset ${params.bondAsset} is not defined`);
    save(state, paramsKey(), ParamsSchema, params);
    for (const gv of g.validators) {
      const address = addressOf(gv.publicKey);
      const m = memberOfAccount(state, address);
      assert(
        m !== null && m.id === gv.memberId && m.roles.includes('validator'),
        `genesis validator ${hex(address)} must be an account of validator-operator member ${gv.memberId}`,
      );
      assert(gv.stake >= params.minStake && gv.stake > 0n, `genesis validator ${hex(address)} stake below minimum`);
      assert(loadValidator(state, address) === null, `genesis validator ${hex(address)} listed twice`);
      // Genesis stake is created in the bonded pool: it counts in the bond asset's supply like any balance.
      const r = mint(state, params.bondAsset, BONDED_POOL, gv.stake);
      assert(r.ok, 'genesis stake mint');
      saveValidator(state, {
        address,
        publicKey: gv.publicKey,
        memberId: gv.memberId,
        stake: gv.stake,
        jailedUntilMs: null,
      });
    }
    const set = loadValidatorSet(state);
    save(
      state,
      lastPowersKey(),
      PowerListSchema,
      set.map((v) => ({ publicKey: v.publicKey, power: v.power })),
    );
  },
  beginBlock,
  endBlock,
};

// ---- views (JSON-ready) ----

function listValidators(state: KvReader): {
  validators: {
    address: string;
    publicKey: string;
    memberId: string;
    stake: string;
    power: string;
    jailedUntilMs: string | null;
  }[];
  unbonding: { address: string; amount: string; completeAtMs: string }[];
  totalPower: string;
} {
  const p = loadParams(state);
  const validators = loadValidatorList(state).map((addr) => {
    const v = loadValidator(state, addr);
    assert(v !== null, 'validator list names a missing validator');
    return {
      address: hex(v.address),
      publicKey: hex(v.publicKey),
      memberId: v.memberId,
      stake: v.stake.toString(),
      power: (isActive(v, p) ? v.stake : 0n).toString(),
      jailedUntilMs: v.jailedUntilMs?.toString() ?? null,
    };
  });
  const unbonding = loadUnbonding(state).map((e) => ({
    address: hex(e.address),
    amount: e.amount.toString(),
    completeAtMs: e.completeAtMs.toString(),
  }));
  return { validators, unbonding, totalPower: totalActivePower(state).toString() };
}

export const views = { listValidators };
