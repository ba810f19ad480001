// Deterministic multi-node simulation (after TigerBeetle's VOPR): one seed drives a manual clock, a network that
// delays, loses, duplicates, reorders and partitions, crashes and restarts, and byzantine double-signers.
// Every node runs the real engine and driver; checkers watch safety, state roots and liveness.
import { keyPairFromLabel, sign, signingBytes, addressOf, verify, type KeyPair } from '../../src/core/keys.js';
import { encode } from '../../src/core/codec.js';
import { toHex } from '../../src/core/bytes.js';
import { sha256 } from '../../src/core/hash.js';
import { VoteBodySchema, blockHash, type Block, type Commit, type Vote } from '../../src/core/types.js';
import { ChainState } from '../../src/consensus/chain-state.js';
import { ConsensusEngine } from '../../src/consensus/engine.js';
import { ConsensusDriver } from '../../src/consensus/driver.js';
import { messageHeight, type ConsensusMessage } from '../../src/consensus/messages.js';
import { MemorySignStateStore } from '../../src/consensus/signer-guard.js';
import type { ConsensusParams } from '../../src/consensus/params.js';
import { MAX_EVIDENCE_PER_BLOCK } from '../../src/core/constants.js';
import { Prng } from './prng.js';
import { SimApp, type SimDisk } from './app.js';

export type Behaviour = 'honest' | 'doubleSign' | 'twoFaced';

export interface ValidatorSpec {
  power: bigint;
  behaviour?: Behaviour;
}

export interface NetworkFaults {
  delayMinMs: number;
  delayMaxMs: number;
  lossPerMillion: number;
  duplicatePerMillion: number;
}

export interface ClusterOptions {
  seed: number;
  validators: ValidatorSpec[];
  faults: NetworkFaults;
  /** Random partitions and crashes until every honest node reaches this fraction (per cent) of the target. */
  chaos: { partitions: boolean; crashes: boolean; untilPercent: number };
  bondPerMillion: number;
  /** Double-signers start misbehaving at this height. */
  byzantineFromHeight: bigint;
  /** Fixed partition for the whole run: groups of validator indices (the two faces of a twoFaced validator split). */
  fixedPartition?: number[][];
}

export const SIM_CHAIN_ID = 'sim-chain';
export const SIM_GENESIS_MS = 1_700_000_000_000n;
const GOSSIP_TICK_MS = 1000;
const SYNC_BATCH = 20;

export function simParams(): ConsensusParams {
  return {
    chainId: SIM_CHAIN_ID,
    timeouts: {
      proposeMs: 400,
      proposeDeltaMs: 100,
      prevoteMs: 200,
      prevoteDeltaMs: 100,
      precommitMs: 200,
      precommitDeltaMs: 100,
      commitMs: 20,
    },
    blockTime: { precisionMs: 60n, messageDelayMs: 250n },
    evidence: { maxAgeHeights: 100n, maxAgeMs: 30_000n, maxPerBlock: MAX_EVIDENCE_PER_BLOCK, maxPoolSize: 256 },
  };
}

/** Verifying one signature once for the whole simulation: every node would verify the same bytes. */
const verifyCache = new Map<string, boolean>();
function cachedVerify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  const k =
    Buffer.from(signature).toString('latin1') +
    Buffer.from(publicKey).toString('latin1') +
    Buffer.from(message).toString('latin1');
  let r = verifyCache.get(k);
  if (r === undefined) {
    r = verify(message, signature, publicKey);
    if (verifyCache.size > 300_000) verifyCache.clear();
    verifyCache.set(k, r);
  }
  return r;
}

type NetMsg =
  | { kind: 'consensus'; msg: ConsensusMessage }
  | { kind: 'syncRequest'; fromHeight: bigint }
  | { kind: 'syncResponse'; blocks: { block: Block; commit: Commit }[] };

