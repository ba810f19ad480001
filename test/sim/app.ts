// The simulator's application: a deterministic key-value store with stakes, slashing and jailing, behind the
// same Application interface the real node implements with the VM.
//
// State root: a hash chain over every applied operation (sha256(previous root, height, ops)), so two nodes with
// the same root have applied exactly the same history. Txs are text: "set <k> <v>" and "bond <address> <delta>".
import { sha256, EMPTY_HASH } from '../../src/core/hash.js';
import { addressOf } from '../../src/core/keys.js';
import { equalBytes, toHex, utf8, fromUtf8, u64be } from '../../src/core/bytes.js';
import { blockHash, type Block, type Commit } from '../../src/core/types.js';
import {
  assembleBlock,
  type Application,
  type FinalizeBlockResult,
  type Misbehaviour,
  type PrepareProposalRequest,
  type ProcessProposalResult,
} from '../../src/consensus/app.js';
import type { ValidatorUpdate } from '../../src/consensus/validator-set.js';
import type { Prng } from './prng.js';

export interface StakeEntry {
  publicKey: Uint8Array;
  stake: bigint;
  jailed: boolean;
  tombstoned: boolean;
  slashes: number;
}

/** What survives a crash: committed blocks with their commits (the block store). */
export interface SimDisk {
  blocks: { block: Block; commit: Commit }[];
}

export interface SimAppOptions {
  validators: readonly { publicKey: Uint8Array; stake: bigint }[];
  slashBps: bigint;
  /** Per million: chance that a proposal carries a bond tx (a validator power change, applied at H + 2). */
  bondPerMillion: number;
}

interface Execution {
  root: Uint8Array;
  kv: [string, string][];
  stakes: [string, StakeEntry][];
  updates: ValidatorUpdate[];
  slashed: string[];
}

export class SimApp implements Application {
  readonly kv = new Map<string, string>();
  readonly stakes = new Map<string, StakeEntry>();
  root: Uint8Array = EMPTY_HASH;
  height = 0n;
  /** Slashing events applied: validator hex and the height of the block that carried the evidence. */
  readonly slashLog: { validator: string; atHeight: bigint }[] = [];
  private readonly cache = new Map<string, Execution>();

  constructor(
    private readonly opts: SimAppOptions,
    readonly disk: SimDisk,
    private readonly prng: Prng,
  ) {
    for (const v of opts.validators) {
      this.stakes.set(toHex(addressOf(v.publicKey)), {
        publicKey: v.publicKey,
        stake: v.stake,
        jailed: false,
        tombstoned: false,
        slashes: 0,
      });
    }
  }

  /** Rebuilds the state from the disk after a restart; returns each block's validator updates, in order. */
  replay(): { block: Block; commit: Commit; updates: ValidatorUpdate[] }[] {
    return this.disk.blocks.map(({ block, commit }) => ({ block, commit, updates: this.apply(this.execute(block)) }));
  }

  prepareProposal(req: PrepareProposalRequest): Block {
    const txs: Uint8Array[] = [];
    const n = this.prng.int(4);
    for (let i = 0; i < n; i++) txs.push(utf8(`set k${this.prng.int(500)} v${this.prng.u32()}`));
    if (this.prng.chance(this.opts.bondPerMillion)) {
      const active = [...this.stakes.entries()].filter(([, s]) => !s.jailed);
      if (active.length > 0) txs.push(utf8(`bond ${this.prng.pick(active)[0]} ${1 + this.prng.int(10)}`));
    }
    const draft = assembleBlock(req, { txs, stateRoot: EMPTY_HASH, resultsRoot: EMPTY_HASH, gasUsed: 0n });
    const exec = this.run(draft);
    return assembleBlock(req, { txs, stateRoot: exec.root, resultsRoot: EMPTY_HASH, gasUsed: 0n });
  }

  processProposal(block: Block): ProcessProposalResult {
    const exec = this.execute(block);
    if (!equalBytes(exec.root, block.header.stateRoot)) return { valid: false, reason: 'state root mismatch' };
    if (!equalBytes(block.header.resultsRoot, EMPTY_HASH) || block.header.gasUsed !== 0n)
      return { valid: false, reason: 'results mismatch' };
    return { valid: true };
  }

  finalizeBlock(block: Block, commit: Commit, _misbehaviour: Misbehaviour[]): FinalizeBlockResult {
    const exec = this.execute(block);
    const updates = this.apply(exec);
    this.disk.blocks.push({ block, commit });
    return { stateRoot: exec.root, validatorUpdates: updates };
  }

  private execute(block: Block): Execution {
    const key = toHex(blockHash(block.header));
    let exec = this.cache.get(key);
    if (exec === undefined) {
      exec = this.run(block);
      if (this.cache.size > 64) this.cache.clear();
      this.cache.set(key, exec);
    }
    return exec;
  }

  private apply(exec: Execution): ValidatorUpdate[] {
    for (const [k, v] of exec.kv) this.kv.set(k, v);
    for (const [k, s] of exec.stakes) this.stakes.set(k, s);
    for (const v of exec.slashed) this.slashLog.push({ validator: v, atHeight: this.height + 1n });
    this.root = exec.root;
    this.height++;
    this.cache.clear();
    return exec.updates;
  }

  /** Executes a block against the current state without changing it. */
  private run(block: Block): Execution {
    const ops: string[] = [];
    const kv: [string, string][] = [];
    const changed = new Map<string, StakeEntry>();
    const slashed: string[] = [];
    const stakeOf = (k: string): StakeEntry | undefined => changed.get(k) ?? this.stakes.get(k);
    for (const ev of block.evidence) {
      const k = toHex(ev.voteA.body.validator);
      const s = stakeOf(k);
      if (s === undefined || s.tombstoned) continue; // punished once (tombstoned), like CometBFT's double-sign rule
      const stake = s.stake - (s.stake * this.opts.slashBps) / 10_000n;
      changed.set(k, { ...s, stake, jailed: true, tombstoned: true, slashes: s.slashes + 1 });
      slashed.push(k);
      ops.push(`slash ${k} ${stake}`);
    }
    for (const tx of block.txs) {
      const parts = fromUtf8(tx).split(' ');
      if (parts[0] === 'set' && parts.length === 3) {
        kv.push([parts[1]!, parts[2]!]);
        ops.push(`set ${parts[1]} ${parts[2]}`);
      } else if (parts[0] === 'bond' && parts.length === 3) {
        const s = stakeOf(parts[1]!);
        if (s === undefined || s.jailed) {
          ops.push(`fail ${parts[1]}`);
          continue;
        }
        const stake = s.stake + BigInt(parts[2]!);
        changed.set(parts[1]!, { ...s, stake });
        ops.push(`bond ${parts[1]} ${stake}`);
      } else {
        ops.push('invalid');
      }
    }
    const updates: ValidatorUpdate[] = [];
    for (const [k, s] of [...changed.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const before = this.stakes.get(k);
      const powerBefore = before === undefined || before.jailed ? 0n : before.stake;
      const powerAfter = s.jailed ? 0n : s.stake;
      if (powerBefore !== powerAfter) updates.push({ publicKey: s.publicKey, power: powerAfter });
    }
    const root = sha256(this.root, u64be(block.header.height), utf8(ops.join('\n')));
    return { root, kv, stakes: [...changed.entries()], updates, slashed };
  }
}
