// The typed autochain client: one method per JSON-RPC method, plus building, signing, submitting and awaiting txs
// whose arguments are type-checked against the VM module's own schema.
import { encode, type Infer, type Schema } from '../core/codec.js';
import { addressHex, type KeyPair } from '../core/keys.js';
import { encodeTx, signTx, txHash, type Tx, type TxBody } from '../core/types.js';
import { toHex } from '../core/bytes.js';
import { CodecError } from '../core/errors.js';
import {
  RPC_ERRORS,
  type AccountGetResult,
  type ChainGetBlockResult,
  type ChainGetCommitResult,
  type ChainStatusResult,
  type CreditGetResult,
  type LoanGetResult,
  type LoanListByBorrowerResult,
  type LoanListDelinquentResult,
  type MemberListResult,
  type PageParams,
  type ParamsOf,
  type ProductListParams,
  type ProductListResult,
  type ResultOf,
  type RpcMethod,
  type StateGetProofResult,
  type StateGetResult,
  type SubscriptionFilter,
  type SubscriptionTopic,
  type TxCommitted,
  type TxGetResult,
  type TxSubmitResult,
  type ValidatorListResult,
  type VehicleGetResult,
  type BlockNotification,
  type TxNotification,
  type EventNotification,
  type JsonReceipt,
} from '../rpc/api.js';
import { ClientError, RpcError, TransportError, TxFailedError } from './errors.js';
import { HttpTransport, WsTransport, wsUrlOf, type Transport } from './transport.js';
import { NonceTracker } from './nonce.js';
import { Subscription } from './subscription.js';
import { OP_SCHEMAS, type OpSchemas } from './ops.js';

export const DEFAULT_RPC_URL = 'http://127.0.0.1:26657';
/** Gas limit of a tx unless the caller sets one; far above any single loan operation, far below a block's limit. */
export const DEFAULT_TX_GAS_LIMIT = 10_000_000n;
const EARLY_MAX = 1000;
const EARLY_IDS = 16;
/** How long `tx` waits for a commit by default. */
export const DEFAULT_WAIT_MS = 30_000;

export type ModuleName<S extends OpSchemas> = keyof S & string;
export type OpName<S extends OpSchemas, M extends ModuleName<S>> = keyof S[M] & string;
/** The TypeScript type of an operation's arguments, from the module's args schema. */
export type OpArgs<S extends OpSchemas, M extends ModuleName<S>, O extends OpName<S, M>> = Infer<S[M][O]>;

export interface ClientOptions<S extends OpSchemas = typeof OP_SCHEMAS> {
  /** HTTP JSON-RPC URL of a node (default http://127.0.0.1:26657). */
  url?: string;
  /** The WebSocket URL for subscriptions; default: the HTTP URL with ws: and /ws. */
  wsUrl?: string;
  /** Send requests over the WebSocket instead of HTTP (one connection for everything). */
  useWebSocket?: boolean;
  /** Key that signs txs sent with `tx` / `sendTx`. */
  key?: KeyPair;
  /** Chain id to sign for; asked from the node (chain_status) when absent. */
  chainId?: string;
  gasLimit?: bigint;
  /** Per-request timeout, ms (default 30000). */
  timeoutMs?: number;
  /** Op schemas to encode args with (default: every module of the VM). */
  schemas?: S;
}

export interface SendOptions {
  /** Wait for the commit and return the receipt (default true). */
  wait?: boolean;
  /** How long to wait for the commit, ms (default 30000). */
  timeoutMs?: number;
  /** Throw TxFailedError when the receipt's code is not OK (default true). */
  throwOnFailure?: boolean;
  gasLimit?: bigint;
}

/** A submitted tx: its hash and nonce, and once committed, where and with which receipt. */
export interface SentTx {
  hash: string;
  nonce: bigint;
  committed: TxCommitted | null;
}

/** A committed tx with its receipt. */
export interface CommittedTx extends SentTx {
  committed: TxCommitted;
  receipt: JsonReceipt;
}

export interface SignedTx {
  tx: Tx;
  bytes: Uint8Array;
  hash: string;
}

function heightParam(h: bigint | number | string): string {
  return typeof h === 'string' ? h : h.toString();
}