type SimEvent =
  | { t: number; seq: number; kind: 'deliver'; to: number; from: number; msg: NetMsg }
  | { t: number; seq: number; kind: 'timer'; node: number; incarnation: number; fire: () => void }
  | { t: number; seq: number; kind: 'control'; fire: () => void };

class EventQueue {
  private heap: SimEvent[] = [];
  private seq = 0;
  get size(): number {
    return this.heap.length;
  }
  nextSeq(): number {
    return this.seq++;
  }
  push(e: SimEvent): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): SimEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

export interface Violation {
  code: 'SAFETY' | 'STATE_ROOT' | 'LIVENESS' | 'HALT';
  message: string;
}

/** One simulated process. A twoFaced validator is two of these with the same key. */
class SimNode {
  up = true;
  incarnation = 0;
  engine!: ConsensusEngine;
  driver!: ConsensusDriver;
  app!: SimApp;
  readonly signStore = new MemorySignStateStore();
  readonly disk: SimDisk = { blocks: [] };
  lastSyncRequestMs = -1e9;
  /** When this node reached its current height (a node one height behind for long asks for blocks). */
  heightSinceMs = 0;
  readonly address: Uint8Array;

  constructor(
    readonly id: number,
    readonly validatorIndex: number,
    readonly keyPair: KeyPair,
    readonly behaviour: Behaviour,
    readonly clockOffsetMs: number,
    readonly prng: Prng,
  ) {
    this.address = addressOf(keyPair.publicKey);
  }

  get honest(): boolean {
    return this.behaviour === 'honest';
  }
}

export interface ClusterReport {
  seed: number;
  violations: Violation[];
  minHonestHeight: bigint;
  proposerCounts: Map<string, number>;
  roundsAboveZero: number;
  messages: number;
  crashes: number;
  partitions: number;
  simTimeMs: number;
}

export class Cluster {
  readonly prng: Prng;
  readonly nodes: SimNode[] = [];
  readonly keys: KeyPair[];
  readonly params = simParams();
  private readonly queue = new EventQueue();
  now = 0;
  private partition: number[] | null = null; // group id per node, or null
  readonly violations: Violation[] = [];
  /** height -> block hash hex and state root hex, as first committed by an honest node. */
  readonly committed = new Map<bigint, { hash: string; root: string; proposer: string; round: number }>();
  private messages = 0;
  private crashes = 0;
  private partitions = 0;
  private chaosOn: boolean;

  constructor(readonly opts: ClusterOptions) {
    this.prng = new Prng(opts.seed);
    this.chaosOn = opts.chaos.partitions || opts.chaos.crashes;
    this.keys = opts.validators.map((_, i) => keyPairFromLabel(`sim-validator-${i}`));
    opts.validators.forEach((spec, i) => {
      const behaviour = spec.behaviour ?? 'honest';
      const faces = behaviour === 'twoFaced' ? 2 : 1;
      for (let f = 0; f < faces; f++) {
        const offset = this.prng.range(
          -Number(this.params.blockTime.precisionMs) / 3,
          Number(this.params.blockTime.precisionMs) / 3,
        );
        this.nodes.push(new SimNode(this.nodes.length, i, this.keys[i]!, behaviour, offset, this.prng.fork()));
      }
    });
    if (opts.fixedPartition !== undefined) this.applyGroups(opts.fixedPartition);
    for (const n of this.nodes) this.boot(n);
    if (this.chaosOn) this.scheduleChaos();
  }

  private genesis() {
    return {
      chainId: SIM_CHAIN_ID,
      genesisTimeMs: SIM_GENESIS_MS,
      validators: this.opts.validators.map((v, i) => ({ publicKey: this.keys[i]!.publicKey, power: v.power })),
    };
  }

  honestNodes(): SimNode[] {
    return this.nodes.filter((n) => n.honest);
  }

  private nodeNow(n: SimNode): bigint {
    return SIM_GENESIS_MS + BigInt(this.now + n.clockOffsetMs);
  }

