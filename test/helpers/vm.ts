// Shared VM test helper: a genesis with one organisation per role, labelled keys, and a chain that signs and runs txs.
import { encode, decode, u64, type Schema } from '../../src/core/codec.js';
import { loadAssetList, supplyOf } from '../../src/vm/modules/asset.js';
import { toHex } from '../../src/core/bytes.js';
import { sha256 } from '../../src/core/hash.js';
import { keyPairFromLabel, addressOf, type KeyPair } from '../../src/core/keys.js';
import { signTx, encodeTx, txHash, type Tx } from '../../src/core/types.js';
import { MemoryKv, Overlay } from '../../src/state/kv.js';
import { utf8 } from '../../src/core/bytes.js';
import {
  DEFAULT_CAPS,
  type BlockContext,
  type Genesis,
  type Misbehaviour,
  type Receipt,
  type ValidatorUpdate,
  type VmEvent,
} from '../../src/vm/types.js';
import { type Vm, loadNonce, nonceKey } from '../../src/vm/vm.js';
import { createVm } from '../../src/vm/registry.js';

export const CHAIN_ID = 'autochain-test';
/** 2026-11-29T00:00:00Z */
export const GENESIS_TIME_MS = BigInt(Date.UTC(2026, 10, 29));
export const DAY_MS = 86_400_000n;

/** Key labels of the genesis accounts (keyPairFromLabel(label)). */
export const L = {
  v1: 'val-1',
  v2: 'val-2',
  v3: 'val-3',
  bank: 'bank-1',
  lender: 'lender-1',
  lender2: 'lender-2',
  lenderB: 'lenderb-1',
  dealer: 'dealer-1',
  maker: 'maker-1',
  bureau: 'bureau-1',
  registrar: 'registrar-1',
  alice: 'alice',
  bob: 'bob',
  carol: 'carol',
  outsider: 'outsider',
} as const;

export function key(label: string): KeyPair {
  return keyPairFromLabel(label);
}

export function addr(label: string): Uint8Array {
  return addressOf(keyPairFromLabel(label).publicKey);
}

export const VALIDATOR_STAKE = 1_000_000n;
export const MIN_STAKE = 100_000n;

/** Genesis: validators val-a/b/c (equal stake), and one member each for bank, lenders (two), dealer, maker, bureau, registrar. */
export function testGenesis(): Genesis {
  const pk = (l: string): Uint8Array => key(l).publicKey;
  return {
    chainId: CHAIN_ID,
    genesisTimeMs: GENESIS_TIME_MS,
    members: [
      { id: 'val-a', name: 'Validator A', roles: ['validator'], accounts: [pk(L.v1)] },
      { id: 'val-b', name: 'Validator B', roles: ['validator'], accounts: [pk(L.v2)] },
      { id: 'val-c', name: 'Validator C', roles: ['validator'], accounts: [pk(L.v3)] },
      { id: 'bank', name: 'Settlement Bank', roles: ['bank'], accounts: [pk(L.bank)] },
      { id: 'lender', name: 'Auto Finance Co', roles: ['lender'], accounts: [pk(L.lender), pk(L.lender2)] },
      { id: 'lender-b', name: 'Captive Lender B', roles: ['lender'], accounts: [pk(L.lenderB)] },
      { id: 'dealer', name: 'City Dealer', roles: ['dealer'], accounts: [pk(L.dealer)] },
      { id: 'maker', name: 'Car Maker', roles: ['manufacturer'], accounts: [pk(L.maker)] },
      { id: 'bureau', name: 'Credit Bureau', roles: ['bureau'], accounts: [pk(L.bureau)] },
      { id: 'dmv', name: 'Vehicle Registry', roles: ['registrar'], accounts: [pk(L.registrar)] },
    ],
    validators: [
      { publicKey: pk(L.v1), stake: VALIDATOR_STAKE, memberId: 'val-a' },
      { publicKey: pk(L.v2), stake: VALIDATOR_STAKE, memberId: 'val-b' },
      { publicKey: pk(L.v3), stake: VALIDATOR_STAKE, memberId: 'val-c' },
    ],
    assets: [
      { code: 'CNY', decimals: 2 },
      { code: 'USD', decimals: 2 },
    ],
    balances: [
      { asset: 'CNY', address: addr(L.bank), amount: 1_000_000_000_00n },
      { asset: 'USD', address: addr(L.bank), amount: 10_000_000_00n },
      { asset: 'CNY', address: addr(L.lender), amount: 100_000_000_00n },
      { asset: 'CNY', address: addr(L.lenderB), amount: 100_000_000_00n },
      { asset: 'CNY', address: addr(L.v1), amount: 10_000_000n },
      { asset: 'CNY', address: addr(L.v2), amount: 10_000_000n },
      { asset: 'CNY', address: addr(L.alice), amount: 5_000_000n },
    ],
    caps: { ...DEFAULT_CAPS },
    staking: { bondAsset: 'CNY', unbondingMs: 7n * DAY_MS, slashBps: 500, jailMs: DAY_MS, minStake: MIN_STAKE },
  };
}

export interface SendOptions {
  nonce?: bigint;
  gasLimit?: bigint;
  chainId?: string;
  /** Replace the encoded args (for bad-args tests). */
  rawArgs?: Uint8Array;
  /** Corrupt the signature. */
  badSignature?: boolean;
}

/** A chain in memory: genesis loaded, a block clock, and helpers to sign and execute txs. */
export class TestChain {
  readonly state = new MemoryKv();
  readonly vm: Vm;
  readonly genesis: Genesis;
  height = 1n;
  timeMs: bigint;

