// The consensus view of the committed chain: height being decided, validator sets (H-1, H, H+1), last block,
// and a bounded history (validator set and block time per committed height) for judging evidence.
//
// Validator set changes take effect at H+2 (CometBFT updateState): the updates returned by finalizeBlock at height
// H are applied to the set of H+1, giving the set of H+2; every set stored for a height has been incremented once
// more for proposer rotation. A restarted node restores this object from its snapshot (`snapshot` / `fromSnapshot`,
// encoded with the project codec) and replays only the blocks committed after it (`advance`).
import { EMPTY_HASH } from '../core/hash.js';
import { bytes, decode, encode, i64, list, optional, str, struct, u16, u64, type Infer } from '../core/codec.js';
import { equalBytes, fromHex, toHex } from '../core/bytes.js';
import { PUBLIC_KEY_BYTES } from '../core/keys.js';
import { MAX_VALIDATORS } from '../core/constants.js';
import { blockHash, CommitSchema, type Block, type Commit } from '../core/types.js';
import { ValidatorSet, type ValidatorUpdate } from './validator-set.js';
import { evidenceKey } from './evidence.js';
import type { EvidenceParams } from './params.js';
import { ConsensusError } from './errors.js';

export interface GenesisInfo {
  chainId: string;
  genesisTimeMs: bigint;
  validators: readonly ValidatorUpdate[];
}

/** Placeholder while fromSnapshot builds the real sets (never observable). */
const EMPTY_SET = ValidatorSet.withPriorities([]);

interface SetSegment {
  fromHeight: bigint;
  set: ValidatorSet;
}

export class ChainState {
  readonly chainId: string;
  readonly genesisTimeMs: bigint;
  /** The height being decided: last committed height + 1. */
  height: bigint;
  validators: ValidatorSet;
  nextValidators: ValidatorSet;
  /** Set of height - 1 (null at height 1): verifies the block's lastCommit. */
  lastValidators: ValidatorSet | null;
  lastBlockHash: Uint8Array;
  /** Time of the last committed block; genesisTimeMs - 1 before the first, so block 1 may carry the genesis time. */
  lastBlockTimeMs: bigint;
  lastCommit: Commit | null;
  /** Validator sets of committed heights as segments (a set rarely changes), oldest first. */
  private segments: SetSegment[] = [];
  /** Block times of committed heights [timesBase, timesBase + timesLen), stored from index timesStart. */
  private times = new BigInt64Array(64);
  private timesStart = 0;
  private timesBase = 1n;
  private timesLen = 0;
  /** Keys of committed evidence (validator:height) and the height of the misbehaviour, within the window. */
  private readonly committedEvidence = new Map<string, bigint>();

  /** `restoring`: fromSnapshot fills every field itself (an empty genesis set would not build). */
  private constructor(g: GenesisInfo, restoring = false) {
    this.chainId = g.chainId;
    this.genesisTimeMs = g.genesisTimeMs;
    this.height = 1n;
    this.validators = restoring ? EMPTY_SET : ValidatorSet.fromGenesis(g.validators);
    this.nextValidators = restoring ? EMPTY_SET : this.validators.incrementProposerPriority(1);
    this.lastValidators = null;
    this.lastBlockHash = EMPTY_HASH;
    this.lastBlockTimeMs = g.genesisTimeMs - 1n;
    this.lastCommit = null;
  }

  static genesis(g: GenesisInfo): ChainState {
    return new ChainState(g);
  }

  /**
   * Everything `advance`, the engine and evidence checks read, as plain data: the three current sets and the
   * history segments with their proposer priorities, the live block-time window, committed evidence (sorted by
   * key, so two equal states give equal snapshots whatever order they were built in).
   */
  snapshot(): ChainStateSnapshot {
    const times: bigint[] = [];
    for (let i = 0; i < this.timesLen; i++) times.push(this.times[this.timesStart + i]!);
    const evidence = [...this.committedEvidence.keys()].sort().map((k) => {
      const [validator, height] = k.split(':') as [string, string];
      return { validator: fromHex(validator), height: BigInt(height) };
    });
    return {
      chainId: this.chainId,
      genesisTimeMs: this.genesisTimeMs,
      height: this.height,
      lastValidators: this.lastValidators === null ? null : setSnapshot(this.lastValidators),
      validators: setSnapshot(this.validators),
      nextValidators: setSnapshot(this.nextValidators),
      lastBlockHash: this.lastBlockHash,
      lastBlockTimeMs: this.lastBlockTimeMs,
      lastCommit: this.lastCommit,
      segments: this.segments.map((g) => ({ fromHeight: g.fromHeight, set: setSnapshot(g.set) })),
      timesBase: this.timesBase,
      times,
      committedEvidence: evidence,
    };
  }