  /** Starts (or restarts) a node from its disk: replays blocks into a fresh app and chain state. */
  private boot(n: SimNode): void {
    n.incarnation++;
    n.up = true;
    n.heightSinceMs = this.now;
    const app = new SimApp(
      {
        validators: this.opts.validators.map((v, i) => ({ publicKey: this.keys[i]!.publicKey, stake: v.power })),
        slashBps: 500n,
        bondPerMillion: this.opts.bondPerMillion,
      },
      n.disk,
      n.prng.fork(),
    );
    const chain = ChainState.genesis(this.genesis());
    for (const r of app.replay()) chain.advance(r.block, r.commit, r.updates, this.params.evidence);
    const engine = new ConsensusEngine(
      { params: this.params, keyPair: n.keyPair },
      { chain, signState: n.signStore.load(), verify: cachedVerify },
    );
    const incarnation = n.incarnation;
    const driver = new ConsensusDriver({
      engine,
      app,
      signStore: n.signStore,
      network: { broadcast: (msg) => this.broadcastFrom(n, msg) },
      timers: {
        schedule: (ms, fire) =>
          this.queue.push({
            t: this.now + ms,
            seq: this.queue.nextSeq(),
            kind: 'timer',
            node: n.id,
            incarnation,
            fire,
          }),
      },
      clock: { nowMs: () => this.nodeNow(n) },
      onCommitted: (block, commit, result) => this.onCommitted(n, block, commit, toHex(result.stateRoot)),
    });
    n.app = app;
    n.engine = engine;
    n.driver = driver;
    this.safely(n, () => driver.start());
    this.scheduleTick(n, incarnation, this.prng.int(GOSSIP_TICK_MS));
  }

