// Performs the engine's effects with injected network, timers, clock, signer store and application.
//
// The one place that turns effects into actions, shared by the real node and the simulator, so both run the same
// ordering rules: effects in order; a sign state is saved (synchronously, durably) before the broadcast after it;
// answers from the application (blockBuilt, blockValidated, finalized) are fed back as inputs, FIFO.
import { equalBytes, toHex } from '../core/bytes.js';
import type { Block, Commit } from '../core/types.js';
import type { Application, FinalizeBlockResult } from './app.js';
import type { ConsensusEngine, EngineEffect, EngineInput } from './engine.js';
import type { ConsensusMessage } from './messages.js';
import type { SignStateStore } from './signer-guard.js';
import { ConsensusError } from './errors.js';

export interface ConsensusNetwork {
  broadcast(msg: ConsensusMessage): void;
}

export interface TimerService {
  /** Calls `fire` once after `durationMs` (real node: a host timer; simulator: its event queue). */
  schedule(durationMs: number, fire: () => void): void;
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
}

export class ConsensusDriver {
  private readonly deps: DriverDeps;
  private readonly queue: EngineInput[] = [];
  private draining = false;
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

  start(): void {
    try {
      this.perform(this.deps.engine.start(this.deps.clock.nowMs()));
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
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0 && this.halted === null) {
        const next = this.queue.shift()!;
        this.perform(this.deps.engine.step(next, this.deps.clock.nowMs()));
      }
    } catch (e) {
      // A failed fsync or a diverging state root: stop rather than sign or commit anything further.
      this.halted = e as Error;
      throw e;
    } finally {
      this.draining = false;
    }
  }

  private perform(effects: EngineEffect[]): void {
    const d = this.deps;
    for (const e of effects) {
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
          d.timers.schedule(e.durationMs, () => this.input({ type: 'timeout', height, round, step }));
          break;
        }
        case 'buildBlock':
          this.queue.push({ type: 'blockBuilt', height: e.request.height, round: e.request.round, block: d.app.prepareProposal(e.request) });
          break;
        case 'validateBlock': {
          const r = d.app.processProposal(e.block);
          this.queue.push(r.valid
            ? { type: 'blockValidated', height: e.height, blockHash: e.blockHash, valid: true }
            : { type: 'blockValidated', height: e.height, blockHash: e.blockHash, valid: false, reason: r.reason });
          break;
        }
        case 'decide': {
          const result = d.app.finalizeBlock(e.block, e.commit, e.misbehaviour);
          if (!equalBytes(result.stateRoot, e.block.header.stateRoot)) {
            throw new ConsensusError('STATE_ROOT_MISMATCH', `block ${e.height}: executed state root ${toHex(result.stateRoot)} differs from the header's`, {
              height: e.height.toString(),
            });
          }
          d.onCommitted?.(e.block, e.commit, result);
          this.queue.push({ type: 'finalized', height: e.height, validatorUpdates: result.validatorUpdates });
          break;
        }
        case 'rejected':
        case 'signRefused':
          d.onNotice?.(e);
          break;
      }
    }
  }
}
