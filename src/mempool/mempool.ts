// The mempool: admits signed txs (decode, size, chain, signature once, nonce window, caps), orders them by sender
// nonce, reaps them fairly for a block, and forgets them when a block commits them or makes them invalid.
import { decode } from '../core/codec.js';
import { toHex } from '../core/bytes.js';
import { CodecError } from '../core/errors.js';
import { addressOf } from '../core/keys.js';
import { TxSchema, txHash, verifyTxSignature, type Tx } from '../core/types.js';
import { loadNonce } from '../vm/vm.js';
import type { KvReader } from '../state/kv.js';
import { MempoolError } from './errors.js';

export interface MempoolOptions {
  chainId: string;
  /** Largest encoded tx accepted, bytes (at most the protocol's MAX_TX_BYTES). */
  maxTxBytes: number;
  /** Most txs waiting in total. */
  maxTxs: number;
  /** Most bytes of encoded txs waiting in total. */
  maxBytes: number;
  /** Most txs waiting per sender. */
  maxTxsPerSender: number;
  /** Most bytes waiting per sender. */
  maxBytesPerSender: number;
  /** A tx's nonce must be >= the account nonce and < account nonce + nonceWindow. */
  nonceWindow: number;
  /** A tx whose gas limit exceeds this could never be included in a block. */
  blockGasLimit: bigint;
}

export interface MempoolDeps {
  /** Committed state (account nonces are read from it). */
  state: () => KvReader;
  /** True when a tx with this hash is in a committed block (the tx index). Only asked on the refusal path. */
  isCommitted: (hash: Uint8Array) => boolean | Promise<boolean>;
  /** The signature check; defaults to the native strict ed25519 verify. Injected so benchmarks can count calls. */
  verifySignature?: (tx: Tx) => boolean;
}

/** A tx waiting in the mempool. Its signature has been verified. */
export interface MempoolEntry {
  readonly hash: Uint8Array;
  readonly hashHex: string;
  readonly bytes: Uint8Array;
  readonly tx: Tx;
  /** Sender address, hex. */
  readonly sender: string;
  readonly nonce: bigint;
  readonly gasLimit: bigint;
  /** Admission order, for fairness between senders. */
  readonly seq: number;
}

interface SenderQueue {
  /** nonce (decimal) -> entry. */
  readonly byNonce: Map<bigint, MempoolEntry>;
  bytes: number;
  /** Lowest admission seq among its txs: senders are served in order of their oldest waiting tx. */
  firstSeq: number;
}

export interface ReapLimits {
  /** Sum of the reaped txs' gas limits stays <= maxGas, so the block's gas cannot exceed it. */
  maxGas: bigint;
  maxTxs: number;
  maxBytes: number;
}

export interface AdmitResult {
  hash: Uint8Array;
  hashHex: string;
  entry: MempoolEntry;
}

export class Mempool {
  private readonly entries = new Map<string, MempoolEntry>();
  private readonly senders = new Map<string, SenderQueue>();
  private totalBytes = 0;
  private seq = 0;
  private readonly verifySignature: (tx: Tx) => boolean;

