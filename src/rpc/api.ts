// The JSON-RPC contract: every method's params and result types, the error codes, and the JSON encodings.
//
// Shared by the server (src/rpc/server.ts) and the typed client (src/client). Pure types and small pure helpers
// only, so the client can import it without pulling in the node.
//
// JSON encodings (docs/rpc.md, "Encodings"):
// - bigint (u64 amounts, heights, nonces, times in ms, loan ids) -> decimal string, e.g. "1000000"
// - bytes (tx bytes, hashes, keys, signatures, state keys and values) -> lowercase hex without 0x
//   (the server also accepts 0x-prefixed or uppercase hex in params)
// - address -> 40 lowercase hex characters (20 bytes)
// - small counts (offset, limit, index, round, timeoutMs) -> JSON numbers
import type { MempoolErrorCode } from '../mempool/errors.js';

export type { MempoolErrorCode };

/** Lowercase hex, no 0x prefix. */
export type Hex = string;
/** A bigint as a decimal string. */
export type Dec = string;
/** 20-byte account address as 40 lowercase hex characters. */
export type AddressHex = string;

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

// ---------------------------------------------------------------- encodings

export function decOf(n: bigint): Dec {
  return n.toString(10);
}

/** Parses a decimal string (no sign, no exponent) into a bigint; null if it is not one. */
export function parseDec(s: unknown): bigint | null {
  if (typeof s !== 'string' || !/^(0|[1-9][0-9]{0,77})$/.test(s)) return null;
  return BigInt(s);
}

// ---------------------------------------------------------------- shared result shapes

export interface JsonEvent {
  module: string;
  type: string;
  attrs: Record<string, string>;
}

export interface JsonReceipt {
  txHash: Hex;
  /** 'OK' or the failing module's code, e.g. 'asset.INSUFFICIENT_FUNDS'. */
  code: string;
  message: string;
  gasUsed: Dec;
  events: JsonEvent[];
}

/** A decoded signed tx. */
export interface JsonTx {
  hash: Hex;
  chainId: string;
  /** Sender public key (32 bytes). */
  sender: Hex;
  senderAddress: AddressHex;
  nonce: Dec;
  gasLimit: Dec;
  module: string;
  op: string;
  /** The op's arguments, encoded with the op's schema (canonical msgpack). */
  args: Hex;
  signature: Hex;
}

export interface JsonHeader {
  chainId: string;
  height: Dec;
  timeMs: Dec;
  prevHash: Hex;
  txRoot: Hex;
  stateRoot: Hex;
  resultsRoot: Hex;
  validatorsHash: Hex;
  nextValidatorsHash: Hex;
  lastCommitHash: Hex;
  evidenceRoot: Hex;
  proposer: AddressHex;
  gasUsed: Dec;
}

export interface JsonCommitSig {
  validator: AddressHex;
  /** ed25519 signature over the precommit VoteBody {chainId, type 2, height, round, blockHash, validator}. */
  signature: Hex;
}

export interface JsonCommit {
  height: Dec;
  round: number;
  blockHash: Hex;
  signatures: JsonCommitSig[];
}

export interface JsonBlock {
  hash: Hex;
  header: JsonHeader;
  txs: JsonTx[];
  evidenceCount: number;
  lastCommit: JsonCommit | null;
  /** The whole block, canonically encoded (what the header's hash and roots commit to). */
  raw: Hex;
}

/** A page of a list: `offset` and `limit` echo the request (limit clamped to the server's maximum). */
export interface Page<T> {
  items: T[];
  offset: number;
  limit: number;
  /** Number of items in the whole list. */
  total: number;
}

export interface PageParams {
  /** Default 0. */
  offset?: number;
  /** Default 50; values above the server's maximum (config rpc.maxPageLimit, default 100) are clamped. */
  limit?: number;
}

// ---------------------------------------------------------------- module views (JSON-ready, produced by the VM)

/** Results of the VM modules' `views`. Their fields are documented in docs/vm.md; the RPC passes them through. */
export type MemberView = JsonObject;
export interface ValidatorView {
  address: AddressHex;
  publicKey: Hex;
  memberId: string;
  stake: Dec;
  /** Voting power: the stake while active, "0" while jailed. */
  power: Dec;
  jailedUntilMs: Dec | null;
  [k: string]: JsonValue;
}
export type CreditView = JsonObject;
export type ProductView = JsonObject;
export type LoanView = JsonObject;

export interface AccountView {
  address: AddressHex;
  /** The next nonce this account must use. */
  nonce: Dec;
  balances: { asset: string; amount: Dec }[];
  [k: string]: JsonValue;
}

