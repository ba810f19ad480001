// The consensus view of the committed chain: height being decided, validator sets (H-1, H, H+1), last block,
// and a bounded history (validator set and block time per committed height) for judging evidence.
//
// Validator set changes take effect at H+2 (CometBFT updateState): the updates returned by finalizeBlock at height
// H are applied to the set of H+1, giving the set of H+2; every set stored for a height has been incremented once
// more for proposer rotation. A restarted node rebuilds this object by replaying committed blocks (`advance`).
import { EMPTY_HASH } from '../core/hash.js';
import { blockHash, type Block, type Commit } from '../core/types.js';
import { ValidatorSet, type ValidatorUpdate } from './validator-set.js';
import { evidenceKey } from './evidence.js';
import type { EvidenceParams } from './params.js';
import { ConsensusError } from './errors.js';

export interface GenesisInfo {
  chainId: string;
  genesisTimeMs: bigint;
  validators: readonly ValidatorUpdate[];
}

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

  private constructor(g: GenesisInfo) {
    this.chainId = g.chainId;
    this.genesisTimeMs = g.genesisTimeMs;
    this.height = 1n;
    this.validators = ValidatorSet.fromGenesis(g.validators);
    this.nextValidators = this.validators.incrementProposerPriority(1);
    this.lastValidators = null;
    this.lastBlockHash = EMPTY_HASH;
    this.lastBlockTimeMs = g.genesisTimeMs - 1n;
    this.lastCommit = null;
  }

  static genesis(g: GenesisInfo): ChainState {
    return new ChainState(g);
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

  isEvidenceCommitted(key: string): boolean {
    return this.committedEvidence.has(key);
  }

  /** Records block `height` as committed with `commit`; `updates` (from finalizeBlock) take effect at height + 2. */
  advance(block: Block, commit: Commit, updates: readonly ValidatorUpdate[], evidence: EvidenceParams): void {
    const h = block.header.height;
    if (h !== this.height) throw new ConsensusError('INVALID_ARGUMENT', `advance with block ${h} at height ${this.height}`);
    const last = this.segments[this.segments.length - 1];
    // A different set (by hash) starts a new segment; equal hashes share one (priorities do not matter for evidence).
    if (last === undefined || !sameBytes(last.set.hash(), this.validators.hash())) this.segments.push({ fromHeight: h, set: this.validators });
    this.pushTime(block.header.timeMs);
    for (const ev of block.evidence) this.committedEvidence.set(evidenceKey(ev), ev.voteA.body.height);
    const next = (updates.length > 0 ? this.nextValidators.applyUpdates(updates) : this.nextValidators).incrementProposerPriority(1);
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

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