  constructor(
    private readonly opts: MempoolOptions,
    private readonly deps: MempoolDeps,
  ) {
    if (opts.nonceWindow < 1) throw new RangeError('nonceWindow must be at least 1');
    this.verifySignature = deps.verifySignature ?? verifyTxSignature;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  has(hashHex: string): boolean {
    return this.entries.has(hashHex);
  }

  get(hashHex: string): MempoolEntry | undefined {
    return this.entries.get(hashHex);
  }

  /** True when this exact tx (by hash) had its signature verified on admission: block execution skips the check. */
  isVerified(hash: Uint8Array): boolean {
    return this.entries.has(toHex(hash));
  }

  /**
   * Admits one encoded signed tx or throws a MempoolError. Every decision is taken synchronously, so admissions
   * and block commits never interleave; only telling a replay (ALREADY_COMMITTED) from a stale nonce may wait
   * for the tx index.
   */
  async add(txBytes: Uint8Array): Promise<AdmitResult> {
    const checked = this.check(txBytes);
    if ('refusal' in checked) {
      const { refusal } = checked;
      if (refusal.code === 'NONCE_TOO_LOW' && checked.hash && (await this.deps.isCommitted(checked.hash))) {
        throw new MempoolError(
          'ALREADY_COMMITTED',
          'this tx is already committed in a block (a replay)',
          refusal.details,
        );
      }
      throw refusal;
    }
    return checked;
  }

  private check(txBytes: Uint8Array): AdmitResult | { refusal: MempoolError; hash?: Uint8Array } {
    const { opts } = this;
    if (txBytes.length > opts.maxTxBytes) {
      return {
        refusal: new MempoolError('OVERSIZE', `tx is ${txBytes.length} bytes, the maximum is ${opts.maxTxBytes}`, {
          bytes: txBytes.length,
          max: opts.maxTxBytes,
        }),
      };
    }
    let tx: Tx;
    try {
      tx = decode(TxSchema, txBytes, opts.maxTxBytes);
    } catch (e) {
      if (e instanceof CodecError)
        return { refusal: new MempoolError('MALFORMED', `tx does not decode: ${e.message}`, { field: e.field }) };
      throw e;
    }
    const hash = txHash(txBytes);
    const hashHex = toHex(hash);
    if (this.entries.has(hashHex))
      return { refusal: new MempoolError('DUPLICATE', 'this tx is already waiting in the mempool', { hash: hashHex }) };
    const { body } = tx;
    if (body.chainId !== opts.chainId) {
      return {
        refusal: new MempoolError(
          'WRONG_CHAIN',
          `tx is for chain "${body.chainId}", this node runs "${opts.chainId}"`,
          { chainId: body.chainId },
        ),
      };
    }
    if (body.gasLimit > opts.blockGasLimit) {
      return {
        refusal: new MempoolError(
          'GAS_LIMIT_TOO_HIGH',
          `gas limit ${body.gasLimit} exceeds the block gas limit ${opts.blockGasLimit}`,
          { gasLimit: body.gasLimit.toString() },
        ),
      };
    }
    const senderAddress = addressOf(body.sender);
    const sender = toHex(senderAddress);
    const accountNonce = loadNonce(this.deps.state(), senderAddress);
    if (body.nonce < accountNonce) {
      return {
        refusal: new MempoolError(
          'NONCE_TOO_LOW',
          `nonce ${body.nonce} is already used; the account's next nonce is ${accountNonce}`,
          { nonce: body.nonce.toString(), expected: accountNonce.toString() },
        ),
        hash,
      };
    }
    const windowEnd = accountNonce + BigInt(opts.nonceWindow);
    if (body.nonce >= windowEnd) {
      return {
        refusal: new MempoolError(
          'NONCE_TOO_HIGH',
          `nonce ${body.nonce} is too far ahead; the account's next nonce is ${accountNonce} and at most ${opts.nonceWindow} may wait`,
          { nonce: body.nonce.toString(), expected: accountNonce.toString() },
        ),
      };
    }
    const queue = this.senders.get(sender);
    if (queue?.byNonce.has(body.nonce)) {
      return {
        refusal: new MempoolError(
          'NONCE_TAKEN',
          `another tx of this sender with nonce ${body.nonce} is already waiting`,
          { nonce: body.nonce.toString() },
        ),
      };
    }
    if (
      queue &&
      (queue.byNonce.size >= opts.maxTxsPerSender || queue.bytes + txBytes.length > opts.maxBytesPerSender)
    ) {
      return {
        refusal: new MempoolError(
          'SENDER_FULL',
          `this sender already has ${queue.byNonce.size} txs (${queue.bytes} bytes) waiting, the cap is ${opts.maxTxsPerSender} txs or ${opts.maxBytesPerSender} bytes; retry after the next block`,
          { sender },
        ),
      };
    }
    if (this.entries.size >= opts.maxTxs || this.totalBytes + txBytes.length > opts.maxBytes) {
      return {
        refusal: new MempoolError(
          'MEMPOOL_FULL',
          `mempool full: ${this.entries.size} txs, ${this.totalBytes} bytes waiting (caps ${opts.maxTxs} txs, ${opts.maxBytes} bytes); retry after the next block`,
          {},
        ),
      };
    }
    // Signature last: it is the expensive check, and everything above refuses cheaply.
    if (!this.verifySignature(tx))
      return { refusal: new MempoolError('BAD_SIGNATURE', 'the signature does not verify against the sender key', {}) };

    const entry: MempoolEntry = {
      hash,
      hashHex,
      bytes: txBytes,
      tx,
      sender,
      nonce: body.nonce,
      gasLimit: body.gasLimit,
      seq: this.seq++,
    };
    this.insert(entry);
    return { hash, hashHex, entry };
  }

  private insert(e: MempoolEntry): void {
    let q = this.senders.get(e.sender);
    if (!q) {
      q = { byNonce: new Map(), bytes: 0, firstSeq: e.seq };
      this.senders.set(e.sender, q);
    }
    q.byNonce.set(e.nonce, e);
    q.bytes += e.bytes.length;
    this.entries.set(e.hashHex, e);
    this.totalBytes += e.bytes.length;
  }

  private remove(e: MempoolEntry): void {
    if (!this.entries.delete(e.hashHex)) return;
    this.totalBytes -= e.bytes.length;
    const q = this.senders.get(e.sender);
    if (!q) return;
    q.byNonce.delete(e.nonce);
    q.bytes -= e.bytes.length;
    if (q.byNonce.size === 0) this.senders.delete(e.sender);
    else if (e.seq === q.firstSeq) q.firstSeq = Math.min(...[...q.byNonce.values()].map((x) => x.seq));
  }

  /**
   * The txs for the next block: per sender only the run of consecutive nonces from its account nonce (a tx after
   * a gap could not execute), senders served round-robin in order of their oldest waiting tx, until the gas,
   * count or byte limit is reached. Does not remove anything: `update` does when the block commits.
   */
  reap(limits: ReapLimits): MempoolEntry[] {
    const state = this.deps.state();
    const cursors: { q: SenderQueue; next: bigint; done: boolean }[] = [...this.senders.entries()]
      .sort((a, b) => a[1].firstSeq - b[1].firstSeq)
      .map(([sender, q]) => ({ q, next: loadNonce(state, addressFromHex(sender)), done: false }));
    const out: MempoolEntry[] = [];
    let gas = 0n;
    let bytes = 0;
    let active = cursors.length;
    while (active > 0 && out.length < limits.maxTxs) {
      active = 0;
      for (const c of cursors) {
        if (c.done) continue;
        if (out.length >= limits.maxTxs) break;
        const e = c.q.byNonce.get(c.next);
        // A sender whose next tx does not fit stops here: its later nonces depend on it.
        if (!e || gas + e.gasLimit > limits.maxGas || bytes + e.bytes.length > limits.maxBytes) {
          c.done = true;
          continue;
        }
        out.push(e);
        gas += e.gasLimit;
        bytes += e.bytes.length;
        c.next += 1n;
        active++;
      }
    }
    return out;
  }

  /**
   * After a block commits: its txs leave, and every waiting tx is rechecked against the new state (a nonce now
   * below the account nonce can never execute and is dropped). Returns the hashes dropped by the recheck.
   */
  update(committedHashes: readonly Uint8Array[]): string[] {
    for (const h of committedHashes) {
      const e = this.entries.get(toHex(h));
      if (e) this.remove(e);
    }
    const state = this.deps.state();
    const dropped: string[] = [];
    for (const [sender, q] of [...this.senders.entries()]) {
      const accountNonce = loadNonce(state, addressFromHex(sender));
      for (const e of [...q.byNonce.values()]) {
        if (e.nonce < accountNonce) {
          this.remove(e);
          dropped.push(e.hashHex);
        }
      }
    }
    return dropped;
  }

  /** Waiting txs of one sender in nonce order (for inspection and tests). */
  pendingOf(senderHex: string): MempoolEntry[] {
    const q = this.senders.get(senderHex);
    return q ? [...q.byNonce.values()].sort((a, b) => (a.nonce < b.nonce ? -1 : a.nonce > b.nonce ? 1 : 0)) : [];
  }
}

function addressFromHex(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h, 'hex'));
}
