// Mempool admission, every refusal (with the pool left unchanged), ordering, fairness, commit and recheck.
import { describe, it, expect, beforeEach } from 'vitest';
import { encode, u64 } from '../../src/core/codec.js';
import { toHex, utf8 } from '../../src/core/bytes.js';
import { keyPairFromLabel, addressOf, type KeyPair } from '../../src/core/keys.js';
import { encodeTx, signTx, txHash, verifyTxSignature, type TxBody } from '../../src/core/types.js';
import { MemoryKv } from '../../src/state/kv.js';
import { nonceKey } from '../../src/vm/vm.js';
import { Mempool, type MempoolOptions } from '../../src/mempool/mempool.js';
import { MempoolError, type MempoolErrorCode } from '../../src/mempool/errors.js';

const CHAIN = 'test-chain';
const alice = keyPairFromLabel('alice');
const bob = keyPairFromLabel('bob');
const carol = keyPairFromLabel('carol');

function txOf(kp: KeyPair, nonce: bigint, over: Partial<TxBody> = {}): Uint8Array {
  const body: TxBody = {
    chainId: CHAIN,
    sender: kp.publicKey,
    nonce,
    gasLimit: 100_000n,
    module: 'asset',
    op: 'transfer',
    args: utf8('x'),
    ...over,
  };
  return encodeTx(signTx(body, kp));
}

function setNonce(kv: MemoryKv, kp: KeyPair, n: bigint): void {
  kv.set(nonceKey(addressOf(kp.publicKey)), encode(u64, n));
}

const BASE: MempoolOptions = {
  chainId: CHAIN,
  maxTxBytes: 4096,
  maxTxs: 100,
  maxBytes: 1_000_000,
  maxTxsPerSender: 10,
  maxBytesPerSender: 100_000,
  nonceWindow: 16,
  blockGasLimit: 10_000_000n,
};

let kv: MemoryKv;
let committed: Set<string>;
let verifyCalls: number;

function pool(over: Partial<MempoolOptions> = {}): Mempool {
  return new Mempool(
    { ...BASE, ...over },
    {
      state: () => kv,
      isCommitted: (h) => committed.has(toHex(h)),
      verifySignature: (tx) => {
        verifyCalls++;
        // The real native check, counted.
        return verifyTxSignature(tx);
      },
    },
  );
}

async function refused(p: Mempool, bytes: Uint8Array, code: MempoolErrorCode): Promise<MempoolError> {
  const before = { size: p.size, bytes: p.bytes };
  let err: unknown;
  try {
    await p.add(bytes);
  } catch (e) {
    err = e;
  }
  expect(err, `expected refusal ${code}`).toBeInstanceOf(MempoolError);
  const me = err as MempoolError;
  expect(me.code).toBe(code);
  expect(me.message.length).toBeGreaterThan(10);
  expect({ size: p.size, bytes: p.bytes }, `pool unchanged after ${code}`).toEqual(before);
  return me;
}

beforeEach(() => {
  kv = new MemoryKv();
  committed = new Set();
  verifyCalls = 0;
});

