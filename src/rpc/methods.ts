// The JSON-RPC methods (except subscribe/unsubscribe, which live with the WebSocket connection in server.ts).
//
// Reads go through the VM modules' `views` over the committed state and through the block store; every param is
// validated first, so a bad call gets -32602 naming the param and touches nothing.
import { toHex } from '../core/bytes.js';
import { decode } from '../core/codec.js';
import { decodeBlock, decodeCommit, decodeTx, txHash } from '../core/types.js';
import { MempoolError } from '../mempool/errors.js';
import { ReceiptSchema, receiptFromWire, type Receipt } from '../vm/types.js';
import {
  RPC_ERRORS,
  type ChainStatusResult,
  type Page,
  type StateGetProofResult,
  type StateGetResult,
  type TxGetResult,
  type TxSubmitResult,
  type TxCommitted,
} from './api.js';
import type { CommittedBlock, RpcBackend } from './backend.js';
import { RpcFailure, fromMempoolError, invalidParams, notFound } from './errors.js';
import { blockJson, commitJson, receiptJson, txJson } from './json.js';
import {
  addressParam,
  boolParam,
  hexParam,
  intParam,
  pageParams,
  paramsObject,
  stringParam,
  u64Param,
  type Params,
} from './params.js';
import { VIEWS } from './views.js';

export interface MethodOptions {
  maxTxBytes: number;
  maxPageLimit: number;
  submitTimeoutMs: number;
}

export type Handler = (raw: unknown) => Promise<unknown> | unknown;

const MAX_STATE_KEY_BYTES = 1024;
const VIN_PATTERN = /^[A-Za-z0-9]{1,32}$/;
const LENDER_PATTERN = /^([0-9a-fA-F]{40}|[a-z0-9][a-z0-9-]{0,31})$/;

export function decodeReceiptBytes(b: Uint8Array): Receipt {
  return receiptFromWire(decode(ReceiptSchema, b, 1 << 20));
}

function page<T>(items: T[], total: number, p: { offset: number; limit: number }): Page<T> {
  return { items, offset: p.offset, limit: p.limit, total };
}

type WaitOutcome = TxCommitted | 'timeout' | 'stopped';

/**
 * Resolves when the tx commits, with 'timeout' after timeoutMs, or 'stopped' when the server stops. It listens
 * before the tx is submitted, so a commit cannot slip between submission and waiting.
 */
function waitForCommit(
  backend: RpcBackend,
  hash: Uint8Array,
  timeoutMs: number,
  waiters: Set<() => void>,
): { promise: Promise<WaitOutcome>; cancel(): void } {
  const hashHex = toHex(hash);
  let settle: (v: WaitOutcome) => void = () => {};
  const promise = new Promise<WaitOutcome>((resolve) => {
    settle = resolve;
  });
  const off = backend.onBlock((b: CommittedBlock) => {
    const t = b.txs.find((x) => toHex(x.hash) === hashHex);
    if (t) done({ height: b.height.toString(), index: t.index, receipt: receiptJson(t.receipt) });
  });
  const timer = setTimeout(() => done('timeout'), timeoutMs);
  const onStop = (): void => done('stopped');
  waiters.add(onStop);
  function done(v: WaitOutcome): void {
    clearTimeout(timer);
    off();
    waiters.delete(onStop);
    settle(v);
  }
  return { promise, cancel: () => done('stopped') };
}

export interface Methods {
  handlers: Record<string, Handler>;
  /** Ends every tx_submit still waiting for a commit (the server is stopping). */
  close(): void;
}

