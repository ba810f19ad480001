// Performs the engine's effects with injected network, timers, clock, signer store and application.
//
// The one place that turns effects into actions, shared by the real node and the simulator, so both run the same
// ordering rules: effects in order; a sign state is saved (synchronously, durably) before the broadcast after it;
// answers from the application (blockBuilt, blockValidated, finalized) are fed back as inputs, FIFO.
// `finalizeBlock` may be asynchronous (the node's database batch): the driver then pauses — no input is drained and
// no later effect of the same batch is performed — until the block is durably committed, so nothing is signed or
// broadcast for the next height before the decided block is on disk.
import { equalBytes, toHex } from '../core/bytes.js';
import type { Block, Commit } from '../core/types.js';
import type { Application, FinalizeBlockResult } from './app.js';
import type { ConsensusEngine, EngineEffect, EngineInput } from './engine.js';
import type { ConsensusMessage } from './messages.js';
import type { TimeoutStep } from './params.js';
import type { SignStateStore } from './signer-guard.js';
import { ConsensusError } from './errors.js';

export interface ConsensusNetwork {
  broadcast(msg: ConsensusMessage): void;
}

/** Which engine timeout a timer is for (a host may treat the commit timeout specially, e.g. gate empty blocks). */
export interface TimeoutInfo {
  height: bigint;
  round: number;
  step: TimeoutStep;
}

export interface TimerService {
  /** Calls `fire` once after `durationMs` (real node: a host timer; simulator: its event queue). */
  schedule(durationMs: number, fire: () => void, info: TimeoutInfo): void;
}

export interface Clock {
  nowMs(): bigint;
}

export interface DriverDeps {
  engine: ConsensusEngine;
  app: Application;
  signStore: SignStateStore;
  network: ConsensusNetwork;
  timers: TimerService;
  clock: Clock;
  /** After a block is finalized (committed by the application). */
  onCommitted?(block: Block, commit: Commit, result: FinalizeBlockResult): void;
  /** Refused messages and refused signatures, for logs and peer scoring. */
  onNotice?(effect: Extract<EngineEffect, { type: 'rejected' | 'signRefused' }>): void;
  /**
   * The driver halted outside a caller's stack (an asynchronous finalizeBlock rejected, or the work resumed after it
   * threw). Synchronous halts are also thrown to the caller of start / input / deliver.
   */
  onHalt?(error: Error): void;
}

type DecideEffect = Extract<EngineEffect, { type: 'decide' }>;

function isPromiseLike<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown }).then === 'function';
}

export class ConsensusDriver {
  private readonly deps: DriverDeps;
  private readonly queue: EngineInput[] = [];
  private draining = false;
  /** An asynchronous finalizeBlock is in flight: nothing else is performed until it settles. */
  private paused = false;
  private halted: Error | null = null;

  constructor(deps: DriverDeps) {
    this.deps = deps;
  }

  get engine(): ConsensusEngine {
    return this.deps.engine;
  }

  /** The error that stopped this driver (an invariant violation or a failed durable write), if any. */
  get haltError(): Error | null {
    return this.halted;
  }

  /** True while a decided block is being committed asynchronously. */
  get finalizing(): boolean {
    return this.paused;
  }

  start(): void {
    try {
      this.perform(this.deps.engine.start(this.deps.clock.nowMs()), 0);
    } catch (e) {
      this.halted = e as Error;
      throw e;
    }
    this.drain();
  }

  deliver(msg: ConsensusMessage): void {
    switch (msg.kind) {
      case 'proposal':
        return this.input({ type: 'proposal', proposal: msg.proposal, block: msg.block });
      case 'vote':
        return this.input({ type: 'vote', vote: msg.vote });
      case 'evidence':
        return this.input({ type: 'evidence', evidence: msg.evidence });
    }
  }

  input(input: EngineInput): void {
    if (this.halted !== null) return;
    this.queue.push(input);
    this.drain();
  }

  private drain(): void {
    if (this.draining || this.paused) return;
    this.draining = true;
    try {
      while (this.queue.length > 0 && this.halted === null && !this.paused) {
        const next = this.queue.shift()!;
        this.perform(this.deps.engine.step(next, this.deps.clock.nowMs()), 0);
      }
    } catch (e) {
      // A failed fsync or a diverging state root: stop rather than sign or commit anything further.
      this.halted = e as Error;
      throw e;
    } finally {
      this.draining = false;
    }
  }

  /** Performs `effects` from index `from` on; stops early (paused) at an asynchronous finalize. */
  private perform(effects: EngineEffect[], from: number): void {
    const d = this.deps;
    for (let i = from; i < effects.length; i++) {
      const e = effects[i]!;
      switch (e.type) {
        case 'persistSignState':
          d.signStore.save(e.state);
          break;
        case 'broadcastProposal':
          d.network.broadcast({ kind: 'proposal', proposal: e.proposal, block: e.block });
          break;
        case 'broadcastVote':
          d.network.broadcast({ kind: 'vote', vote: e.vote });
          break;
        case 'broadcastEvidence':
          d.network.broadcast({ kind: 'evidence', evidence: e.evidence });
          break;
        case 'scheduleTimeout': {
          const { height, round, step } = e;
          d.timers.schedule(e.durationMs, () => this.input({ type: 'timeout', height, round, step }), {
            height,
            round,
            step,
          });
          break;
        }
        case 'buildBlock':
          this.queue.push({
            type: 'blockBuilt',
            height: e.request.height,
            round: e.request.round,
            block: d.app.prepareProposal(e.request),
          });
          break;
        case 'validateBlock': {
          const r = d.app.processProposal(e.block);
          this.queue.push(
            r.valid
              ? { type: 'blockValidated', height: e.height, blockHash: e.blockHash, valid: true }
              : { type: 'blockValidated', height: e.height, blockHash: e.blockHash, valid: false, reason: r.reason },
          );
          break;
        }
        case 'decide': {
          const result = d.app.finalizeBlock(e.block, e.commit, e.misbehaviour);
          if (isPromiseLike(result)) {
            this.paused = true;
            result.then(
              (r) => this.resume(e, r, effects, i + 1),
              (err: unknown) => this.haltAsync(err),
            );
            return;
          }
          this.finalized(e, result);
          break;
        }
        case 'rejected':
        case 'signRefused':
          d.onNotice?.(e);
          break;
      }
    }
  }

  private finalized(e: DecideEffect, result: FinalizeBlockResult): void {
    if (!equalBytes(result.stateRoot, e.block.header.stateRoot)) {
      throw new ConsensusError(
        'STATE_ROOT_MISMATCH',
        `block ${e.height}: executed state root ${toHex(result.stateRoot)} differs from the header's`,
        {
          height: e.height.toString(),
        },
      );
    }
    this.deps.onCommitted?.(e.block, e.commit, result);
    this.queue.push({ type: 'finalized', height: e.height, validatorUpdates: result.validatorUpdates });
  }

  /** After an asynchronous finalize: the rest of the decide's batch, in order, then the queued inputs. */
  private resume(e: DecideEffect, result: FinalizeBlockResult, effects: EngineEffect[], next: number): void {
    if (this.halted !== null) return;
    try {
      this.paused = false;
      this.finalized(e, result);
      this.perform(effects, next);
      this.drain();
    } catch (err) {
      this.haltAsync(err);
    }
  }

  private haltAsync(err: unknown): void {
    if (this.halted === null) this.halted = err instanceof Error ? err : new Error(String(err));
    this.deps.onHalt?.(this.halted);
  }
}