  /** The state a snapshot was taken of; refuses snapshots that break the invariants `advance` keeps. */
  static fromSnapshot(s: ChainStateSnapshot): ChainState {
    const bad = (why: string): never => {
      throw new ConsensusError('INVALID_ARGUMENT', `chain-state snapshot: ${why}`);
    };
    if (s.height < 1n) bad('height must be >= 1');
    if ((s.height === 1n) !== (s.lastValidators === null)) bad('lastValidators must be null exactly at height 1');
    if ((s.height === 1n) !== (s.lastCommit === null)) bad('lastCommit must be null exactly at height 1');
    if (s.lastCommit !== null && s.lastCommit.height !== s.height - 1n)
      bad('lastCommit is not for the last committed height');
    if (s.lastBlockHash.length !== EMPTY_HASH.length) bad('lastBlockHash must be 32 bytes');
    if (s.timesBase < 1n || s.timesBase + BigInt(s.times.length) !== s.height)
      bad('block times must cover timesBase .. height - 1');
    let prevFrom = 0n;
    for (const g of s.segments) {
      if (g.fromHeight <= prevFrom || g.fromHeight >= s.height)
        bad('segments must start at increasing committed heights');
      prevFrom = g.fromHeight;
    }
    if (s.height > 1n && (s.segments.length === 0 || s.segments[0]!.fromHeight > s.timesBase))
      bad('segments must cover the block-time window');
    const chain = new ChainState({ chainId: s.chainId, genesisTimeMs: s.genesisTimeMs, validators: [] }, true);
    chain.height = s.height;
    chain.lastValidators = s.lastValidators === null ? null : restoreSet(s.lastValidators);
    chain.validators = restoreSet(s.validators);
    chain.nextValidators = restoreSet(s.nextValidators);
    chain.lastBlockHash = s.lastBlockHash;
    chain.lastBlockTimeMs = s.lastBlockTimeMs;
    chain.lastCommit = s.lastCommit;
    chain.segments = s.segments.map((g) => ({ fromHeight: g.fromHeight, set: restoreSet(g.set) }));
    let capacity = 64;
    while (capacity < s.times.length) capacity *= 2;
    chain.times = new BigInt64Array(capacity);
    s.times.forEach((t, i) => (chain.times[i] = t));
    chain.timesBase = s.timesBase;
    chain.timesLen = s.times.length;
    for (const e of s.committedEvidence) chain.committedEvidence.set(`${toHex(e.validator)}:${e.height}`, e.height);
    return chain;
  }

  /** Validator set at a committed height within the window, or at the current height. */
  setAt(height: bigint): ValidatorSet | undefined {
    if (height === this.height) return this.validators;
    if (height > this.height || height < 1n) return undefined;
    if (height < this.timesBase) return undefined;
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const s = this.segments[i]!;
      if (s.fromHeight <= height) return s.set;
    }
    return undefined;
  }

  /** Block time of a committed height within the window. */
  timeAt(height: bigint): bigint | undefined {
    const off = height - this.timesBase;
    if (off < 0n || off >= BigInt(this.timesLen)) return undefined;
    return this.times[this.timesStart + Number(off)];
  }

  /** Committed heights whose block times are kept (the evidence window): the bulk of a snapshot's size. */
  get windowHeights(): number {
    return this.timesLen;
  }

  isEvidenceCommitted(key: string): boolean {
    return this.committedEvidence.has(key);
  }

  /** Records block `height` as committed with `commit`; `updates` (from finalizeBlock) take effect at height + 2. */
  advance(block: Block, commit: Commit, updates: readonly ValidatorUpdate[], evidence: EvidenceParams): void {
    const h = block.header.height;
    if (h !== this.height)
      throw new ConsensusError('INVALID_ARGUMENT', `advance with block ${h} at height ${this.height}`);
    const last = this.segments[this.segments.length - 1];
    // A different set (by hash) starts a new segment; equal hashes share one (priorities do not matter for evidence).
    if (last === undefined || !equalBytes(last.set.hash(), this.validators.hash()))
      this.segments.push({ fromHeight: h, set: this.validators });
    this.pushTime(block.header.timeMs);
    for (const ev of block.evidence) this.committedEvidence.set(evidenceKey(ev), ev.voteA.body.height);
    const next = (
      updates.length > 0 ? this.nextValidators.applyUpdates(updates) : this.nextValidators
    ).incrementProposerPriority(1);
    this.lastValidators = this.validators;
    this.validators = this.nextValidators;
    this.nextValidators = next;
    this.lastBlockHash = blockHash(block.header);
    this.lastBlockTimeMs = block.header.timeMs;
    this.lastCommit = commit;
    this.height = h + 1n;
    this.prune(evidence);
  }

  /** Drops history that no evidence can refer to any more: older than both age bounds. */
  private prune(p: EvidenceParams): void {
    const lastHeight = this.height - 1n;
    while (this.timesLen > 0) {
      const t = this.times[this.timesStart]!;
      if (lastHeight - this.timesBase > p.maxAgeHeights && this.lastBlockTimeMs - t > p.maxAgeMs) {
        this.timesStart++;
        this.timesLen--;
        this.timesBase++;
      } else break;
    }
    while (this.segments.length > 1 && this.segments[1]!.fromHeight <= this.timesBase) this.segments.shift();
    for (const [k, h] of this.committedEvidence) if (h < this.timesBase) this.committedEvidence.delete(k);
  }

  private pushTime(t: bigint): void {
    if (this.timesStart + this.timesLen === this.times.length) {
      // Compact first; grow only when more than half of the array is live.
      const live = this.times.subarray(this.timesStart, this.timesStart + this.timesLen);
      const size = this.timesLen * 2 > this.times.length ? this.times.length * 2 : this.times.length;
      const next = new BigInt64Array(size);
      next.set(live);
      this.times = next;
      this.timesStart = 0;
    }
    this.times[this.timesStart + this.timesLen++] = t;
  }
}

