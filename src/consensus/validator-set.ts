// Stake-weighted validator sets: canonical hash, quorum arithmetic and CometBFT's proposer-priority rotation.
//
// The priority algorithm is CometBFT's (types/validator_set.go), step for step, in bigint so nothing overflows:
//   IncrementProposerPriority(times): rescale priorities so max - min <= 2 * totalPower (integer division,
//   truncating like Go's int64 `/`), shift every priority by the floor of the average (Go big.Int Div is Euclidean),
//   then `times` times: add each validator's power to its priority, pick the highest priority (ties: the lower
//   address), subtract the total power from the pick.
//   UpdateWithChangeSet: new validators start at -(P + P/8) with P the total power after updates before removals,
//   updated ones keep their priority, removed ones (power 0) leave; then rescale and re-centre.
// A set is immutable: every operation returns a new set, so a set stored for a height never changes under a reader.
import { struct, bytes, u64, encode } from '../core/codec.js';
import { merkleRoot } from '../core/hash.js';
import { addressOf, PUBLIC_KEY_BYTES } from '../core/keys.js';
import { compareBytes, equalBytes, toHex } from '../core/bytes.js';
import { MAX_VALIDATORS } from '../core/constants.js';
import { ConsensusError } from './errors.js';

/** CometBFT's MaxTotalVotingPower (MaxInt64 / 8): keeps priorities far from any int64 limit in every client. */
export const MAX_TOTAL_VOTING_POWER = (1n << 60n) - 1n;
/** CometBFT's PriorityWindowSizeFactor: priorities stay within a window of 2 * total power. */
export const PRIORITY_WINDOW_SIZE_FACTOR = 2n;

export interface Validator {
  /** 20-byte address: addressOf(publicKey). */
  readonly address: Uint8Array;
  /** 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Voting power (bonded stake in power units); always > 0 inside a set. */
  readonly power: bigint;
}

/** A change produced by the application at end of block: power 0 removes the validator. */
export interface ValidatorUpdate {
  publicKey: Uint8Array;
  power: bigint;
}

const ValidatorHashEntrySchema = struct('ValidatorHashEntry', [
  ['publicKey', bytes({ exact: PUBLIC_KEY_BYTES })],
  ['power', u64],
] as const);

/** CometBFT's canonical order: power descending, then address ascending. */
function byPowerThenAddress(a: Validator, b: Validator): number {
  if (a.power !== b.power) return a.power > b.power ? -1 : 1;
  return compareBytes(a.address, b.address);
}

/** floor(a / b) for b > 0 (bigint `/` truncates toward zero). */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

export class ValidatorSet {
  /** Canonical order (power desc, address asc); parallel to `priorities`. */
  readonly validators: readonly Validator[];
  readonly priorities: readonly bigint[];
  readonly totalPower: bigint;
  /** Index of the proposer picked by the last increment (-1 before any increment). */
  readonly proposerIndex: number;
  private readonly index: Map<string, number>;
  private hashCache: Uint8Array | null = null;
  private readonly roundCache = new Map<number, Validator>();

  private constructor(
    validators: Validator[],
    priorities: bigint[],
    proposerIndex: number,
    hash: Uint8Array | null = null,
  ) {
    this.hashCache = hash;
    this.validators = validators;
    this.priorities = priorities;
    this.totalPower = validators.reduce((s, v) => s + v.power, 0n);
    this.proposerIndex = proposerIndex;
    this.index = new Map(validators.map((v, i) => [toHex(v.address), i]));
  }

  /** CometBFT NewValidatorSet: all priorities start equal (0 after centring), then one increment picks a proposer. */
  static fromGenesis(vals: readonly ValidatorUpdate[]): ValidatorSet {
    const base = new ValidatorSet([], [], -1);
    return base.applyUpdates(vals).incrementProposerPriority(1);
  }

  /** A set with explicit priorities (tests, hand-computed examples); validates like any other set. */
  static withPriorities(entries: readonly { publicKey: Uint8Array; power: bigint; priority: bigint }[]): ValidatorSet {
    const vals = entries.map((e) => ({ v: makeValidator(e.publicKey, e.power), p: e.priority }));
    vals.sort((a, b) => byPowerThenAddress(a.v, b.v));
    const set = new ValidatorSet(
      vals.map((x) => x.v),
      vals.map((x) => x.p),
      -1,
    );
    set.checkInvariants();
    return set;
  }

