// Helpers for the node and RPC integration tests: a home folder with config, genesis and validator key; raw JSON-RPC
// over HTTP; signed txs built with the VM modules' own arg schemas.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode, type Schema } from '../../src/core/codec.js';
import { toHex } from '../../src/core/bytes.js';
import { keyPairFromLabel, addressOf, saveKeyFile, type KeyPair } from '../../src/core/keys.js';
import { encodeTx, signTx, txHash } from '../../src/core/types.js';
import { saveConfigFile, type PartialConfig } from '../../src/node/config.js';
import { saveGenesisFile, type GenesisDoc } from '../../src/node/genesis.js';

export const CHAIN_ID = 'autochain-itest';
/** 2026-11-29T00:00:00Z */
export const GENESIS_TIME_MS = BigInt(Date.UTC(2026, 10, 29));
export const DAY_MS = 86_400_000;

export const K = {
  validator: keyPairFromLabel('itest-validator'),
  bank: keyPairFromLabel('itest-bank'),
  lender: keyPairFromLabel('itest-lender'),
  dealer: keyPairFromLabel('itest-dealer'),
  maker: keyPairFromLabel('itest-maker'),
  bureau: keyPairFromLabel('itest-bureau'),
  registrar: keyPairFromLabel('itest-registrar'),
  alice: keyPairFromLabel('itest-alice'),
  bob: keyPairFromLabel('itest-bob'),
} as const;

export function addrHex(kp: KeyPair): string {
  return toHex(addressOf(kp.publicKey));
}

export function genesisDoc(): GenesisDoc {
  const pk = (k: KeyPair): string => toHex(k.publicKey);
  return {
    chainId: CHAIN_ID,
    genesisTime: GENESIS_TIME_MS.toString(),
    members: [
      { id: 'operator', name: 'Validator Operator', roles: ['validator'], accounts: [pk(K.validator)] },
      { id: 'bank', name: 'Settlement Bank', roles: ['bank'], accounts: [pk(K.bank)] },
      { id: 'lender', name: 'Auto Finance Co', roles: ['lender'], accounts: [pk(K.lender)] },
      { id: 'dealer', name: 'City Dealer', roles: ['dealer'], accounts: [pk(K.dealer)] },
      { id: 'maker', name: 'Car Maker', roles: ['manufacturer'], accounts: [pk(K.maker)] },
      { id: 'bureau', name: 'Credit Bureau', roles: ['bureau'], accounts: [pk(K.bureau)] },
      { id: 'dmv', name: 'Vehicle Registry', roles: ['registrar'], accounts: [pk(K.registrar)] },
    ],
    validators: [{ publicKey: pk(K.validator), stake: '1000000', memberId: 'operator' }],
    assets: [{ code: 'CNY', decimals: 2 }],
    balances: [
      { asset: 'CNY', address: addrHex(K.bank), amount: '100000000000' },
      { asset: 'CNY', address: addrHex(K.lender), amount: '10000000000' },
      { asset: 'CNY', address: addrHex(K.validator), amount: '10000000' },
      { asset: 'CNY', address: addrHex(K.alice), amount: '50000000' },
    ],
    staking: {
      bondAsset: 'CNY',
      unbondingMs: String(7 * DAY_MS),
      slashBps: 500,
      jailMs: String(DAY_MS),
      minStake: '100000',
    },
  };
}

/** A fresh home folder: config.json (ephemeral port, quiet logs), genesis.json, validator_key.json. */
export function makeHome(
  config: PartialConfig = {},
  genesis: GenesisDoc = genesisDoc(),
): { home: string; cleanup(): void } {
  const home = mkdtempSync(join(tmpdir(), 'autochain-node-'));
  saveConfigFile(join(home, 'config.json'), {
    ...config,
    rpc: { port: 0, ...config.rpc },
    block: { intervalMs: 25, emptyBlockIntervalMs: 0, ...config.block },
    log: { level: 'silent', ...config.log },
  });
  saveGenesisFile(join(home, 'genesis.json'), genesis);
  saveKeyFile(join(home, 'validator_key.json'), K.validator);
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

export function writeJson(path: string, v: unknown): void {
  writeFileSync(path, JSON.stringify(v));
}

export interface RawAnswer {
  status: number;
  body: unknown;
  text: string;
}

/** POSTs a raw body (string) to the node and returns status, parsed JSON body (or null) and text. */
export async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed, text };
}

let nextId = 1;

/** One JSON-RPC call; returns the whole response object (result or error). */
export async function rpc(
  url: string,
  method: string,
  params?: unknown,
): Promise<{ result?: unknown; error?: { code: number; message: string; data?: Record<string, unknown> } }> {
  const r = await post(url, JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }));
  return r.body as { result?: unknown; error?: { code: number; message: string; data?: Record<string, unknown> } };
}

/** The result of a call that must succeed. */
export async function call<T = Record<string, unknown>>(url: string, method: string, params?: unknown): Promise<T> {
  const r = await rpc(url, method, params);
  if (r.error) throw new Error(`${method} failed: ${r.error.code} ${r.error.message}`);
  return r.result as T;
}

export interface BuildTxOpts {
  chainId?: string;
  gasLimit?: bigint;
}

/** A signed tx (hex) with args encoded by the op's schema. */
export function buildTx<A>(
  kp: KeyPair,
  nonce: bigint,
  module: string,
  op: string,
  schema: Schema<A>,
  args: A,
  o: BuildTxOpts = {},
): { hex: string; hash: string; bytes: Uint8Array } {
  const bytes = encodeTx(
    signTx(
      {
        chainId: o.chainId ?? CHAIN_ID,
        sender: kp.publicKey,
        nonce,
        gasLimit: o.gasLimit ?? 10_000_000n,
        module,
        op,
        args: encode(schema, args),
      },
      kp,
    ),
  );
  return { hex: toHex(bytes), hash: toHex(txHash(bytes)), bytes };
}

/** Tracks nonces per key for a test. */
export class Nonces {
  private readonly m = new Map<string, bigint>();
  next(kp: KeyPair): bigint {
    const k = addrHex(kp);
    const n = this.m.get(k) ?? 0n;
    this.m.set(k, n + 1n);
    return n;
  }
}
