// The network as consensus and the node see it: the ports p2p offers and needs, and the one-validator loopback.
import type { Block, Commit } from '../core/types.js';
import type { ConsensusNetwork } from '../consensus/driver.js';
import type { ConsensusMessage } from '../consensus/messages.js';
import type { ValidatorSet } from '../consensus/validator-set.js';

/** The engine's view of the network: broadcast (the driver's side) and delivery of peers' messages. */
export interface NodeConsensusNetwork extends ConsensusNetwork {
  /** Registers the one receiver of incoming consensus messages. */
  onMessage(receive: (msg: ConsensusMessage) => void): void;
  close(): void;
}

/**
 * Who may connect and who may author messages, as the chain says at its last committed height (genesis members,
 * admissions and removals voted through the member module, node keys registered by members), plus the config's
 * persistent peers. The node implements it over its committed state; p2p only reads it.
 */
export interface AdmissionSource {
  /** Is this 32-byte ed25519 node public key one that may hold a connection? */
  isAdmittedNodeKey(publicKey: Uint8Array): boolean;
  /** The member organisation a node key belongs to (for `peers` and logs), or null. */
  memberOfNodeKey(publicKey: Uint8Array): string | null;
}

/** What p2p hands txs to and takes txs from; implemented by the node over its Mempool. */
export interface MempoolPort {
  /** Admits a tx that arrived by gossip; returns the reason when refused (p2p scores the sender by it). */
  admitFromPeer(txBytes: Uint8Array): { ok: true } | { ok: false; reason: string; reject: boolean };
}

/** What block sync needs from the node: its committed chain, and where synced blocks go. */
export interface ChainPort {
  /** Last committed height (0 before the first block). */
  height(): bigint;
  /** A committed block with the commit that decided it, or undefined above the tip. */
  committedAt(height: bigint): { block: Block; commit: Commit } | undefined;
  /**
   * The validator set that must sign the commit of block `height`. Known for the next height (tip + 1) only, which
   * is all sync needs since it applies blocks in order; undefined otherwise.
   */
  validatorSetFor(height: bigint): ValidatorSet | undefined;
  /**
   * Hands a verified block (header chained to the tip, commit checked with verifyCommit against validatorSetFor) to
   * consensus as a `syncedBlock` input. The node reports the resulting commit back to sync (its onCommitted).
   */
  deliverSynced(block: Block, commit: Commit): void;
}

/**
 * A one-validator network: what the node broadcasts comes back to it, asynchronously (never inside the driver's
 * own step), as it would from a peer's echo.
 */
export class LoopbackNetwork implements NodeConsensusNetwork {
  private receive: ((msg: ConsensusMessage) => void) | null = null;
  private closed = false;

  broadcast(msg: ConsensusMessage): void {
    if (this.closed) return;
    setImmediate(() => {
      if (!this.closed) this.receive?.(msg);
    });
  }

  onMessage(receive: (msg: ConsensusMessage) => void): void {
    this.receive = receive;
  }

  close(): void {
    this.closed = true;
    this.receive = null;
  }
}