  /**
   * A set exactly as a snapshot recorded it: entries in canonical order with their priorities, and the proposer the
   * set's last increment picked (not recomputable from the priorities). Refuses entries out of canonical order.
   */
  static restore(
    entries: readonly { publicKey: Uint8Array; power: bigint; priority: bigint }[],
    proposerIndex: number,
  ): ValidatorSet {
    const sorted = ValidatorSet.withPriorities(entries);
    sorted.validators.forEach((v, i) => {
      if (!equalBytes(v.publicKey, entries[i]!.publicKey)) {
        throw new ConsensusError('INVALID_VALIDATOR_SET', 'snapshot: validators are not in canonical order');
      }
    });
    if (!Number.isInteger(proposerIndex) || proposerIndex < 0 || proposerIndex >= sorted.size) {
      throw new ConsensusError('INVALID_VALIDATOR_SET', 'snapshot: proposer index out of range');
    }
    return new ValidatorSet([...sorted.validators], [...sorted.priorities], proposerIndex);
  }

  get size(): number {
    return this.validators.length;
  }

  /** validatorsHash: Merkle root over (publicKey, power) in canonical order. Priorities are not part of it. */
  hash(): Uint8Array {
    if (this.hashCache === null) {
      this.hashCache = merkleRoot(
        this.validators.map((v) => encode(ValidatorHashEntrySchema, { publicKey: v.publicKey, power: v.power })),
      );
    }
    return this.hashCache;
  }

  indexOf(address: Uint8Array): number {
    return this.index.get(toHex(address)) ?? -1;
  }

  get(address: Uint8Array): Validator | undefined {
    const i = this.indexOf(address);
    return i < 0 ? undefined : this.validators[i];
  }

  has(address: Uint8Array): boolean {
    return this.indexOf(address) >= 0;
  }

  /** > 2/3 of the total power, in bigint: votedPower * 3 > totalPower * 2. */
  isQuorum(power: bigint): boolean {
    return power * 3n > this.totalPower * 2n;
  }

  /** > 1/3 of the total power (f + 1): at least one honest validator is among them. */
  exceedsOneThird(power: bigint): boolean {
    return power * 3n > this.totalPower;
  }

  /** The proposer picked by the last increment (round 0 of the height this set is stored for). */
  proposer(): Validator {
    const v = this.validators[this.proposerIndex];
    if (v === undefined)
      throw new ConsensusError('INVALID_VALIDATOR_SET', 'no proposer: the set was never incremented');
    return v;
  }

  /**
   * Proposer of `round` at the height this set belongs to: round 0 is `proposer()`, round r > 0 is a copy
   * incremented r times (CometBFT enterNewRound), computed from the height's set so every path gives one answer.
   */
  proposerForRound(round: number): Validator {
    if (round === 0) return this.proposer();
    let v = this.roundCache.get(round);
    if (v === undefined) {
      v = this.incrementProposerPriority(round).proposer();
      if (this.roundCache.size > 64) this.roundCache.clear();
      this.roundCache.set(round, v);
    }
    return v;
  }

  /** CometBFT IncrementProposerPriority(times). */
  incrementProposerPriority(times: number): ValidatorSet {
    if (this.validators.length === 0) throw new ConsensusError('INVALID_VALIDATOR_SET', 'empty validator set');
    if (!Number.isInteger(times) || times <= 0)
      throw new ConsensusError('INVALID_ARGUMENT', 'times must be a positive integer');
    let prios = rescale(this.priorities, PRIORITY_WINDOW_SIZE_FACTOR * this.totalPower);
    prios = shiftByAverage(prios);
    let proposer = -1;
    for (let t = 0; t < times; t++) {
      prios = prios.map((p, i) => p + this.validators[i]!.power);
      proposer = mostPriority(this.validators, prios);
      prios[proposer] = prios[proposer]! - this.totalPower;
    }
    // Same members and powers: the hash carries over (priorities are not part of it).
    return new ValidatorSet(this.validators.slice(), prios, proposer, this.hashCache);
  }

