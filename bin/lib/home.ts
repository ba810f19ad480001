// Home folders: `init` writes a node's keys, config and genesis; `devnet` writes a ready local chain with demo
// members and funded key files. Both use the node's own config and genesis writers, so the files are validated.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addressHex, generateKeyPair, loadKeyFile, saveKeyFile, type KeyPair } from '../../src/core/keys.js';
import { toHex } from '../../src/core/bytes.js';
import { saveConfigFile, type PartialConfig } from '../../src/node/config.js';
import { saveGenesisFile, type GenesisDoc } from '../../src/node/genesis.js';
import type { Role } from '../../src/vm/types.js';
import { UsageError } from './common.js';

export const CONFIG_FILE = 'config.json';
export const GENESIS_FILE = 'genesis.json';
export const VALIDATOR_KEY_FILE = 'validator_key.json';
export const NODE_KEY_FILE = 'node_key.json';

export function isInitialised(home: string): boolean {
  return existsSync(join(home, GENESIS_FILE)) && existsSync(join(home, CONFIG_FILE));
}

function keyIn(path: string): KeyPair {
  if (existsSync(path)) return loadKeyFile(path);
  const kp = generateKeyPair();
  saveKeyFile(path, kp);
  return kp;
}

/** Today at 00:00 UTC: a round genesis time that is not in the future. */
function genesisTimeOf(nowMs: number): string {
  return String(nowMs - (nowMs % 86_400_000));
}

export interface InitOptions {
  chainId: string;
  /** The organisation running this validator (member id and display name). */
  memberId: string;
  memberName: string;
  stake: bigint;
  config?: PartialConfig;
}

export interface InitResult {
  home: string;
  chainId: string;
  validatorAddress: string;
  files: { config: string; genesis: string; validatorKey: string; nodeKey: string };
}

/** A single-validator home folder: node key, validator key, config with defaults, genesis naming the validator. */
export function initHome(home: string, opts: InitOptions): InitResult {
  if (isInitialised(home))
    throw new UsageError(`${home} already holds a node (config.json and genesis.json); pick another --home`);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const validator = keyIn(join(home, VALIDATOR_KEY_FILE));
  keyIn(join(home, NODE_KEY_FILE));
  const doc: GenesisDoc = {
    chainId: opts.chainId,
    genesisTime: genesisTimeOf(Date.now()),
    members: [
      { id: opts.memberId, name: opts.memberName, roles: ['validator'], accounts: [toHex(validator.publicKey)] },
    ],
    validators: [{ publicKey: toHex(validator.publicKey), stake: opts.stake.toString(), memberId: opts.memberId }],
    balances: [],
    assets: [
      { code: 'STAKE', decimals: 0 },
      { code: 'CNY', decimals: 2 },
    ],
  };
  saveGenesisFile(join(home, GENESIS_FILE), doc);
  saveConfigFile(join(home, CONFIG_FILE), opts.config ?? {});
  return {
    home,
    chainId: opts.chainId,
    validatorAddress: addressHex(validator.publicKey),
    files: {
      config: join(home, CONFIG_FILE),
      genesis: join(home, GENESIS_FILE),
      validatorKey: join(home, VALIDATOR_KEY_FILE),
      nodeKey: join(home, NODE_KEY_FILE),
    },
  };
}

// ------------------------------------------------------------------ devnet

export const DEVNET_CHAIN_ID = 'autochain-devnet';
export const DEVNET_MARKER = 'devnet.json';

interface DemoMember {
  key: string;
  id: string;
  name: string;
  roles: Role[];
  /** CNY at genesis, fen. */
  cny: bigint;
}