  private safely(n: SimNode, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.violations.push({ code: 'HALT', message: `node ${n.id} halted: ${(e as Error).message}` });
      n.up = false;
    }
  }

  private scheduleTick(n: SimNode, incarnation: number, inMs: number): void {
    this.queue.push({
      t: this.now + inMs,
      seq: this.queue.nextSeq(),
      kind: 'timer',
      node: n.id,
      incarnation,
      fire: () => {
        this.safely(n, () => n.driver.input({ type: 'gossipTick' }));
        this.scheduleTick(n, incarnation, GOSSIP_TICK_MS);
      },
    });
  }

  private onCommitted(n: SimNode, block: Block, commit: Commit, root: string): void {
    n.heightSinceMs = this.now;
    if (!n.honest) return;
    const h = block.header.height;
    const hash = toHex(blockHash(block.header));
    const prior = this.committed.get(h);
    if (prior === undefined) {
      this.committed.set(h, { hash, root, proposer: toHex(block.header.proposer), round: commit.round });
      return;
    }
    if (prior.hash !== hash) {
      this.violations.push({
        code: 'SAFETY',
        message: `height ${h}: node ${n.id} committed ${hash.slice(0, 12)}, another honest node ${prior.hash.slice(0, 12)}`,
      });
    } else if (prior.root !== root) {
      this.violations.push({
        code: 'STATE_ROOT',
        message: `height ${h}: node ${n.id} has state root ${root.slice(0, 12)}, others ${prior.root.slice(0, 12)}`,
      });
    }
  }

  // ---- network ----

  private linkUp(from: number, to: number): boolean {
    const a = this.nodes[from]!;
    const b = this.nodes[to]!;
    if (!a.up || !b.up) return false;
    return this.partition === null || this.partition[from] === this.partition[to];
  }

  private send(from: number, to: number, msg: NetMsg): void {
    const f = this.opts.faults;
    if (!this.linkUp(from, to)) return;
    if (this.prng.chance(f.lossPerMillion)) return;
    const copies = this.prng.chance(f.duplicatePerMillion) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      this.messages++;
      this.queue.push({
        t: this.now + this.prng.range(f.delayMinMs, f.delayMaxMs),
        seq: this.queue.nextSeq(),
        kind: 'deliver',
        to,
        from,
        msg,
      });
    }
  }

  private broadcastFrom(n: SimNode, msg: ConsensusMessage): void {
    for (const other of this.nodes) if (other.id !== n.id) this.send(n.id, other.id, { kind: 'consensus', msg });
    if (n.behaviour === 'doubleSign' && msg.kind === 'vote' && msg.vote.body.height >= this.opts.byzantineFromHeight) {
      // A conflicting vote for the same height, round and type, sent to everybody: honest nodes see both.
      const conflicting = this.conflictingVote(n, msg.vote);
      for (const other of this.nodes)
        if (other.id !== n.id)
          this.send(n.id, other.id, { kind: 'consensus', msg: { kind: 'vote', vote: conflicting } });
    }
  }

  private conflictingVote(n: SimNode, vote: Vote): Vote {
    const fake = sha256(vote.signature, Uint8Array.of(vote.body.type));
    const body = { ...vote.body, blockHash: vote.body.blockHash.length === 0 ? fake : new Uint8Array(0) };
    return { body, signature: sign(signingBytes('vote', encode(VoteBodySchema, body)), n.keyPair) };
  }

  private deliver(to: SimNode, from: number, msg: NetMsg): void {
    if (!to.up) return;
    switch (msg.kind) {
      case 'consensus': {
        const h = msg.msg.kind === 'evidence' ? 0n : messageHeight(msg.msg);
        const behind = h > to.engine.height + 1n || (h === to.engine.height + 1n && this.now - to.heightSinceMs > 1000);
        if (behind && this.now - to.lastSyncRequestMs > 200) {
          to.lastSyncRequestMs = this.now;
          this.send(to.id, from, { kind: 'syncRequest', fromHeight: to.engine.height });
        }
        this.safely(to, () => to.driver.deliver(msg.msg));
        return;
      }
      case 'syncRequest': {
        const start = Number(msg.fromHeight) - 1;
        const blocks = to.disk.blocks.slice(start, start + SYNC_BATCH);
        if (blocks.length > 0) this.send(to.id, from, { kind: 'syncResponse', blocks });
        return;
      }
      case 'syncResponse':
        for (const b of msg.blocks) {
          if (b.block.header.height !== to.engine.height) continue;
          this.safely(to, () => to.driver.input({ type: 'syncedBlock', block: b.block, commit: b.commit }));
        }
        return;
    }
  }

  // ---- faults ----

  private applyGroups(groups: number[][]): void {
    // Groups name validator indices; every process of a validator in a group joins it, except that the faces of a
    // twoFaced validator are dealt one per group in order.
    const assign = new Array<number>(this.nodes.length).fill(-1);
    const faceCursor = new Map<number, number>();
    groups.forEach((g, gi) => {
      for (const vi of g) {
        const faces = this.nodes.filter((n) => n.validatorIndex === vi);
        if (faces.length > 1) {
          const c = faceCursor.get(vi) ?? 0;
          faceCursor.set(vi, c + 1);
          const face = faces[c];
          if (face !== undefined) assign[face.id] = gi;
        } else {
          for (const f of faces) assign[f.id] = gi;
        }
      }
    });
    this.partition = assign;
  }

  private scheduleChaos(): void {
    this.queue.push({
      t: this.now + this.prng.range(1000, 4000),
      seq: this.queue.nextSeq(),
      kind: 'control',
      fire: () => this.chaosStep(),
    });
  }

  private chaosStep(): void {
    if (!this.chaosOn) return;
    const c = this.opts.chaos;
    const kind = this.prng.int(2);
    if (kind === 0 && c.partitions && this.partition === null) {
      const groups = 2 + this.prng.int(2);
      this.partition = this.nodes.map(() => this.prng.int(groups));
      this.partitions++;
      const heal = () => {
        this.partition = null;
      };
      this.queue.push({
        t: this.now + this.prng.range(500, 6000),
        seq: this.queue.nextSeq(),
        kind: 'control',
        fire: heal,
      });
    } else if (c.crashes) {
      const victim = this.prng.pick(this.nodes.filter((n) => n.up));
      victim.up = false;
      victim.incarnation++;
      this.crashes++;
      this.queue.push({
        t: this.now + this.prng.range(200, 5000),
        seq: this.queue.nextSeq(),
        kind: 'control',
        fire: () => this.boot(victim),
      });
    }
    this.scheduleChaos();
  }

  /** Ends the chaos phase: heals partitions and restarts every crashed node (the network keeps its delays/loss). */
  heal(): void {
    this.chaosOn = false;
    if (this.opts.fixedPartition === undefined) this.partition = null;
    for (const n of this.nodes) if (!n.up && !this.violations.some((v) => v.code === 'HALT')) this.boot(n);
  }

  minHonestHeight(): bigint {
    let min: bigint | null = null;
    for (const n of this.honestNodes()) {
      const committed = BigInt(n.disk.blocks.length);
      if (min === null || committed < min) min = committed;
    }
    return min ?? 0n;
  }

  /** Runs events until `stop()` is true or the simulated time passes `untilMs`. */
  runUntil(stop: () => boolean, untilMs: number): boolean {
    while (this.queue.size > 0) {
      if (stop()) return true;
      const e = this.queue.pop()!;
      if (e.t > untilMs) {
        this.queue.push(e);
        this.now = untilMs;
        return stop();
      }
      this.now = e.t;
      switch (e.kind) {
        case 'deliver':
          this.deliver(this.nodes[e.to]!, e.from, e.msg);
          break;
        case 'timer': {
          const n = this.nodes[e.node]!;
          if (n.up && n.incarnation === e.incarnation) this.safely(n, e.fire);
          break;
        }
        case 'control':
          e.fire();
          break;
      }
      if (this.violations.some((v) => v.code === 'HALT')) return false;
    }
    return stop();
  }

  /**
   * The standard run: chaos until the honest nodes reach `untilPercent` of `targetHeight`, then heal, then every
   * honest node must reach `targetHeight` within a generous simulated deadline (liveness after healing).
   */
  run(targetHeight: bigint): ClusterReport {
    const chaosTarget = (targetHeight * BigInt(this.opts.chaos.untilPercent)) / 100n;
    const perHeightMs = 4000;
    if (this.chaosOn) {
      this.runUntil(
        () => this.minHonestHeight() >= chaosTarget || this.violations.length > 0,
        this.now + Number(chaosTarget) * perHeightMs + 600_000,
      );
      this.heal();
    }
    if (this.violations.length === 0) {
      const remaining = Number(targetHeight - this.minHonestHeight());
      const ok = this.runUntil(
        () => this.minHonestHeight() >= targetHeight || this.violations.length > 0,
        this.now + remaining * perHeightMs + 120_000,
      );
      if (!ok && this.violations.length === 0) {
        this.violations.push({
          code: 'LIVENESS',
          message: `after healing, honest nodes stopped at height ${this.minHonestHeight()} (target ${targetHeight})`,
        });
      }
    }
    return this.report();
  }

  report(): ClusterReport {
    const proposerCounts = new Map<string, number>();
    let roundsAboveZero = 0;
    for (const c of this.committed.values()) {
      proposerCounts.set(c.proposer, (proposerCounts.get(c.proposer) ?? 0) + 1);
      if (c.round > 0) roundsAboveZero++;
    }
    return {
      seed: this.opts.seed,
      violations: this.violations.slice(),
      minHonestHeight: this.minHonestHeight(),
      proposerCounts,
      roundsAboveZero,
      messages: this.messages,
      crashes: this.crashes,
      partitions: this.partitions,
      simTimeMs: this.now,
    };
  }
}
