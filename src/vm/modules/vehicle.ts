// vehicle: the registry of cars keyed by VIN: registration, appraisal, ownership, status and the lien a loan holds.
import { struct, str, u16, u64, oneOf, optional, type Infer } from '../../core/codec.js';
import { equalBytes } from '../../core/bytes.js';
import { assert } from '../../core/errors.js';
import type { KvReader, KvWriter } from '../../state/kv.js';
import { stateKey, load, save } from '../store.js';
import { OK, failure, type Module, type OpDef } from '../types.js';
import { addressSchema, assetCodeSchema, hex } from '../util.js';
import { hasRole } from './member.js';
import { assetExists } from './asset.js';

export const VEHICLE_CODES = {
  BAD_VIN: 'vehicle.BAD_VIN',
  NOT_REGISTRANT: 'vehicle.NOT_REGISTRANT',
  EXISTS: 'vehicle.EXISTS',
  BAD_MODEL_YEAR: 'vehicle.BAD_MODEL_YEAR',
  NOT_FOUND: 'vehicle.NOT_FOUND',
  NOT_APPRAISER: 'vehicle.NOT_APPRAISER',
  UNKNOWN_ASSET: 'vehicle.UNKNOWN_ASSET',
  ZERO_AMOUNT: 'vehicle.ZERO_AMOUNT',
  NOT_OWNER: 'vehicle.NOT_OWNER',
  LIENED: 'vehicle.LIENED',
  SAME_OWNER: 'vehicle.SAME_OWNER',
  NOT_ACTIVE: 'vehicle.NOT_ACTIVE',
  NOT_REGISTRAR: 'vehicle.NOT_REGISTRAR',
  SAME_STATUS: 'vehicle.SAME_STATUS',
  SCRAPPED: 'vehicle.SCRAPPED',
} as const;

export const ENERGY = ['fuel', 'newEnergy'] as const;
export const USE = ['private', 'commercial'] as const;
export const CONDITION = ['new', 'used'] as const;
export const STATUS = ['active', 'scrapped', 'seized', 'stolen'] as const;
export type VehicleStatus = (typeof STATUS)[number];

/** First model year of the 17-character VIN standard. */
export const MIN_MODEL_YEAR = 1981;
/** Model years may run this many years ahead of the block's calendar year. */
export const MODEL_YEAR_AHEAD = 2;

// ---- VIN ----

const VIN_PATTERN = /^[A-HJ-NPR-Z0-9]{17}$/;
const VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2] as const;
// ISO 3779 / FMVSS 565 / GB 16735 transliteration; I, O and Q never occur.
const TRANSLIT: Record<string, number> = {
  A: 1,
  B: 2,
  C: 3,
  D: 4,
  E: 5,
  F: 6,
  G: 7,
  H: 8,
  J: 1,
  K: 2,
  L: 3,
  M: 4,
  N: 5,
  P: 7,
  R: 9,
  S: 2,
  T: 3,
  U: 4,
  V: 5,
  W: 6,
  X: 7,
  Y: 8,
  Z: 9,
};

function vinValue(c: string): number {
  return c >= '0' && c <= '9' ? c.charCodeAt(0) - 48 : TRANSLIT[c]!;
}

/** The check digit position 9 must hold for a VIN's 17 characters (assumed of the VIN alphabet). */
export function vinCheckDigit(vin: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += vinValue(vin[i]!) * VIN_WEIGHTS[i]!;
  const r = sum % 11;
  return r === 10 ? 'X' : String(r);
}

/** Null when `vin` is a valid VIN; otherwise the reason it is not. */
export function validateVin(vin: string): string | null {
  if (typeof vin !== 'string' || vin.length !== 17) return 'a VIN has exactly 17 characters';
  if (/[IOQ]/.test(vin)) return 'a VIN never contains the letters I, O or Q';
  if (!VIN_PATTERN.test(vin)) return 'a VIN holds only upper-case letters and digits';
  const expected = vinCheckDigit(vin);
  if (vin[8] !== expected) return `check digit (position 9) is ${vin[8]}, expected ${expected}`;
  return null;
}