export class AutochainClient<S extends OpSchemas = typeof OP_SCHEMAS> {
  readonly url: string;
  readonly wsUrl: string;
  private readonly transport: Transport;
  private ws: WsTransport | null = null;
  private readonly subscriptions = new Map<string, Subscription<unknown>>();
  /**
   * Notifications that arrived before `subscribe` returned their id to us (the node may send the first one right
   * after its answer); handed over when the subscription registers. Bounded: EARLY_MAX per id, EARLY_IDS ids.
   */
  private readonly early = new Map<string, unknown[]>();
  private readonly schemas: S;
  private readonly key: KeyPair | null;
  private readonly nonces: NonceTracker | null;
  private chainId: string | null;
  private readonly gasLimit: bigint;
  private readonly timeoutMs: number;

  constructor(opts: ClientOptions<S> = {}) {
    this.url = opts.url ?? DEFAULT_RPC_URL;
    this.wsUrl = opts.wsUrl ?? wsUrlOf(this.url);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.transport = opts.useWebSocket
      ? this.webSocket()
      : new HttpTransport({ url: this.url, timeoutMs: this.timeoutMs });
    this.schemas = opts.schemas ?? (OP_SCHEMAS as unknown as S);
    this.key = opts.key ?? null;
    this.chainId = opts.chainId ?? null;
    this.gasLimit = opts.gasLimit ?? DEFAULT_TX_GAS_LIMIT;
    const key = this.key;
    this.nonces = key === null ? null : new NonceTracker(async () => this.nonceOf(addressHex(key.publicKey)));
  }

  /** The signing key's address (40 hex), or null without a key. */
  get address(): string | null {
    return this.key === null ? null : addressHex(this.key.publicKey);
  }

  // ------------------------------------------------------------ raw calls

  /** Calls any RPC method with its typed params; resolves with its typed result or rejects with RpcError / TransportError. */
  async call<M extends RpcMethod>(
    method: M,
    params: ParamsOf<M>,
    opts: { timeoutMs?: number } = {},
  ): Promise<ResultOf<M>> {
    const transport = method === 'subscribe' || method === 'unsubscribe' ? this.webSocket() : this.transport;
    return (await transport.request(method, params ?? {}, opts)) as ResultOf<M>;
  }

  // ------------------------------------------------------------ one method per RPC method

  status(): Promise<ChainStatusResult> {
    return this.call('chain_status', {});
  }

  /** A block by height or by hash (64 hex). */
  getBlock(at: { height: bigint | number | string } | { hash: string }): Promise<ChainGetBlockResult> {
    return this.call('chain_getBlock', 'hash' in at ? { hash: at.hash } : { height: heightParam(at.height) });
  }

  getCommit(height: bigint | number | string): Promise<ChainGetCommitResult> {
    return this.call('chain_getCommit', { height: heightParam(height) });
  }

  getTx(hash: string): Promise<TxGetResult> {
    return this.call('tx_get', { hash });
  }

  /** Submits an encoded signed tx; with `wait`, resolves once it is committed (result.committed). */
  submitTx(tx: Uint8Array | string, opts: { wait?: boolean; timeoutMs?: number } = {}): Promise<TxSubmitResult> {
    const hex = typeof tx === 'string' ? tx : toHex(tx);
    const params = opts.wait ? { tx: hex, wait: true, timeoutMs: opts.timeoutMs ?? DEFAULT_WAIT_MS } : { tx: hex };
    // The HTTP request must outlive the node's own wait.
    return this.call('tx_submit', params, { timeoutMs: (opts.timeoutMs ?? DEFAULT_WAIT_MS) + this.timeoutMs });
  }

  stateGet(key: Uint8Array | string): Promise<StateGetResult> {
    return this.call('state_get', { key: typeof key === 'string' ? key : toHex(key) });
  }

  stateGetProof(key: Uint8Array | string): Promise<StateGetProofResult> {
    return this.call('state_getProof', { key: typeof key === 'string' ? key : toHex(key) });
  }

  validators(): Promise<ValidatorListResult> {
    return this.call('validator_list', {});
  }

  members(page: PageParams = {}): Promise<MemberListResult> {
    return this.call('member_list', page);
  }

  account(address: string): Promise<AccountGetResult> {
    return this.call('account_get', { address });
  }

  vehicle(vin: string): Promise<VehicleGetResult> {
    return this.call('vehicle_get', { vin });
  }

  credit(address: string): Promise<CreditGetResult> {
    return this.call('credit_get', { address });
  }

  products(params: ProductListParams = {}): Promise<ProductListResult> {
    return this.call('product_list', params);
  }

  loan(id: bigint | number | string): Promise<LoanGetResult> {
    return this.call('loan_get', { id: heightParam(id) });
  }