describe('admission', () => {
  it('admits a valid tx, verifies its signature once and remembers it as verified', async () => {
    const p = pool();
    const bytes = txOf(alice, 0n);
    const r = await p.add(bytes);
    expect(r.hashHex).toBe(toHex(txHash(bytes)));
    expect(p.size).toBe(1);
    expect(p.bytes).toBe(bytes.length);
    expect(p.isVerified(txHash(bytes))).toBe(true);
    expect(verifyCalls).toBe(1);
    await refused(p, bytes, 'DUPLICATE');
    expect(verifyCalls, 'a duplicate is not verified again').toBe(1);
  });

  it('refuses malformed bytes', async () => {
    const p = pool();
    await refused(p, new Uint8Array([1, 2, 3]), 'MALFORMED');
    const good = txOf(alice, 0n);
    await refused(p, new Uint8Array([...good, 0]), 'MALFORMED'); // trailing byte
  });

  it('refuses a tx over the configured size', async () => {
    const p = pool({ maxTxBytes: 300 });
    const big = txOf(alice, 0n, { args: new Uint8Array(400) });
    const e = await refused(p, big, 'OVERSIZE');
    expect(e.message).toContain('300');
  });

  it('refuses another chain id', async () => {
    const e = await refused(pool(), txOf(alice, 0n, { chainId: 'other-chain' }), 'WRONG_CHAIN');
    expect(e.message).toContain('other-chain');
  });

  it('refuses a bad signature', async () => {
    const bytes = txOf(alice, 0n);
    const tampered = new Uint8Array(bytes);
    tampered[tampered.length - 1]! ^= 1; // last byte of the signature
    await refused(pool(), tampered, 'BAD_SIGNATURE');
  });

  it('refuses a body signed by another key', async () => {
    const body: TxBody = {
      chainId: CHAIN,
      sender: alice.publicKey,
      nonce: 0n,
      gasLimit: 1000n,
      module: 'asset',
      op: 'transfer',
      args: new Uint8Array(),
    };
    const forged = encodeTx({ body, signature: signTx(body, bob).signature });
    await refused(pool(), forged, 'BAD_SIGNATURE');
  });

  it('refuses a gas limit above the block gas limit', async () => {
    await refused(pool({ blockGasLimit: 1000n }), txOf(alice, 0n, { gasLimit: 1001n }), 'GAS_LIMIT_TOO_HIGH');
  });

  it('refuses a nonce below the account nonce, and tells a replay of a committed tx apart', async () => {
    setNonce(kv, alice, 5n);
    const p = pool();
    const e = await refused(p, txOf(alice, 4n), 'NONCE_TOO_LOW');
    expect(e.message).toContain('5');
    const replay = txOf(alice, 3n);
    committed.add(toHex(txHash(replay)));
    await refused(p, replay, 'ALREADY_COMMITTED');
  });

  it('refuses a nonce beyond the window (a gap too wide)', async () => {
    setNonce(kv, alice, 2n);
    const p = pool({ nonceWindow: 4 });
    await p.add(txOf(alice, 5n)); // 2 + 4 - 1: the last nonce in the window
    await refused(p, txOf(alice, 6n), 'NONCE_TOO_HIGH');
  });

  it('refuses a second tx for a nonce already waiting', async () => {
    const p = pool();
    await p.add(txOf(alice, 0n));
    await refused(p, txOf(alice, 0n, { gasLimit: 99n }), 'NONCE_TAKEN');
  });

  it('refuses past the per-sender count cap and byte cap', async () => {
    const p = pool({ maxTxsPerSender: 2 });
    await p.add(txOf(alice, 0n));
    await p.add(txOf(alice, 1n));
    await refused(p, txOf(alice, 2n), 'SENDER_FULL');
    await p.add(txOf(bob, 0n)); // others still get in

    const one = txOf(carol, 0n).length;
    const q = pool({ maxBytesPerSender: one * 2 + 1 });
    await q.add(txOf(carol, 0n));
    await q.add(txOf(carol, 1n));
    await refused(q, txOf(carol, 2n), 'SENDER_FULL');
  });

  it('refuses past the total count cap and byte cap with a clear "mempool full"', async () => {
    const p = pool({ maxTxs: 2 });
    await p.add(txOf(alice, 0n));
    await p.add(txOf(bob, 0n));
    const e = await refused(p, txOf(carol, 0n), 'MEMPOOL_FULL');
    expect(e.message).toMatch(/mempool full/);

    const one = txOf(alice, 0n).length;
    const q = pool({ maxBytes: one * 2 + 1 });
    await q.add(txOf(alice, 0n));
    await q.add(txOf(bob, 0n));
    await refused(q, txOf(carol, 0n), 'MEMPOOL_FULL');
  });

  it('runs no signature check for a tx refused by a cheaper check', async () => {
    const p = pool();
    await refused(p, txOf(alice, 0n, { chainId: 'x' }), 'WRONG_CHAIN');
    setNonce(kv, bob, 1n);
    await refused(p, txOf(bob, 0n), 'NONCE_TOO_LOW');
    expect(verifyCalls).toBe(0);
  });
});