// ---- records ----

const vinSchema = str({ max: 17 });
const label = str({ max: 64, pattern: /^\S(.*\S)?$/ });

export const AppraisalSchema = struct('Appraisal', [
  ['asset', assetCodeSchema],
  ['amount', u64],
  ['by', addressSchema],
  ['atMs', u64],
] as const);
export const LienSchema = struct('Lien', [
  ['loanId', u64],
  ['lender', addressSchema],
  ['registeredAtMs', u64],
] as const);
export type Lien = Infer<typeof LienSchema>;

export const VehicleSchema = struct('Vehicle', [
  ['vin', vinSchema],
  ['make', label],
  ['model', label],
  ['modelYear', u16],
  ['energy', oneOf(ENERGY)],
  ['use', oneOf(USE)],
  ['condition', oneOf(CONDITION)],
  ['status', oneOf(STATUS)],
  ['owner', addressSchema],
  ['appraisal', optional(AppraisalSchema)],
  ['lien', optional(LienSchema)],
  ['registeredBy', addressSchema],
  ['registeredAtMs', u64],
] as const);
export type Vehicle = Infer<typeof VehicleSchema>;

const vehicleKey = (vin: string): Uint8Array => stateKey('vehicle', 'v', vin);

export function loadVehicle(state: KvReader, vin: string): Vehicle | null {
  if (validateVin(vin) !== null) return null;
  return load(state, vehicleKey(vin), VehicleSchema) ?? null;
}

function saveVehicle(state: KvWriter, v: Vehicle): void {
  save(state, vehicleKey(v.vin), VehicleSchema, v);
}

function mustLoad(state: KvReader, vin: string): Vehicle {
  const v = loadVehicle(state, vin);
  assert(v !== null, `vehicle ${vin} does not exist`);
  return v;
}

/** Registers or releases a lien (loan module). Caller checks the vehicle exists; a missing one is a bug. */
export function setLien(state: KvWriter, vin: string, lien: Lien | null): void {
  const v = mustLoad(state, vin);
  saveVehicle(state, { ...v, lien });
}

/** Changes the owner without the lien check (loan module: repossession sale). */
export function setOwner(state: KvWriter, vin: string, owner: Uint8Array): void {
  const v = mustLoad(state, vin);
  saveVehicle(state, { ...v, owner });
}

export function setVehicleStatus(state: KvWriter, vin: string, status: VehicleStatus): void {
  const v = mustLoad(state, vin);
  saveVehicle(state, { ...v, status });
}

/**
 * Null when the vehicle's status allows pledging it; otherwise why not (scrapped, seized or stolen).
 * The lien is not checked here: the loan module reports "already liened" as its own reason.
 */
export function pledgeable(vehicle: Vehicle): string | null {
  if (vehicle.status === 'active') return null;
  return `vehicle ${vehicle.vin} is ${vehicle.status} and cannot be pledged`;
}

// ---- operations ----

export const RegisterArgs = struct('vehicle.register', [
  ['vin', vinSchema],
  ['make', label],
  ['model', label],
  ['modelYear', u16],
  ['energy', oneOf(ENERGY)],
  ['use', oneOf(USE)],
  ['condition', oneOf(CONDITION)],
  ['owner', addressSchema],
] as const);
export const AppraiseArgs = struct('vehicle.appraise', [
  ['vin', vinSchema],
  ['asset', assetCodeSchema],
  ['amount', u64],
] as const);
export const TransferOwnershipArgs = struct('vehicle.transferOwnership', [
  ['vin', vinSchema],
  ['to', addressSchema],
] as const);
export const SetStatusArgs = struct('vehicle.setStatus', [
  ['vin', vinSchema],
  ['status', oneOf(STATUS)],
] as const);

