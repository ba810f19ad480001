// Gas: every state read and write and every operation has a fixed, documented cost (docs/vm.md, "Gas").
import type { KvReader, KvWriter } from '../state/kv.js';

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

/** A gas meter: `charge` throws OutOfGas past the limit; the VM turns that into a failed receipt. */
export class Gas {
  used = 0n;
  constructor(readonly limit: bigint) {}

  charge(amount: bigint): void {
    this.used += amount;
    if (this.used > this.limit) {
      this.used = this.limit;
      throw new OutOfGas(this.limit);
    }
  }
}

/** A state view that charges gas for each access. */
export class MeteredState implements KvWriter {
  constructor(
    private readonly inner: KvWriter,
    private readonly gas: Gas,
  ) {}

  get(key: Uint8Array): Uint8Array | undefined {
    const v = this.inner.get(key);
    this.gas.charge(GAS.read + GAS.readByte * BigInt(v?.length ?? 0));
    return v;
  }

  set(key: Uint8Array, value: Uint8Array): void {
    this.gas.charge(GAS.write + GAS.writeByte * BigInt(key.length + value.length));
    this.inner.set(key, value);
  }

  delete(key: Uint8Array): void {
    this.gas.charge(GAS.write + GAS.writeByte * BigInt(key.length));
    this.inner.delete(key);
  }
}

export type { KvReader };