  constructor(opts: { genesis?: Genesis; vm?: Vm } = {}) {
    this.genesis = opts.genesis ?? testGenesis();
    this.vm = opts.vm ?? createVm();
    this.timeMs = this.genesis.genesisTimeMs;
    this.vm.initGenesis(this.state, this.genesis);
  }

  block(): BlockContext {
    return { chainId: this.genesis.chainId, height: this.height, timeMs: this.timeMs, proposer: addr(L.v1) };
  }

  nonce(label: string): bigint {
    return loadNonce(this.state, addr(label));
  }

  /** Builds a signed tx for `op` with its args encoded by `schema`. */
  tx<A>(label: string, module: string, op: string, schema: Schema<A>, args: A, o: SendOptions = {}): Tx {
    const kp = key(label);
    const tx = signTx(
      {
        chainId: o.chainId ?? this.genesis.chainId,
        sender: kp.publicKey,
        nonce: o.nonce ?? loadNonce(this.state, addressOf(kp.publicKey)),
        gasLimit: o.gasLimit ?? 10_000_000n,
        module,
        op,
        args: o.rawArgs ?? encode(schema, args),
      },
      kp,
    );
    if (o.badSignature) {
      const sig = new Uint8Array(tx.signature);
      sig[0] = sig[0]! ^ 1;
      return { ...tx, signature: sig };
    }
    return tx;
  }

  run(tx: Tx): Receipt {
    const bytes = encodeTx(tx);
    return this.vm.execute(this.state, this.block(), tx, {
      txBytes: bytes.length,
      txHash: txHash(bytes),
      signatureVerified: false,
    });
  }

  /** Signs and executes one op in the current block. */
  send<A>(label: string, module: string, op: string, schema: Schema<A>, args: A, o: SendOptions = {}): Receipt {
    return this.run(this.tx(label, module, op, schema, args, o));
  }

  /** Like send, but throws unless the receipt is OK (for setting up a scenario). */
  ok<A>(label: string, module: string, op: string, schema: Schema<A>, args: A): Receipt {
    const r = this.send(label, module, op, schema, args);
    if (r.code !== 'OK') throw new Error(`${module}.${op} by ${label} failed: ${r.code} ${r.message}`);
    return r;
  }

  beginBlock(misbehaviour: Misbehaviour[] = []): VmEvent[] {
    return this.vm.beginBlock(this.state, this.block(), misbehaviour);
  }

  endBlock(): { events: VmEvent[]; validatorUpdates: ValidatorUpdate[] } {
    return this.vm.endBlock(this.state, this.block());
  }

  /** Moves to the next block, `ms` later, running end-block of the current one. */
  nextBlock(ms = 5_000n): { events: VmEvent[]; validatorUpdates: ValidatorUpdate[] } {
    const r = this.endBlock();
    this.height += 1n;
    this.timeMs += ms;
    return r;
  }

  /** All state entries as hex key -> hex value. */
  snapshot(): Map<string, string> {
    const m = new Map<string, string>();
    for (const [k, v] of this.state.entries()) m.set(toHex(k), toHex(v));
    return m;
  }
}

/** Keys whose values differ between two snapshots, as readable strings (keys are UTF-8 "module/kind/id"). */
export function changedKeys(before: Map<string, string>, after: Map<string, string>): string[] {
  const out = new Set<string>();
  for (const [k, v] of before) if (after.get(k) !== v) out.add(k);
  for (const k of after.keys()) if (!before.has(k)) out.add(k);
  return [...out].map((k) => Buffer.from(k, 'hex').toString('utf8')).sort();
}

/** The readable state key of an account's nonce. */
export function nonceKeyOf(label: string): string {
  return Buffer.from(nonceKey(addr(label))).toString('utf8');
}

/** A 32-byte identity commitment for tests. */
export function commitment(label: string): Uint8Array {
  return sha256(utf8(`identity-record:${label}`));
}

/** Runs `fn` in a throwaway overlay so a test can probe state without keeping changes. */
export function scratch(state: MemoryKv): Overlay {
  return new Overlay(state);
}

/**
 * Executes a tx that must fail with `code`, and checks that the only state change is the sender's nonce
 * advancing by one. Returns the receipt.
 */
export function expectRejected(c: TestChain, label: string, code: string, exec: () => Receipt): Receipt {
  const before = c.snapshot();
  const nonce = c.nonce(label);
  const r = exec();
  if (r.code !== code) throw new Error(`expected ${code}, got ${r.code} (${r.message})`);
  if (r.message.length === 0) throw new Error(`${code}: a rejection carries a message`);
  if (r.events.length !== 0) throw new Error(`${code}: a rejected tx emits no events`);
  const changed = changedKeys(before, c.snapshot());
  const expected = [nonceKeyOf(label)];
  if (JSON.stringify(changed) !== JSON.stringify(expected)) {
    throw new Error(`${code}: state changed beyond the nonce: ${changed.join(', ')}`);
  }
  if (c.nonce(label) !== nonce + 1n) throw new Error(`${code}: nonce did not advance by one`);
  return r;
}

/** For every asset: [code, supply entry, sum of all balance entries]. They must be equal. */
export function supplyAndBalances(state: MemoryKv): [string, bigint, bigint][] {
  const sums = new Map<string, bigint>();
  for (const [k, v] of state.entries()) {
    const key = Buffer.from(k).toString('utf8');
    const m = /^asset\/bal\/([A-Z0-9]+)\/[0-9a-f]{40}$/.exec(key);
    if (m) sums.set(m[1]!, (sums.get(m[1]!) ?? 0n) + decode(u64, v, 16));
  }
  return loadAssetList(state).map((code) => [code, supplyOf(state, code), sums.get(code) ?? 0n]);
}