  loansByBorrower(address: string, page: PageParams = {}): Promise<LoanListByBorrowerResult> {
    return this.call('loan_listByBorrower', { address, ...page });
  }

  delinquentLoans(page: PageParams = {}): Promise<LoanListDelinquentResult> {
    return this.call('loan_listDelinquent', page);
  }

  // ------------------------------------------------------------ subscriptions (WebSocket)

  subscribe(
    topic: 'blocks',
    filter?: SubscriptionFilter,
    onMessage?: (m: BlockNotification) => void,
  ): Promise<Subscription<BlockNotification>>;
  subscribe(
    topic: 'txs',
    filter?: SubscriptionFilter,
    onMessage?: (m: TxNotification) => void,
  ): Promise<Subscription<TxNotification>>;
  subscribe(
    topic: 'events',
    filter?: SubscriptionFilter,
    onMessage?: (m: EventNotification) => void,
  ): Promise<Subscription<EventNotification>>;
  /**
   * Subscribes over the WebSocket. Read notifications with `for await (const m of sub)` or pass `onMessage`;
   * `sub.close()` unsubscribes.
   */
  async subscribe<T>(
    topic: SubscriptionTopic,
    filter?: SubscriptionFilter,
    onMessage?: (m: T) => void,
  ): Promise<Subscription<T>> {
    const params = filter === undefined ? { topic } : { topic, filter };
    const id = await this.call('subscribe', params);
    const sub = new Subscription<T>(
      id,
      topic,
      async () => {
        this.subscriptions.delete(id);
        if (this.ws !== null) await this.call('unsubscribe', { subscription: id }).catch(() => false);
      },
      onMessage,
    );
    this.subscriptions.set(id, sub as Subscription<unknown>);
    for (const m of this.early.get(id) ?? []) sub.push(m);
    this.early.delete(id);
    return sub;
  }

  private webSocket(): WsTransport {
    if (this.ws === null) {
      const ws = new WsTransport(this.wsUrl, { timeoutMs: this.timeoutMs });
      ws.onNotification = (id, result) => this.route(id, result);
      ws.onClose = (reason) => {
        for (const sub of this.subscriptions.values())
          sub.fail(new TransportError('CLOSED', `the WebSocket ${reason}`));
        this.subscriptions.clear();
        this.ws = null;
      };
      this.ws = ws;
    }
    return this.ws;
  }

  private route(id: string, result: unknown): void {
    const sub = this.subscriptions.get(id);
    if (sub !== undefined) {
      sub.push(result);
      return;
    }
    let queue = this.early.get(id);
    if (queue === undefined) {
      if (this.early.size >= EARLY_IDS) return; // not ours or long gone: drop
      queue = [];
      this.early.set(id, queue);
    }
    if (queue.length < EARLY_MAX) queue.push(result);
  }

  // ------------------------------------------------------------ txs

  /** The account's next nonce as the chain knows it. */
  async nonceOf(address: string): Promise<bigint> {
    return BigInt((await this.account(address)).nonce);
  }

  async getChainId(): Promise<string> {
    if (this.chainId === null) this.chainId = (await this.status()).chainId;
    return this.chainId;
  }

  /** Encodes an operation's arguments with its module's schema; a mismatch is a ClientError naming the field. */
  encodeArgs<M extends ModuleName<S>, O extends OpName<S, M>>(module: M, op: O, args: OpArgs<S, M, O>): Uint8Array {
    const schema = this.schemaOf(module, op);
    try {
      return encode(schema, args);
    } catch (e) {
      if (e instanceof CodecError) {
        throw new ClientError('BAD_ARGS', `${module}.${op}: ${e.message}`, { field: e.field });
      }
      throw e;
    }
  }

  private schemaOf(module: string, op: string): Schema<unknown> {
    const ops = (this.schemas as OpSchemas)[module];
    const schema = ops?.[op];
    if (schema === undefined) throw new ClientError('UNKNOWN_OP', `unknown operation ${module}.${op}`);
    return schema;
  }

  /** Builds and signs a tx with an explicit nonce (no network call unless the chain id is unknown). */
  async signTx<M extends ModuleName<S>, O extends OpName<S, M>>(
    module: M,
    op: O,
    args: OpArgs<S, M, O>,
    opts: { nonce: bigint; gasLimit?: bigint },
  ): Promise<SignedTx> {
    return this.signEncoded(module, op, this.encodeArgs(module, op, args), opts.nonce, opts.gasLimit ?? this.gasLimit);
  }

