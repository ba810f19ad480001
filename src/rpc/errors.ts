// RPC failures: a JSON-RPC error code from api.ts, a sentence for people, and optional data.
import { AutochainError } from '../core/errors.js';
import { RPC_ERRORS, type JsonObject, type RpcErrorObject } from './api.js';
import type { MempoolError } from '../mempool/errors.js';

export class RpcFailure extends AutochainError<string> {
  constructor(
    readonly rpcCode: number,
    message: string,
    readonly data?: JsonObject,
  ) {
    super(String(rpcCode), message, data ?? {});
  }

  toJson(): RpcErrorObject {
    return this.data === undefined
      ? { code: this.rpcCode, message: this.message }
      : { code: this.rpcCode, message: this.message, data: this.data };
  }
}

export function invalidParams(param: string, message: string): RpcFailure {
  return new RpcFailure(RPC_ERRORS.INVALID_PARAMS, `invalid params: ${param} ${message}`, { param });
}

export function notFound(what: string): RpcFailure {
  return new RpcFailure(RPC_ERRORS.NOT_FOUND, `${what} not found`);
}

export function limitExceeded(limit: string, max: number, message: string): RpcFailure {
  return new RpcFailure(RPC_ERRORS.LIMIT_EXCEEDED, message, { limit, max });
}

/** Maps a mempool refusal to its RPC error: full -> -32001, anything else -> -32000, with data.reason. */
export function fromMempoolError(e: MempoolError): RpcFailure {
  const full = e.code === 'MEMPOOL_FULL' || e.code === 'SENDER_FULL';
  const data: JsonObject = { reason: e.code };
  for (const [k, v] of Object.entries(e.details)) if (typeof v === 'string' || typeof v === 'number') data[k] = v;
  return new RpcFailure(full ? RPC_ERRORS.MEMPOOL_FULL : RPC_ERRORS.TX_REJECTED, `tx rejected: ${e.message}`, data);
}
