// The client's typed errors: what the node answered (RpcError), what the network did (TransportError), and a
// committed tx whose operation failed (TxFailedError), so callers can tell them apart by class and code.
import { AutochainError } from '../core/errors.js';

/** Standard JSON-RPC 2.0 error codes; the node's application codes are documented in docs/rpc.md. */
export const JSON_RPC_CODES = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
} as const;

/** The node answered with a JSON-RPC error object: `code` and `data` are exactly what it sent. */
export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;
  readonly method: string;

  constructor(code: number, message: string, data: unknown, method: string) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
    this.method = method;
  }
}

export type TransportErrorCode = 'UNREACHABLE' | 'HTTP_STATUS' | 'BAD_RESPONSE' | 'TIMEOUT' | 'CLOSED';

/** The request did not get a JSON-RPC answer: node down, wrong URL, timeout, or a reply that is not JSON-RPC. */
export class TransportError extends AutochainError<TransportErrorCode> {}

export type ClientErrorCode =
  | 'NO_SIGNER'
  | 'UNKNOWN_OP'
  | 'BAD_ARGS'
  | 'WAIT_TIMEOUT'
  | 'SUBSCRIPTION_OVERFLOW'
  | 'SUBSCRIPTION_ENDED';

/** The client refused to do something before talking to the node (no key, unknown operation, arguments that do not fit). */
export class ClientError extends AutochainError<ClientErrorCode> {}

/** The tx was committed but its operation failed: `code` is the receipt's code, e.g. 'loan.NOT_FOUND'. */
export class TxFailedError extends Error {
  readonly code: string;
  readonly hash: string;
  readonly receipt: unknown;

  constructor(code: string, message: string, hash: string, receipt: unknown) {
    super(message === '' ? code : `${code}: ${message}`);
    this.name = 'TxFailedError';
    this.code = code;
    this.hash = hash;
    this.receipt = receipt;
  }
}