  /** CometBFT UpdateWithChangeSet: power 0 removes; refuses duplicates, unknown removals, an empty result, overflow. */
  applyUpdates(updates: readonly ValidatorUpdate[]): ValidatorSet {
    const seen = new Set<string>();
    const changes: Validator[] = [];
    for (const u of updates) {
      if (u.power < 0n) throw new ConsensusError('INVALID_VALIDATOR_UPDATE', 'negative power');
      const v =
        u.power === 0n
          ? { address: addressOf(u.publicKey), publicKey: u.publicKey, power: 0n }
          : makeValidator(u.publicKey, u.power);
      const key = toHex(v.address);
      if (seen.has(key)) throw new ConsensusError('INVALID_VALIDATOR_UPDATE', `duplicate update for ${key}`);
      seen.add(key);
      const existing = this.get(v.address);
      if (existing !== undefined && !equalBytes(existing.publicKey, v.publicKey)) {
        throw new ConsensusError('INVALID_VALIDATOR_UPDATE', `address ${key} bound to another key`);
      }
      if (v.power === 0n && existing === undefined)
        throw new ConsensusError('INVALID_VALIDATOR_UPDATE', `removal of unknown validator ${key}`);
      changes.push(v);
    }
    // Total power after updates, before removals (CometBFT verifyUpdates): new validators are placed relative to it.
    let tvpAfterUpdates = this.totalPower;
    for (const c of changes) {
      if (c.power === 0n) continue;
      tvpAfterUpdates += c.power - (this.get(c.address)?.power ?? 0n);
    }
    if (tvpAfterUpdates > MAX_TOTAL_VOTING_POWER)
      throw new ConsensusError('INVALID_VALIDATOR_UPDATE', 'total voting power overflow');
    const newPriority = -(tvpAfterUpdates + (tvpAfterUpdates >> 3n));
    const byKey = new Map<string, { v: Validator; p: bigint }>();
    this.validators.forEach((v, i) => byKey.set(toHex(v.address), { v, p: this.priorities[i]! }));
    for (const c of changes) {
      const key = toHex(c.address);
      const cur = byKey.get(key);
      if (c.power === 0n) byKey.delete(key);
      else byKey.set(key, { v: c, p: cur === undefined ? newPriority : cur.p });
    }
    if (byKey.size === 0)
      throw new ConsensusError('INVALID_VALIDATOR_UPDATE', 'the update would leave an empty validator set');
    if (byKey.size > MAX_VALIDATORS)
      throw new ConsensusError('INVALID_VALIDATOR_UPDATE', `more than ${MAX_VALIDATORS} validators`);
    const list = [...byKey.values()];
    const total = list.reduce((s, x) => s + x.v.power, 0n);
    let prios = rescale(
      list.map((x) => x.p),
      PRIORITY_WINDOW_SIZE_FACTOR * total,
    );
    prios = shiftByAverage(prios);
    const entries = list.map((x, i) => ({ v: x.v, p: prios[i]! }));
    entries.sort((a, b) => byPowerThenAddress(a.v, b.v));
    // A changed set has no proposer until the next increment (CometBFT increments right after every update).
    const set = new ValidatorSet(
      entries.map((e) => e.v),
      entries.map((e) => e.p),
      -1,
    );
    set.checkInvariants();
    return set;
  }

  private checkInvariants(): void {
    if (this.totalPower > MAX_TOTAL_VOTING_POWER)
      throw new ConsensusError('INVALID_VALIDATOR_SET', 'total voting power overflow');
    if (this.index.size !== this.validators.length)
      throw new ConsensusError('INVALID_VALIDATOR_SET', 'duplicate validator');
    for (const v of this.validators) {
      if (v.power <= 0n) throw new ConsensusError('INVALID_VALIDATOR_SET', 'validator with non-positive power');
    }
  }
}

function makeValidator(publicKey: Uint8Array, power: bigint): Validator {
  if (publicKey.length !== PUBLIC_KEY_BYTES)
    throw new ConsensusError('INVALID_VALIDATOR_UPDATE', 'public key must be 32 bytes');
  if (power <= 0n || power > MAX_TOTAL_VOTING_POWER)
    throw new ConsensusError('INVALID_VALIDATOR_UPDATE', 'power out of range');
  return { address: addressOf(publicKey), publicKey, power };
}

/** CometBFT RescalePriorities: if max - min > diffMax, divide every priority by ceil(diff / diffMax) (truncating). */
function rescale(prios: readonly bigint[], diffMax: bigint): bigint[] {
  if (prios.length === 0 || diffMax <= 0n) return prios.slice();
  let max = prios[0]!;
  let min = prios[0]!;
  for (const p of prios) {
    if (p > max) max = p;
    if (p < min) min = p;
  }
  const diff = max - min;
  if (diff <= diffMax) return prios.slice();
  const ratio = (diff + diffMax - 1n) / diffMax;
  return prios.map((p) => p / ratio);
}

/** CometBFT shiftByAvgProposerPriority: subtract floor(sum / n). */
function shiftByAverage(prios: readonly bigint[]): bigint[] {
  if (prios.length === 0) return [];
  const avg = floorDiv(
    prios.reduce((s, p) => s + p, 0n),
    BigInt(prios.length),
  );
  return prios.map((p) => p - avg);
}

/** Highest priority; ties go to the lower address (CometBFT CompareProposerPriority). */
function mostPriority(validators: readonly Validator[], prios: readonly bigint[]): number {
  let best = 0;
  for (let i = 1; i < validators.length; i++) {
    const p = prios[i]!;
    const b = prios[best]!;
    if (p > b || (p === b && compareBytes(validators[i]!.address, validators[best]!.address) < 0)) best = i;
  }
  return best;
}
