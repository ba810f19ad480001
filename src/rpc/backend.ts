// What the RPC server needs from the node: read access to the chain, tx submission and the stream of commits.
// The node implements it (src/node/node.ts); tests may hand in a fake. The RPC imports nothing from src/node.
import type { Block, Tx } from '../core/types.js';
import type { KvReader } from '../state/kv.js';
import type { Receipt, VmEvent } from '../vm/types.js';

/** Everything a subscriber learns about one committed block. */
export interface CommittedBlock {
  height: bigint;
  hash: Uint8Array;
  block: Block;
  txs: { hash: Uint8Array; index: number; tx: Tx; receipt: Receipt }[];
  /** Events of the begin-block step (installments falling due, delinquency alerts, slashing). */
  beginEvents: VmEvent[];
  endEvents: VmEvent[];
}

export interface StoredTx {
  height: bigint;
  index: number;
  tx: Uint8Array;
  receipt: Uint8Array;
}

export interface RpcBackend {
  readonly chainId: string;
  readonly genesisTimeMs: bigint;
  /** This node's validator address, null without a validator key. */
  readonly validatorAddress: Uint8Array | null;
  readonly version: string;
  height(): bigint;
  stateRoot(): Uint8Array;
  /** Committed state as of height(). */
  state(): KvReader;
  latest(): { hash: Uint8Array; timeMs: bigint } | null;
  getBlock(height: bigint): Promise<Uint8Array | null>;
  getBlockByHash(hash: Uint8Array): Promise<Uint8Array | null>;
  getCommit(height: bigint): Promise<Uint8Array | null>;
  getTx(hash: Uint8Array): Promise<StoredTx | null>;
  /** A proof for one key against the state root of the returned height. */
  getProof(key: Uint8Array): Promise<{ value: Uint8Array | null; proof: Uint8Array; root: Uint8Array; height: bigint }>;
  /** Admits a tx to the mempool; throws MempoolError on refusal, RpcFailure(UNAVAILABLE) while stopping. */
  submitTx(txBytes: Uint8Array): Promise<{ hash: Uint8Array; hashHex: string }>;
  mempoolStats(): { size: number; bytes: number };
  /** True while a tx with this hash waits in the mempool. */
  isPending(hashHex: string): boolean;
  /** Calls `listener` after each block commits (after the store write). Returns the unsubscribe function. */
  onBlock(listener: (b: CommittedBlock) => void): () => void;
}