export function createMethods(backend: RpcBackend, opts: MethodOptions): Methods {
  const state = () => backend.state();
  const waiters = new Set<() => void>();

  const txSubmit: Handler = async (raw) => {
    const p = paramsObject(raw, ['tx', 'wait', 'timeoutMs']);
    const bytes = hexParam(p, 'tx', { maxBytes: opts.maxTxBytes });
    const wait = boolParam(p, 'wait', false);
    const timeoutMs = intParam(p, 'timeoutMs', 1, opts.submitTimeoutMs, opts.submitTimeoutMs);
    const hash = txHash(bytes);
    const waiter = wait ? waitForCommit(backend, hash, timeoutMs, waiters) : null;
    try {
      await backend.submitTx(bytes);
    } catch (e) {
      waiter?.cancel();
      if (e instanceof MempoolError) throw fromMempoolError(e);
      throw e;
    }
    const result: TxSubmitResult = { hash: toHex(hash) };
    if (!waiter) return result;
    const outcome = await waiter.promise;
    if (outcome === 'timeout') {
      throw new RpcFailure(
        RPC_ERRORS.TIMEOUT,
        `tx ${toHex(hash)} was accepted but not committed within ${timeoutMs} ms; query it with tx_get`,
        { hash: toHex(hash), timeoutMs },
      );
    }
    if (outcome === 'stopped') {
      throw new RpcFailure(
        RPC_ERRORS.UNAVAILABLE,
        `the node is stopping; tx ${toHex(hash)} was accepted but its commit was not seen; query it with tx_get after the restart`,
        { hash: toHex(hash) },
      );
    }
    return { ...result, committed: outcome };
  };

  const txGet: Handler = async (raw) => {
    const p = paramsObject(raw, ['hash']);
    const hash = hexParam(p, 'hash', { bytes: 32 });
    const stored = await backend.getTx(hash);
    if (stored === null) {
      const pending = backend.isPending(toHex(hash));
      throw new RpcFailure(
        RPC_ERRORS.NOT_FOUND,
        pending ? `tx ${toHex(hash)} is waiting in the mempool, not committed yet` : `tx ${toHex(hash)} not found`,
        { hash: toHex(hash), pending },
      );
    }
    const result: TxGetResult = {
      hash: toHex(hash),
      height: stored.height.toString(),
      index: stored.index,
      tx: txJson(decodeTx(stored.tx), hash),
      receipt: receiptJson(decodeReceiptBytes(stored.receipt)),
    };
    return result;
  };

  const chainStatus: Handler = (raw) => {
    paramsObject(raw, []);
    const latest = backend.latest();
    const result: ChainStatusResult = {
      chainId: backend.chainId,
      height: backend.height().toString(),
      latestBlockHash: latest ? toHex(latest.hash) : null,
      latestBlockTimeMs: latest ? latest.timeMs.toString() : null,
      stateRoot: toHex(backend.stateRoot()),
      genesisTimeMs: backend.genesisTimeMs.toString(),
      validator: backend.validatorAddress ? toHex(backend.validatorAddress) : null,
      mempool: backend.mempoolStats(),
      version: backend.version,
    };
    return result;
  };

  const chainGetBlock: Handler = async (raw) => {
    const p = paramsObject(raw, ['height', 'hash']);
    if ((p.height === undefined) === (p.hash === undefined))
      throw invalidParams('height', 'or hash must be given (exactly one of them)');
    let bytes: Uint8Array | null;
    let what: string;
    if (p.hash !== undefined) {
      const hash = hexParam(p, 'hash', { bytes: 32 });
      bytes = await backend.getBlockByHash(hash);
      what = `block ${toHex(hash)}`;
    } else {
      const height = u64Param(p, 'height');
      bytes = height === 0n ? null : await backend.getBlock(height);
      what =
        height === 0n
          ? 'block 0 (genesis has no block; the first block is 1)'
          : `block at height ${height} (last is ${backend.height()})`;
    }
    if (bytes === null) throw notFound(what);
    return blockJson(decodeBlock(bytes), decodeTx, bytes);
  };

  const chainGetCommit: Handler = async (raw) => {
    const p = paramsObject(raw, ['height']);
    const height = u64Param(p, 'height');
    const bytes = height === 0n ? null : await backend.getCommit(height);
    if (bytes === null) throw notFound(`commit at height ${height} (last is ${backend.height()})`);
    return commitJson(decodeCommit(bytes));
  };

  const stateGet: Handler = (raw) => {
    const p = paramsObject(raw, ['key']);
    const key = hexParam(p, 'key', { maxBytes: MAX_STATE_KEY_BYTES });
    const height = backend.height();
    const v = state().get(key);
    const result: StateGetResult = {
      key: toHex(key),
      value: v === undefined ? null : toHex(v),
      height: height.toString(),
    };
    return result;
  };

  const stateGetProof: Handler = async (raw) => {
    const p = paramsObject(raw, ['key']);
    const key = hexParam(p, 'key', { maxBytes: MAX_STATE_KEY_BYTES });
    const r = await backend.getProof(key);
    const result: StateGetProofResult = {
      key: toHex(key),
      value: r.value === null ? null : toHex(r.value),
      height: r.height.toString(),
      root: toHex(r.root),
      proof: toHex(r.proof),
    };
    return result;
  };

  const validatorList: Handler = (raw) => {
    paramsObject(raw, []);
    return VIEWS.listValidators(state());
  };

  const memberList: Handler = (raw) => {
    const p = paramsObject(raw, ['offset', 'limit']);
    const pg = pageParams(p, opts.maxPageLimit);
    const r = VIEWS.listMembers(state(), pg);
    return page(r.members, r.total, pg);
  };

  const accountGet: Handler = (raw) => {
    const p = paramsObject(raw, ['address']);
    return VIEWS.account(state(), addressParam(p, 'address')!);
  };

  const vehicleGet: Handler = (raw) => {
    const p = paramsObject(raw, ['vin']);
    const vin = stringParam(p, 'vin', { max: 32, pattern: VIN_PATTERN, what: 'a VIN (17 letters and digits)' })!;
    const v = VIEWS.getVehicle(state(), vin.toUpperCase());
    if (v === null) throw notFound(`vehicle ${vin.toUpperCase()}`);
    return v;
  };

  const creditGet: Handler = (raw) => {
    const p = paramsObject(raw, ['address']);
    return VIEWS.getCredit(state(), addressParam(p, 'address')!);
  };

  const productList: Handler = (raw) => {
    const p = paramsObject(raw, ['lender', 'offset', 'limit']);
    const lender = stringParam(p, 'lender', {
      max: 40,
      pattern: LENDER_PATTERN,
      what: 'a lender address (40 hex characters) or member id',
      optional: true,
    });
    const pg = pageParams(p, opts.maxPageLimit);
    const r = VIEWS.listProducts(state(), lender === undefined ? pg : { ...pg, lender: lender.toLowerCase() });
    return page(r.items, r.total, pg);
  };

  const loanGet: Handler = (raw) => {
    const p = paramsObject(raw, ['id']);
    const id = u64Param(p, 'id');
    const l = VIEWS.getLoan(state(), id);
    if (l === null) throw notFound(`loan ${id}`);
    return l;
  };

  const loanListByBorrower: Handler = (raw) => {
    const p = paramsObject(raw, ['address', 'offset', 'limit']);
    const address = addressParam(p, 'address')!;
    const pg = pageParams(p, opts.maxPageLimit);
    const r = VIEWS.listLoansByBorrower(state(), address, pg);
    return page(r.items, r.total, pg);
  };

  const loanListDelinquent: Handler = (raw) => {
    const p = paramsObject(raw, ['offset', 'limit']);
    const pg = pageParams(p, opts.maxPageLimit);
    const r = VIEWS.listDelinquent(state(), pg);
    return page(r.items, r.total, pg);
  };

  const handlers: Record<string, Handler> = {
    tx_submit: txSubmit,
    tx_get: txGet,
    chain_status: chainStatus,
    chain_getBlock: chainGetBlock,
    chain_getCommit: chainGetCommit,
    state_get: stateGet,
    state_getProof: stateGetProof,
    validator_list: validatorList,
    member_list: memberList,
    account_get: accountGet,
    vehicle_get: vehicleGet,
    credit_get: creditGet,
    product_list: productList,
    loan_get: loanGet,
    loan_listByBorrower: loanListByBorrower,
    loan_listDelinquent: loanListDelinquent,
  };
  return {
    handlers,
    close() {
      for (const w of [...waiters]) w();
    },
  };
}

export type { Params };