/** Proleptic Gregorian calendar year (UTC) of a time in ms since the epoch, in bigint arithmetic (no floats). */
export function utcYear(timeMs: bigint): number {
  // Howard Hinnant's civil_from_days, with floor division for times before the epoch.
  const floorDiv = (a: bigint, b: bigint): bigint => (a >= 0n ? a / b : -((-a + b - 1n) / b));
  const z = floorDiv(timeMs, 86_400_000n) + 719_468n;
  const era = floorDiv(z, 146_097n);
  const doe = z - era * 146_097n;
  const yoe = (doe - doe / 1_460n + doe / 36_524n - doe / 146_096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const month = mp < 10n ? mp + 3n : mp - 9n;
  return Number(yoe + era * 400n + (month <= 2n ? 1n : 0n));
}

function notFound(vin: string): ReturnType<typeof failure> {
  return failure(VEHICLE_CODES.NOT_FOUND, `no vehicle ${vin}`);
}

function badVin(vin: string): ReturnType<typeof failure> | null {
  const why = validateVin(vin);
  return why === null ? null : failure(VEHICLE_CODES.BAD_VIN, `invalid VIN ${JSON.stringify(vin)}: ${why}`);
}

const register: OpDef<Infer<typeof RegisterArgs>> = {
  args: RegisterArgs,
  gasBase: 3_000n,
  run(ctx, a) {
    if (!hasRole(ctx.state, ctx.sender, 'manufacturer') && !hasRole(ctx.state, ctx.sender, 'registrar')) {
      return failure(VEHICLE_CODES.NOT_REGISTRANT, 'only manufacturer or registrar accounts register vehicles');
    }
    const bad = badVin(a.vin);
    if (bad) return bad;
    const maxYear = utcYear(ctx.block.timeMs) + MODEL_YEAR_AHEAD;
    if (a.modelYear < MIN_MODEL_YEAR || a.modelYear > maxYear) {
      return failure(VEHICLE_CODES.BAD_MODEL_YEAR, `model year ${a.modelYear} outside ${MIN_MODEL_YEAR}..${maxYear}`);
    }
    if (loadVehicle(ctx.state, a.vin) !== null)
      return failure(VEHICLE_CODES.EXISTS, `vehicle ${a.vin} is already registered`);
    saveVehicle(ctx.state, {
      ...a,
      status: 'active',
      appraisal: null,
      lien: null,
      registeredBy: ctx.sender,
      registeredAtMs: ctx.block.timeMs,
    });
    ctx.emit('registered', {
      vin: a.vin,
      make: a.make,
      model: a.model,
      modelYear: String(a.modelYear),
      energy: a.energy,
      use: a.use,
      condition: a.condition,
      owner: hex(a.owner),
      by: hex(ctx.sender),
    });
    return OK;
  },
};

const appraise: OpDef<Infer<typeof AppraiseArgs>> = {
  args: AppraiseArgs,
  gasBase: 2_000n,
  run(ctx, a) {
    if (!hasRole(ctx.state, ctx.sender, 'dealer') && !hasRole(ctx.state, ctx.sender, 'registrar')) {
      return failure(VEHICLE_CODES.NOT_APPRAISER, 'only dealer or registrar accounts appraise vehicles');
    }
    const bad = badVin(a.vin);
    if (bad) return bad;
    const v = loadVehicle(ctx.state, a.vin);
    if (v === null) return notFound(a.vin);
    if (!assetExists(ctx.state, a.asset)) return failure(VEHICLE_CODES.UNKNOWN_ASSET, `unknown asset ${a.asset}`);
    if (a.amount === 0n) return failure(VEHICLE_CODES.ZERO_AMOUNT, 'appraised value must be positive');
    saveVehicle(ctx.state, {
      ...v,
      appraisal: { asset: a.asset, amount: a.amount, by: ctx.sender, atMs: ctx.block.timeMs },
    });
    ctx.emit('appraised', { vin: a.vin, asset: a.asset, amount: a.amount.toString(), by: hex(ctx.sender) });
    return OK;
  },
};

const transferOwnership: OpDef<Infer<typeof TransferOwnershipArgs>> = {
  args: TransferOwnershipArgs,
  gasBase: 2_000n,
  run(ctx, a) {
    const bad = badVin(a.vin);
    if (bad) return bad;
    const v = loadVehicle(ctx.state, a.vin);
    if (v === null) return notFound(a.vin);
    if (!equalBytes(v.owner, ctx.sender)) return failure(VEHICLE_CODES.NOT_OWNER, 'only the owner transfers a vehicle');
    if (v.lien !== null) {
      return failure(
        VEHICLE_CODES.LIENED,
        `vehicle ${a.vin} carries a lien for loan ${v.lien.loanId}; it cannot change owner`,
      );
    }
    if (v.status !== 'active') return failure(VEHICLE_CODES.NOT_ACTIVE, `vehicle ${a.vin} is ${v.status}`);
    if (equalBytes(a.to, v.owner)) return failure(VEHICLE_CODES.SAME_OWNER, 'the recipient already owns the vehicle');
    saveVehicle(ctx.state, { ...v, owner: a.to });
    ctx.emit('ownershipTransferred', { vin: a.vin, from: hex(v.owner), to: hex(a.to) });
    return OK;
  },
};

const setStatus: OpDef<Infer<typeof SetStatusArgs>> = {
  args: SetStatusArgs,
  gasBase: 2_000n,
  run(ctx, a) {
    if (!hasRole(ctx.state, ctx.sender, 'registrar'))
      return failure(VEHICLE_CODES.NOT_REGISTRAR, 'only registrar accounts set a vehicle status');
    const bad = badVin(a.vin);
    if (bad) return bad;
    const v = loadVehicle(ctx.state, a.vin);
    if (v === null) return notFound(a.vin);
    // Scrapping is final: a scrapped car's VIN is never reactivated.
    if (v.status === 'scrapped') return failure(VEHICLE_CODES.SCRAPPED, `vehicle ${a.vin} is scrapped`);
    if (v.status === a.status) return failure(VEHICLE_CODES.SAME_STATUS, `vehicle ${a.vin} is already ${a.status}`);
    saveVehicle(ctx.state, { ...v, status: a.status });
    ctx.emit('statusChanged', { vin: a.vin, from: v.status, to: a.status, by: hex(ctx.sender) });
    return OK;
  },
};

export const vehicleModule: Module = {
  name: 'vehicle',
  ops: { register, appraise, transferOwnership, setStatus },
};

// ---- views (JSON-ready) ----

export interface VehicleView {
  vin: string;
  make: string;
  model: string;
  modelYear: number;
  energy: string;
  use: string;
  condition: string;
  status: string;
  owner: string;
  appraisal: { asset: string; amount: string; by: string; atMs: string } | null;
  lien: { loanId: string; lender: string; registeredAtMs: string } | null;
  registeredBy: string;
  registeredAtMs: string;
}

function getVehicle(state: KvReader, vin: string): VehicleView | null {
  const v = loadVehicle(state, vin);
  if (v === null) return null;
  return {
    vin: v.vin,
    make: v.make,
    model: v.model,
    modelYear: v.modelYear,
    energy: v.energy,
    use: v.use,
    condition: v.condition,
    status: v.status,
    owner: hex(v.owner),
    appraisal: v.appraisal && {
      asset: v.appraisal.asset,
      amount: v.appraisal.amount.toString(),
      by: hex(v.appraisal.by),
      atMs: v.appraisal.atMs.toString(),
    },
    lien: v.lien && {
      loanId: v.lien.loanId.toString(),
      lender: hex(v.lien.lender),
      registeredAtMs: v.lien.registeredAtMs.toString(),
    },
    registeredBy: hex(v.registeredBy),
    registeredAtMs: v.registeredAtMs.toString(),
  };
}

export const views = { getVehicle };