describe('ordering and reaping', () => {
  const unlimited = { maxGas: 1n << 60n, maxTxs: 1000, maxBytes: 1 << 30 };

  it('reaps each sender in nonce order whatever the arrival order', async () => {
    const p = pool();
    for (const n of [2n, 0n, 1n]) await p.add(txOf(alice, n));
    expect(p.reap(unlimited).map((e) => e.nonce)).toEqual([0n, 1n, 2n]);
  });

  it('stops a sender at a nonce gap', async () => {
    const p = pool();
    for (const n of [0n, 1n, 3n]) await p.add(txOf(alice, n));
    expect(p.reap(unlimited).map((e) => e.nonce)).toEqual([0n, 1n]);
  });

  it('serves senders round-robin (fair), oldest first', async () => {
    const p = pool();
    for (const n of [0n, 1n, 2n]) await p.add(txOf(alice, n));
    for (const n of [0n, 1n]) await p.add(txOf(bob, n));
    const a = toHex(addressOf(alice.publicKey));
    const b = toHex(addressOf(bob.publicKey));
    expect(p.reap(unlimited).map((e) => `${e.sender === a ? 'a' : e.sender === b ? 'b' : '?'}${e.nonce}`)).toEqual([
      'a0',
      'b0',
      'a1',
      'b1',
      'a2',
    ]);
    expect(p.reap({ ...unlimited, maxTxs: 3 }).length).toBe(3);
  });

  it('bounds a reap by block gas and bytes', async () => {
    const p = pool();
    for (const n of [0n, 1n, 2n]) await p.add(txOf(alice, n, { gasLimit: 1000n }));
    expect(p.reap({ ...unlimited, maxGas: 2500n }).length).toBe(2);
    const one = txOf(alice, 0n).length;
    expect(p.reap({ ...unlimited, maxBytes: one + 1 }).length).toBe(1);
  });

  it('starts from the account nonce', async () => {
    setNonce(kv, alice, 1n);
    const p = pool();
    await p.add(txOf(alice, 2n));
    await p.add(txOf(alice, 1n));
    expect(p.reap(unlimited).map((e) => e.nonce)).toEqual([1n, 2n]);
  });
});

describe('after a block', () => {
  it('committed txs leave and txs made stale by the block are dropped', async () => {
    const p = pool();
    const a0 = txOf(alice, 0n);
    await p.add(a0);
    await p.add(txOf(alice, 1n));
    await p.add(txOf(alice, 2n));
    await p.add(txOf(bob, 0n));
    // The block committed a0 and (through another node) alice's nonce 1 with a different tx: nonce now 2.
    setNonce(kv, alice, 2n);
    const dropped = p.update([txHash(a0)]);
    expect(dropped.length).toBe(1);
    expect(p.size).toBe(2);
    expect(p.pendingOf(toHex(addressOf(alice.publicKey))).map((e) => e.nonce)).toEqual([2n]);
    expect(p.isVerified(txHash(a0))).toBe(false);
    const total = p.reap({ maxGas: 1n << 60n, maxTxs: 10, maxBytes: 1 << 20 });
    expect(total.length).toBe(2);
    expect(p.bytes).toBe(total.reduce((s, e) => s + e.bytes.length, 0));
  });

  it('frees room: a full pool accepts again after its txs commit', async () => {
    const p = pool({ maxTxs: 1 });
    const a0 = txOf(alice, 0n);
    await p.add(a0);
    await refused(p, txOf(bob, 0n), 'MEMPOOL_FULL');
    setNonce(kv, alice, 1n);
    p.update([txHash(a0)]);
    await p.add(txOf(bob, 0n));
    expect(p.size).toBe(1);
  });
});
