// Gas: every state read and write and every operation has a fixed, documented cost (docs/vm.md, "Gas").
import type { KvReader } from '../state/kv.js';
import { assert } from '../core/errors.js';

export const GAS = {
  /** Charged for every tx before it runs: covers decoding, signature and nonce. */
  txBase: 1_000n,
  /** Per byte of the encoded tx. */
  txByte: 2n,
  /** Per state read, plus per byte read. */
  read: 50n,
  readByte: 1n,
  /** Per state write or delete, plus per byte of key and value written. */
  write: 200n,
  writeByte: 5n,
  /** Per emitted event. */
  event: 100n,
} as const;

/** Default block gas limit (genesis may set another). */
export const DEFAULT_BLOCK_GAS_LIMIT = 200_000_000n;

export class OutOfGas extends Error {
  constructor(readonly limit: bigint) {
    super(`out of gas (limit ${limit})`);
  }
}

const READ = Number(GAS.read);
const READ_BYTE = Number(GAS.readByte);
const WRITE = Number(GAS.write);
const WRITE_BYTE = Number(GAS.writeByte);

/**
 * A gas meter: `charge` throws OutOfGas past the limit; the VM turns that into a failed receipt. It counts in a
 * number, not a bigint (a bigint add per state access was ~5% of a repayment): every charge is an integer and a
 * tx's total stays far below 2^53, so the count is exact; `used` gives it back as a bigint.
 */
export class Gas {
  #used = 0;
  /** Exact below 2^53; a larger limit rounds, but only to a value above any total a tx can reach. */
  readonly #limit: number;
  #exhausted = false;

  constructor(readonly limit: bigint) {
    this.#limit = Number(limit);
  }

  get used(): bigint {
    return this.#exhausted ? this.limit : BigInt(this.#used);
  }

  charge(amount: bigint): void {
    this.chargeUnits(Number(amount));
  }

  /** The same as charge, for amounts computed as numbers (integers below 2^53). */
  chargeUnits(amount: number): void {
    const used = this.#used + amount;
    if (used > this.#limit) {
      this.#exhausted = true;
      throw new OutOfGas(this.limit);
    }
    assert(Number.isSafeInteger(used), 'gas total beyond 2^53');
    this.#used = used;
  }
}

/** Gas for one state read that found `valueBytes` bytes (0 when the key is absent). */
export function readGas(valueBytes: number): number {
  return READ + READ_BYTE * valueBytes;
}

/** Gas for one state write (`valueBytes` 0 for a deletion). */
export function writeGas(keyBytes: number, valueBytes: number): number {
  return WRITE + WRITE_BYTE * (keyBytes + valueBytes);
}

export type { KvReader };