/** The demo consortium: one organisation per role, plus a borrower (a person, not a member). */
const DEMO_MEMBERS: DemoMember[] = [
  { key: 'bank', id: 'bank', name: 'Demo Settlement Bank', roles: ['bank'], cny: 1_000_000_000_00n },
  { key: 'lender', id: 'lender', name: 'Demo Auto Finance Co.', roles: ['lender'], cny: 50_000_000_00n },
  { key: 'dealer', id: 'dealer', name: 'Demo Motors Dealership', roles: ['dealer'], cny: 1_000_000_00n },
  { key: 'manufacturer', id: 'manufacturer', name: 'Demo Automobile Works', roles: ['manufacturer'], cny: 0n },
  { key: 'bureau', id: 'bureau', name: 'Demo Credit Bureau', roles: ['bureau'], cny: 0n },
  { key: 'registrar', id: 'registrar', name: 'Demo Vehicle Registry', roles: ['registrar'], cny: 0n },
];
export const DEVNET_BORROWER_CNY = 500_000_00n;
export const DEVNET_KEYS = [...DEMO_MEMBERS.map((m) => m.key), 'borrower'] as const;

export interface DevnetInfo {
  chainId: string;
  keys: { name: string; file: string; address: string }[];
  /** Set once the demo borrower has been onboarded (a tx after the first start). */
  borrowerOnboarded: boolean;
}

export function keyFileOf(home: string, name: string): string {
  return join(home, 'keys', `${name}.json`);
}

/** Writes a devnet home: validator, demo member and borrower keys, genesis with their roles and CNY, a fast config. */
export function createDevnet(home: string, opts: { port: number }): DevnetInfo {
  mkdirSync(join(home, 'keys'), { recursive: true, mode: 0o700 });
  const validator = keyIn(join(home, VALIDATOR_KEY_FILE));
  keyIn(join(home, NODE_KEY_FILE));
  const keys = new Map<string, KeyPair>();
  for (const name of DEVNET_KEYS) keys.set(name, keyIn(keyFileOf(home, name)));
  const pk = (name: string): string => toHex(keys.get(name)!.publicKey);
  const addr = (name: string): string => addressHex(keys.get(name)!.publicKey);
  const doc: GenesisDoc = {
    chainId: DEVNET_CHAIN_ID,
    genesisTime: genesisTimeOf(Date.now()),
    members: [
      {
        id: 'operator',
        name: 'Devnet Validator Operator',
        roles: ['validator'],
        accounts: [toHex(validator.publicKey)],
      },
      ...DEMO_MEMBERS.map((m) => ({ id: m.id, name: m.name, roles: m.roles, accounts: [pk(m.key)] })),
    ],
    validators: [{ publicKey: toHex(validator.publicKey), stake: '1000000', memberId: 'operator' }],
    balances: [
      ...DEMO_MEMBERS.filter((m) => m.cny > 0n).map((m) => ({
        asset: 'CNY',
        address: addr(m.key),
        amount: m.cny.toString(),
      })),
      { asset: 'CNY', address: addr('borrower'), amount: DEVNET_BORROWER_CNY.toString() },
    ],
    assets: [
      { code: 'STAKE', decimals: 0 },
      { code: 'CNY', decimals: 2 },
    ],
  };
  saveGenesisFile(join(home, GENESIS_FILE), doc);
  // Short block interval: each CLI command waits for its tx's block, and a demo should feel instant.
  saveConfigFile(join(home, CONFIG_FILE), {
    rpc: { port: opts.port },
    block: { intervalMs: 200, emptyBlockIntervalMs: 5000 },
  });
  const info: DevnetInfo = {
    chainId: DEVNET_CHAIN_ID,
    keys: DEVNET_KEYS.map((name) => ({ name, file: keyFileOf(home, name), address: addr(name) })),
    borrowerOnboarded: false,
  };
  saveDevnetInfo(home, info);
  return info;
}

export function loadDevnetInfo(home: string): DevnetInfo | null {
  const path = join(home, DEVNET_MARKER);
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as DevnetInfo;
}

export function saveDevnetInfo(home: string, info: DevnetInfo): void {
  writeFileSync(join(home, DEVNET_MARKER), `${JSON.stringify(info, null, 2)}\n`);
}