export interface VehicleView {
  vin: string;
  make: string;
  model: string;
  modelYear: number;
  energy: 'fuel' | 'newEnergy';
  use: 'private' | 'commercial';
  condition: 'new' | 'used';
  status: 'active' | 'scrapped' | 'seized' | 'stolen';
  owner: AddressHex;
  appraisal: { asset: string; amount: Dec; by: AddressHex; atMs: Dec } | null;
  lien: { loanId: Dec; lender: AddressHex; registeredAtMs: Dec } | null;
  [k: string]: JsonValue;
}

// ---------------------------------------------------------------- method params and results

export interface TxSubmitParams {
  /** The encoded signed tx (encodeTx). */
  tx: Hex;
  /** Wait until the tx is committed and return its receipt. Default false. */
  wait?: boolean;
  /** How long to wait when `wait` is true; default and maximum from config (rpc.submitTimeoutMs, 30000). */
  timeoutMs?: number;
}

export interface TxCommitted {
  height: Dec;
  index: number;
  receipt: JsonReceipt;
}

export interface TxSubmitResult {
  hash: Hex;
  /** Present when `wait` was true and the tx committed in time. */
  committed?: TxCommitted;
}

export interface TxGetParams {
  hash: Hex;
}

export interface TxGetResult {
  hash: Hex;
  height: Dec;
  index: number;
  tx: JsonTx;
  receipt: JsonReceipt;
}

export interface ChainStatusResult {
  chainId: string;
  /** Last committed height ("0" before the first block; genesis is applied at height 0). */
  height: Dec;
  latestBlockHash: Hex | null;
  latestBlockTimeMs: Dec | null;
  /** State root after the last committed block. */
  stateRoot: Hex;
  genesisTimeMs: Dec;
  /** This node's validator address, null when it runs without a validator key. */
  validator: AddressHex | null;
  mempool: { size: number; bytes: number };
  version: string;
}

export type ChainGetBlockParams = { height: Dec | number } | { hash: Hex };
export type ChainGetBlockResult = JsonBlock;

export interface ChainGetCommitParams {
  height: Dec | number;
}
export type ChainGetCommitResult = JsonCommit;

export interface StateGetParams {
  /** The raw state key, e.g. hex of "asset/bal/CNY/<address hex>". */
  key: Hex;
}

export interface StateGetResult {
  key: Hex;
  /** null when the key is absent. */
  value: Hex | null;
  /** The height whose state was read. */
  height: Dec;
}

export interface StateGetProofParams {
  key: Hex;
}

export interface StateGetProofResult {
  key: Hex;
  value: Hex | null;
  height: Dec;
  /** The state root the proof is against (the header's stateRoot at `height`). */
  root: Hex;
  /** The proof, canonically encoded by src/state (decode and check with its `verifyProof`). */
  proof: Hex;
}

export interface ValidatorListResult {
  validators: ValidatorView[];
  unbonding: { address: AddressHex; amount: Dec; completeAtMs: Dec }[];
  totalPower: Dec;
}

export type MemberListParams = PageParams;
export type MemberListResult = Page<MemberView>;

export interface AccountGetParams {
  address: AddressHex;
}
export type AccountGetResult = AccountView;

export interface VehicleGetParams {
  vin: string;
}
export type VehicleGetResult = VehicleView;

export interface CreditGetParams {
  address: AddressHex;
}
export type CreditGetResult = CreditView;

export interface ProductListParams extends PageParams {
  lender?: AddressHex;
}
export type ProductListResult = Page<ProductView>;

export interface LoanGetParams {
  id: Dec | number;
}
export type LoanGetResult = LoanView;

export interface LoanListByBorrowerParams extends PageParams {
  address: AddressHex;
}
export type LoanListByBorrowerResult = Page<LoanView>;

export type LoanListDelinquentParams = PageParams;
export type LoanListDelinquentResult = Page<LoanView>;

// ---------------------------------------------------------------- subscriptions

export type SubscriptionTopic = 'blocks' | 'txs' | 'events';

/** Filters: every given field must match. `blocks` takes no filter. */
export interface SubscriptionFilter {
  /** txs and events: the module (e.g. 'loan'). */
  module?: string;
  /** events: the event type (e.g. 'Delinquent'); txs: the op (e.g. 'repay'). */
  type?: string;
  /** txs: the sender address. */
  sender?: AddressHex;
}

export interface SubscribeParams {
  topic: SubscriptionTopic;
  filter?: SubscriptionFilter;
}
/** The subscription id. */
export type SubscribeResult = string;

export interface UnsubscribeParams {
  subscription: string;
}
export type UnsubscribeResult = boolean;

/** `blocks` notification: one per committed block. */
export interface BlockNotification {
  height: Dec;
  hash: Hex;
  timeMs: Dec;
  txCount: number;
  stateRoot: Hex;
  proposer: AddressHex;
}

/** `txs` notification: one per committed tx. */
export interface TxNotification {
  hash: Hex;
  height: Dec;
  index: number;
  senderAddress: AddressHex;
  module: string;
  op: string;
  code: string;
}