  private async signEncoded(
    module: string,
    op: string,
    args: Uint8Array,
    nonce: bigint,
    gasLimit: bigint,
  ): Promise<SignedTx> {
    const key = this.requireKey();
    const body: TxBody = { chainId: await this.getChainId(), sender: key.publicKey, nonce, gasLimit, module, op, args };
    const tx = signTx(body, key);
    const bytes = encodeTx(tx);
    return { tx, bytes, hash: toHex(txHash(bytes)) };
  }

  /**
   * Signs with the next local nonce, submits, and by default waits for the commit and throws TxFailedError if the
   * operation failed. `client.tx('loan', 'repay', { loanId, amount })` is type-checked against the loan module's
   * repay schema.
   */
  async tx<M extends ModuleName<S>, O extends OpName<S, M>>(
    module: M,
    op: O,
    args: OpArgs<S, M, O>,
    opts?: SendOptions & { wait?: true },
  ): Promise<CommittedTx>;
  async tx<M extends ModuleName<S>, O extends OpName<S, M>>(
    module: M,
    op: O,
    args: OpArgs<S, M, O>,
    opts: SendOptions & { wait: false },
  ): Promise<SentTx>;
  async tx<M extends ModuleName<S>, O extends OpName<S, M>>(
    module: M,
    op: O,
    args: OpArgs<S, M, O>,
    opts: SendOptions = {},
  ): Promise<SentTx> {
    const tracker = this.requireNonces();
    const encoded = this.encodeArgs(module, op, args); // bad args are refused before a nonce is taken
    const nonce = await tracker.take();
    const wait = opts.wait ?? true;
    let signed: SignedTx;
    let result: TxSubmitResult;
    try {
      signed = await this.signEncoded(module, op, encoded, nonce, opts.gasLimit ?? this.gasLimit);
      result = await this.submitTx(signed.bytes, { wait, timeoutMs: opts.timeoutMs ?? DEFAULT_WAIT_MS });
    } catch (e) {
      // Not sent, or refused by the mempool: the nonce was not used, so the chain's count is the truth again.
      // Accepted but not committed in time: the nonce is used (the tx may still commit), so the local count stays.
      if (!(e instanceof RpcError && e.code === RPC_ERRORS.TIMEOUT)) tracker.reset();
      throw e;
    }
    const committed = result.committed ?? null;
    if (committed === null) {
      if (wait)
        throw new ClientError('WAIT_TIMEOUT', `tx ${signed.hash} was accepted but not committed in time`, {
          hash: signed.hash,
        });
      return { hash: signed.hash, nonce, committed: null };
    }
    if (committed.receipt.code !== 'OK' && (opts.throwOnFailure ?? true)) {
      throw new TxFailedError(committed.receipt.code, committed.receipt.message, signed.hash, committed.receipt);
    }
    const out: CommittedTx = { hash: signed.hash, nonce, committed, receipt: committed.receipt };
    return out;
  }

  /**
   * Waits for a tx to be committed by polling tx_get (for txs submitted without `wait`). Resolves with the
   * commit; rejects with ClientError WAIT_TIMEOUT after `timeoutMs`.
   */
  async waitForTx(hash: string, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<TxGetResult> {
    const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_WAIT_MS);
    const intervalMs = opts.intervalMs ?? 200;
    for (;;) {
      try {
        return await this.getTx(hash);
      } catch (e) {
        if (!(e instanceof RpcError && e.code === RPC_ERRORS.NOT_FOUND)) throw e;
      }
      if (Date.now() + intervalMs > deadline) {
        throw new ClientError(
          'WAIT_TIMEOUT',
          `tx ${hash} was not committed within ${opts.timeoutMs ?? DEFAULT_WAIT_MS} ms`,
          { hash },
        );
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** Forgets the locally tracked nonce (the next tx asks the chain). */
  resetNonce(): void {
    this.nonces?.reset();
  }

  private requireKey(): KeyPair {
    if (this.key === null) throw new ClientError('NO_SIGNER', 'this client has no key: pass `key` to sign txs');
    return this.key;
  }

  private requireNonces(): NonceTracker {
    this.requireKey();
    return this.nonces as NonceTracker;
  }

  /** Closes the WebSocket (ending every subscription); HTTP needs no closing. */
  async close(): Promise<void> {
    for (const sub of [...this.subscriptions.values()]) sub.end();
    this.subscriptions.clear();
    await this.transport.close();
    if (this.ws !== null) await this.ws.close();
    this.ws = null;
  }
}
