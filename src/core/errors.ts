// Typed errors: every module throws a subclass of AutochainError carrying a code from its own enum.

export class AutochainError<C extends string = string> extends Error {
  readonly code: C;
  readonly details: Record<string, unknown>;

  constructor(code: C, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

export type CodecErrorCode = 'MALFORMED' | 'NON_CANONICAL' | 'WRONG_TYPE' | 'WRONG_ARITY' | 'OVERSIZE' | 'OUT_OF_RANGE';

/** A decoder rejected bytes; `field` names the path of the offending field (e.g. `tx.body.nonce`). */
export class CodecError extends AutochainError<CodecErrorCode> {
  readonly field: string;
  constructor(code: CodecErrorCode, field: string, message: string) {
    super(code, `${field}: ${message}`, { field });
    this.field = field;
  }
}

export type CryptoErrorCode = 'BAD_KEY' | 'BAD_KEY_FILE' | 'BAD_SIGNATURE_LENGTH';

export class CryptoError extends AutochainError<CryptoErrorCode> {}

/** An invariant did not hold: a bug. Consensus, VM and state halt rather than continue corrupted. */
export class InvariantError extends AutochainError<'INVARIANT'> {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INVARIANT', message, details);
  }
}

/**
 * Throws an InvariantError when `condition` is false. `details` has no default: a default `{}` is allocated on every
 * call, and assert runs several times per tx on the VM's hot path (~200 B of garbage per repayment).
 */
export function assert(condition: unknown, message: string, details?: Record<string, unknown>): asserts condition {
  if (!condition) throw new InvariantError(message, details);
}