// ---- snapshot encoding (docs/formats.md "Chain-state snapshot") ----

/** Most committed heights a snapshot's block-time window holds: 48 days of 1 s blocks (32 MiB of times). */
export const MAX_SNAPSHOT_HEIGHTS = 1 << 22;
/** Most validator-set segments (set changes inside the evidence window) a snapshot holds. */
export const MAX_SNAPSHOT_SEGMENTS = 4096;
/** Most committed evidence keys a snapshot holds. */
export const MAX_SNAPSHOT_EVIDENCE = 1 << 16;
/** Largest encoded snapshot decode accepts: the bounds above at their worst, rounded up. */
export const MAX_SNAPSHOT_BYTES =
  8 * MAX_SNAPSHOT_HEIGHTS + (MAX_SNAPSHOT_SEGMENTS + 3) * MAX_VALIDATORS * 64 + MAX_SNAPSHOT_EVIDENCE * 40 + 64 * 1024;

const SnapshotValidatorSchema = struct('SnapshotValidator', [
  ['publicKey', bytes({ exact: PUBLIC_KEY_BYTES })],
  ['power', u64],
  ['priority', i64],
] as const);

/** A set in canonical order with its priorities and the index of the proposer its last increment picked. */
const SnapshotSetSchema = struct('SnapshotSet', [
  ['validators', list(SnapshotValidatorSchema, { max: MAX_VALIDATORS })],
  ['proposerIndex', u16],
] as const);

const ChainStateSnapshotSchema = struct('ChainStateSnapshot', [
  ['chainId', str({ max: 64 })],
  ['genesisTimeMs', i64],
  ['height', u64],
  ['lastValidators', optional(SnapshotSetSchema)],
  ['validators', SnapshotSetSchema],
  ['nextValidators', SnapshotSetSchema],
  ['lastBlockHash', bytes({ exact: 32 })],
  ['lastBlockTimeMs', i64],
  ['lastCommit', optional(CommitSchema)],
  [
    'segments',
    list(
      struct('SnapshotSegment', [
        ['fromHeight', u64],
        ['set', SnapshotSetSchema],
      ] as const),
      { max: MAX_SNAPSHOT_SEGMENTS },
    ),
  ],
  ['timesBase', u64],
  /** Block times of heights timesBase.. as i64 big-endian, 8 bytes each (compact: no per-item tag). */
  ['times', bytes({ max: 8 * MAX_SNAPSHOT_HEIGHTS })],
  [
    'committedEvidence',
    list(
      struct('SnapshotEvidence', [
        ['validator', bytes({ exact: 20 })],
        ['height', u64],
      ] as const),
      { max: MAX_SNAPSHOT_EVIDENCE },
    ),
  ],
] as const);

type SnapshotSet = Infer<typeof SnapshotSetSchema>;
type WireSnapshot = Infer<typeof ChainStateSnapshotSchema>;
export type ChainStateSnapshot = Omit<WireSnapshot, 'times'> & { times: bigint[] };

/** Canonical bytes of a snapshot; throws CodecError when it exceeds a bound (the caller then keeps no snapshot). */
export function encodeChainStateSnapshot(s: ChainStateSnapshot): Uint8Array {
  const times = new Uint8Array(8 * s.times.length);
  const view = new DataView(times.buffer);
  s.times.forEach((t, i) => view.setBigInt64(8 * i, t));
  return encode(ChainStateSnapshotSchema, { ...s, times });
}

export function decodeChainStateSnapshot(b: Uint8Array): ChainStateSnapshot {
  const w = decode(ChainStateSnapshotSchema, b, MAX_SNAPSHOT_BYTES);
  if (w.times.length % 8 !== 0)
    throw new ConsensusError('INVALID_ARGUMENT', 'chain-state snapshot: times is not a whole number of i64');
  const view = new DataView(w.times.buffer, w.times.byteOffset, w.times.byteLength);
  const times: bigint[] = [];
  for (let i = 0; i < w.times.length; i += 8) times.push(view.getBigInt64(i));
  return { ...w, times };
}

function setSnapshot(set: ValidatorSet): SnapshotSet {
  // Every set ChainState keeps has been incremented at least once, so it has a proposer.
  if (set.proposerIndex < 0) throw new ConsensusError('INVALID_VALIDATOR_SET', 'snapshot of a set without a proposer');
  return {
    validators: set.validators.map((v, i) => ({
      publicKey: v.publicKey,
      power: v.power,
      priority: set.priorities[i]!,
    })),
    proposerIndex: set.proposerIndex,
  };
}

function restoreSet(s: SnapshotSet): ValidatorSet {
  return ValidatorSet.restore(s.validators, s.proposerIndex);
}