/** `events` notification: one per VM event of a committed block. */
export interface EventNotification extends JsonEvent {
  height: Dec;
  /** Where the event came from: begin-block (e.g. delinquency processing), a tx, or end-block. */
  phase: 'beginBlock' | 'tx' | 'endBlock';
  /** The tx that emitted it, null for begin-block and end-block events. */
  txHash: Hex | null;
}

export type NotificationResult = BlockNotification | TxNotification | EventNotification;

/** The server's notification message: `{"jsonrpc":"2.0","method":"subscription","params":{...}}`. */
export interface SubscriptionMessage {
  jsonrpc: '2.0';
  method: 'subscription';
  params: { subscription: string; topic: SubscriptionTopic; result: NotificationResult };
}

// ---------------------------------------------------------------- the method table

export interface RpcMethods {
  tx_submit: { params: TxSubmitParams; result: TxSubmitResult };
  tx_get: { params: TxGetParams; result: TxGetResult };
  chain_status: { params: Record<string, never> | undefined; result: ChainStatusResult };
  chain_getBlock: { params: ChainGetBlockParams; result: ChainGetBlockResult };
  chain_getCommit: { params: ChainGetCommitParams; result: ChainGetCommitResult };
  state_get: { params: StateGetParams; result: StateGetResult };
  state_getProof: { params: StateGetProofParams; result: StateGetProofResult };
  validator_list: { params: Record<string, never> | undefined; result: ValidatorListResult };
  member_list: { params: MemberListParams | undefined; result: MemberListResult };
  account_get: { params: AccountGetParams; result: AccountGetResult };
  vehicle_get: { params: VehicleGetParams; result: VehicleGetResult };
  credit_get: { params: CreditGetParams; result: CreditGetResult };
  product_list: { params: ProductListParams | undefined; result: ProductListResult };
  loan_get: { params: LoanGetParams; result: LoanGetResult };
  loan_listByBorrower: { params: LoanListByBorrowerParams; result: LoanListByBorrowerResult };
  loan_listDelinquent: { params: LoanListDelinquentParams | undefined; result: LoanListDelinquentResult };
  /** WebSocket only. */
  subscribe: { params: SubscribeParams; result: SubscribeResult };
  /** WebSocket only. */
  unsubscribe: { params: UnsubscribeParams; result: UnsubscribeResult };
}

export type RpcMethod = keyof RpcMethods;
export type ParamsOf<M extends RpcMethod> = RpcMethods[M]['params'];
export type ResultOf<M extends RpcMethod> = RpcMethods[M]['result'];

export const RPC_METHODS: readonly RpcMethod[] = [
  'tx_submit',
  'tx_get',
  'chain_status',
  'chain_getBlock',
  'chain_getCommit',
  'state_get',
  'state_getProof',
  'validator_list',
  'member_list',
  'account_get',
  'vehicle_get',
  'credit_get',
  'product_list',
  'loan_get',
  'loan_listByBorrower',
  'loan_listDelinquent',
  'subscribe',
  'unsubscribe',
];

// ---------------------------------------------------------------- errors

export const RPC_ERRORS = {
  /** The body is not valid JSON. */
  PARSE_ERROR: -32700,
  /** Valid JSON but not a JSON-RPC 2.0 request object (or an empty batch). */
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  /** A param is missing or has the wrong type; the message names it. data: { param }. */
  INVALID_PARAMS: -32602,
  /** A bug or I/O failure in the node; the details are in its log. */
  INTERNAL_ERROR: -32603,
  /** The mempool refused the tx. data: { reason: MempoolErrorCode }. */
  TX_REJECTED: -32000,
  /** The mempool (or the sender's share of it) is full: retry later. data: { reason: 'MEMPOOL_FULL' | 'SENDER_FULL' }. */
  MEMPOOL_FULL: -32001,
  /** The block, tx, commit, vehicle, loan, ... does not exist. */
  NOT_FOUND: -32002,
  /** tx_submit with wait: the tx was accepted but did not commit within timeoutMs. data: { hash }. */
  TIMEOUT: -32003,
  /** A server limit was hit: request body, batch size, connections, subscriptions. data: { limit, max }. */
  LIMIT_EXCEEDED: -32004,
  /** The node is shutting down and accepts no new txs. */
  UNAVAILABLE: -32005,
} as const;

export type RpcErrorCode = (typeof RPC_ERRORS)[keyof typeof RPC_ERRORS];

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: JsonObject;
}

export type RpcId = string | number | null;

export interface RpcRequest {
  jsonrpc: '2.0';
  method: string;
  params?: JsonObject | JsonValue[];
  /** Absent for a notification (no response is sent). */
  id?: RpcId;
}

export type RpcResponse =
  | { jsonrpc: '2.0'; id: RpcId; result: JsonValue }
  | { jsonrpc: '2.0'; id: RpcId; error: RpcErrorObject };
