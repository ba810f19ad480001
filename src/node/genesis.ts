// The genesis file (home/genesis.json): parsed and validated into the VM's Genesis plus the node's chain parameters.
//
// JSON encodings follow the RPC's (docs/rpc.md): amounts and times as decimal strings, keys as hex, addresses as
// 40 hex characters. Every error names the field, e.g. `genesis.json: validators[0].stake must be a decimal string`.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { isHex, fromHex, toHex } from '../core/bytes.js';
import { sha256 } from '../core/hash.js';
import { CHAIN_ID_PATTERN } from '../core/constants.js';
import { addressOf } from '../core/keys.js';
import { DEFAULT_BLOCK_GAS_LIMIT } from '../vm/gas.js';
import { DEFAULT_CAPS, ROLES, type Genesis, type RegulatoryCaps, type Role } from '../vm/types.js';
import { ConfigError } from './config.js';

/** BFT timeouts (used by the consensus engine; the single-validator producer ignores them). */
export interface ConsensusTimeouts {
  proposeMs: number;
  prevoteMs: number;
  precommitMs: number;
  /** Added per round to each timeout. */
  deltaMs: number;
  /** Wait after a commit before the next height starts. */
  commitMs: number;
}

export const DEFAULT_TIMEOUTS: ConsensusTimeouts = {
  proposeMs: 3000,
  prevoteMs: 1000,
  precommitMs: 1000,
  deltaMs: 500,
  commitMs: 1000,
};

export const DEFAULT_STAKING: Genesis['staking'] = {
  bondAsset: 'STAKE',
  unbondingMs: 21n * 86_400_000n,
  slashBps: 500,
  jailMs: 86_400_000n,
  minStake: 1n,
};

/** The parsed genesis: the VM's part, the node's chain parameters, and the hash of the file's canonical JSON. */
export interface ChainGenesis {
  vm: Genesis;
  blockGasLimit: bigint;
  consensus: ConsensusTimeouts;
  /** sha256 over the canonical JSON of the parsed document: a restart with another genesis is refused. */
  hash: Uint8Array;
}

/** The JSON document as written to genesis.json. */
export interface GenesisDoc {
  chainId: string;
  /** ms since the Unix epoch, decimal string (or an ISO 8601 UTC time such as "2026-11-29T00:00:00Z"). */
  genesisTime: string;
  members: { id: string; name: string; roles: Role[]; accounts: string[] }[];
  validators: { publicKey: string; stake: string; memberId: string }[];
  balances: { asset: string; address: string; amount: string }[];
  assets: { code: string; decimals: number }[];
  caps?: Partial<RegulatoryCaps>;
  staking?: { bondAsset?: string; unbondingMs?: string; slashBps?: number; jailMs?: string; minStake?: string };
  blockGasLimit?: string;
  consensus?: Partial<ConsensusTimeouts>;
}

const MAX_LIST = 10_000;

class Reader {
  constructor(private readonly source: string) {}

  fail(path: string, what: string): never {
    throw new ConfigError('BAD_GENESIS', `${this.source}: ${path} ${what}`, { path });
  }

  obj(v: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'must be an object');
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o))
      if (!keys.includes(k))
        this.fail(path === '' ? k : `${path}.${k}`, `is not a genesis field (known: ${keys.join(', ')})`);
    return o;
  }

  list(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'must be a list');
    if (v.length > MAX_LIST) this.fail(path, `has more than ${MAX_LIST} entries`);
    return v;
  }

  str(v: unknown, path: string, re?: RegExp, what = 'a non-empty string'): string {
    if (typeof v !== 'string' || v.length === 0 || v.length > 256 || (re && !re.test(v)))
      this.fail(path, `must be ${what}`);
    return v;
  }

  dec(v: unknown, path: string, { positive = false } = {}): bigint {
    if (typeof v !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(v))
      this.fail(path, 'must be a decimal string such as "1000"');
    const n = BigInt(v);
    if (n >= 1n << 64n) this.fail(path, 'must fit in 64 bits');
    if (positive && n === 0n) this.fail(path, 'must be greater than 0');
    return n;
  }

  int(v: unknown, path: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      this.fail(path, `must be an integer from ${min} to ${max}`);
    return v;
  }

  hex(v: unknown, path: string, bytes: number, what: string): Uint8Array {
    if (!isHex(v, bytes)) this.fail(path, `must be ${what} (${bytes * 2} hex characters)`);
    return fromHex(v as string);
  }
}

function parseTime(r: Reader, v: unknown, path: string): bigint {
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v)) {
    const ms = Date.parse(v);
    if (!Number.isFinite(ms) || ms < 0) r.fail(path, 'must be a valid ISO 8601 time');
    return BigInt(ms);
  }
  return r.dec(v, path);
}

const ASSET_CODE = /^[A-Z][A-Z0-9]{1,11}$/;
const MEMBER_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** Validates a parsed genesis document. Throws ConfigError('BAD_GENESIS') naming the first bad field. */
export function parseGenesis(raw: unknown, source = 'genesis'): ChainGenesis {
  const r = new Reader(source);
  const top = r.obj(raw, '', [
    'chainId',
    'genesisTime',
    'members',
    'validators',
    'balances',
    'assets',
    'caps',
    'staking',
    'blockGasLimit',
    'consensus',
  ]);
  const chainId = r.str(top.chainId, 'chainId', CHAIN_ID_PATTERN, 'lowercase letters, digits and dashes, at most 48');
  const genesisTimeMs = parseTime(r, top.genesisTime, 'genesisTime');

  const assets = r.list(top.assets ?? [], 'assets').map((a, i) => {
    const o = r.obj(a, `assets[${i}]`, ['code', 'decimals']);
    return {
      code: r.str(o.code, `assets[${i}].code`, ASSET_CODE, 'an asset code such as "CNY" (A-Z, 0-9)'),
      decimals: r.int(o.decimals, `assets[${i}].decimals`, 0, 18),
    };
  });
  const assetCodes = new Set<string>();
  for (const [i, a] of assets.entries()) {
    if (assetCodes.has(a.code)) r.fail(`assets[${i}].code`, `repeats ${a.code}`);
    assetCodes.add(a.code);
  }

  const members = r.list(top.members, 'members').map((m, i) => {
    const p = `members[${i}]`;
    const o = r.obj(m, p, ['id', 'name', 'roles', 'accounts']);
    const roles = r.list(o.roles, `${p}.roles`).map((x, j) => {
      if (typeof x !== 'string' || !(ROLES as readonly string[]).includes(x))
        r.fail(`${p}.roles[${j}]`, `must be one of ${ROLES.join(', ')}`);
      return x as Role;
    });
    if (roles.length === 0) r.fail(`${p}.roles`, 'must name at least one role');
    return {
      id: r.str(o.id, `${p}.id`, MEMBER_ID, 'a member id (lowercase letters, digits, dashes)'),
      name: r.str(o.name, `${p}.name`),
      roles,
      accounts: r
        .list(o.accounts, `${p}.accounts`)
        .map((k, j) => r.hex(k, `${p}.accounts[${j}]`, 32, 'an ed25519 public key')),
    };
  });
  const memberIds = new Set<string>();
  const accountOwners = new Map<string, string>();
  for (const [i, m] of members.entries()) {
    if (memberIds.has(m.id)) r.fail(`members[${i}].id`, `repeats ${m.id}`);
    memberIds.add(m.id);
    for (const [j, k] of m.accounts.entries()) {
      const h = toHex(k);
      if (accountOwners.has(h))
        r.fail(`members[${i}].accounts[${j}]`, `already belongs to member ${accountOwners.get(h)}`);
      accountOwners.set(h, m.id);
    }
  }

  const validators = r.list(top.validators, 'validators').map((v, i) => {
    const p = `validators[${i}]`;
    const o = r.obj(v, p, ['publicKey', 'stake', 'memberId']);
    const memberId = r.str(o.memberId, `${p}.memberId`);
    if (!memberIds.has(memberId)) r.fail(`${p}.memberId`, `names no member (${memberId})`);
    return {
      publicKey: r.hex(o.publicKey, `${p}.publicKey`, 32, 'an ed25519 public key'),
      stake: r.dec(o.stake, `${p}.stake`, { positive: true }),
      memberId,
    };
  });
  if (validators.length === 0) r.fail('validators', 'must list at least one validator');
  const vkeys = new Set<string>();
  for (const [i, v] of validators.entries()) {
    const h = toHex(v.publicKey);
    if (vkeys.has(h)) r.fail(`validators[${i}].publicKey`, 'repeats a validator key');
    vkeys.add(h);
    const owner = members.find((m) => m.id === v.memberId);
    if (owner && !owner.roles.includes('validator'))
      r.fail(`validators[${i}].memberId`, `member ${v.memberId} lacks the validator role`);
  }

  const balances = r.list(top.balances ?? [], 'balances').map((b, i) => {
    const p = `balances[${i}]`;
    const o = r.obj(b, p, ['asset', 'address', 'amount']);
    const asset = r.str(o.asset, `${p}.asset`, ASSET_CODE, 'an asset code');
    if (!assetCodes.has(asset)) r.fail(`${p}.asset`, `is not listed in assets (${asset})`);
    return {
      asset,
      address: r.hex(o.address, `${p}.address`, 20, 'an address'),
      amount: r.dec(o.amount, `${p}.amount`, { positive: true }),
    };
  });
  const supply = new Map<string, bigint>();
  for (const [i, b] of balances.entries()) {
    const s = (supply.get(b.asset) ?? 0n) + b.amount;
    if (s >= 1n << 64n) r.fail(`balances[${i}].amount`, `makes the supply of ${b.asset} exceed 64 bits`);
    supply.set(b.asset, s);
  }

  const capsIn = r.obj(top.caps ?? {}, 'caps', Object.keys(DEFAULT_CAPS));
  const caps: RegulatoryCaps = { ...DEFAULT_CAPS };
  for (const k of Object.keys(DEFAULT_CAPS) as (keyof RegulatoryCaps)[]) {
    if (capsIn[k] !== undefined)
      caps[k] = r.int(capsIn[k], `caps.${k}`, k.startsWith('ltv') ? 1 : 1, k.startsWith('ltv') ? 10_000 : 600);
  }

  const st = r.obj(top.staking ?? {}, 'staking', ['bondAsset', 'unbondingMs', 'slashBps', 'jailMs', 'minStake']);
  const staking: Genesis['staking'] = {
    bondAsset:
      st.bondAsset === undefined
        ? DEFAULT_STAKING.bondAsset
        : r.str(st.bondAsset, 'staking.bondAsset', ASSET_CODE, 'an asset code'),
    unbondingMs:
      st.unbondingMs === undefined ? DEFAULT_STAKING.unbondingMs : r.dec(st.unbondingMs, 'staking.unbondingMs'),
    slashBps: st.slashBps === undefined ? DEFAULT_STAKING.slashBps : r.int(st.slashBps, 'staking.slashBps', 0, 10_000),
    jailMs: st.jailMs === undefined ? DEFAULT_STAKING.jailMs : r.dec(st.jailMs, 'staking.jailMs'),
    minStake:
      st.minStake === undefined ? DEFAULT_STAKING.minStake : r.dec(st.minStake, 'staking.minStake', { positive: true }),
  };

  const blockGasLimit =
    top.blockGasLimit === undefined
      ? DEFAULT_BLOCK_GAS_LIMIT
      : r.dec(top.blockGasLimit, 'blockGasLimit', { positive: true });

  const cIn = r.obj(top.consensus ?? {}, 'consensus', Object.keys(DEFAULT_TIMEOUTS));
  const consensus: ConsensusTimeouts = { ...DEFAULT_TIMEOUTS };
  for (const k of Object.keys(DEFAULT_TIMEOUTS) as (keyof ConsensusTimeouts)[]) {
    if (cIn[k] !== undefined) consensus[k] = r.int(cIn[k], `consensus.${k}`, 1, 600_000);
  }

  const vm: Genesis = { chainId, genesisTimeMs, members, validators, balances, assets, caps, staking };
  const doc = genesisDocOf({ vm, blockGasLimit, consensus });
  return { vm, blockGasLimit, consensus, hash: sha256(new TextEncoder().encode(JSON.stringify(doc))) };
}

/** The canonical JSON document of a parsed genesis (what `init` and `devnet` write). */
export function genesisDocOf(g: Omit<ChainGenesis, 'hash'>): GenesisDoc {
  const { vm } = g;
  return {
    chainId: vm.chainId,
    genesisTime: vm.genesisTimeMs.toString(),
    members: vm.members.map((m) => ({ id: m.id, name: m.name, roles: [...m.roles], accounts: m.accounts.map(toHex) })),
    validators: vm.validators.map((v) => ({
      publicKey: toHex(v.publicKey),
      stake: v.stake.toString(),
      memberId: v.memberId,
    })),
    balances: vm.balances.map((b) => ({ asset: b.asset, address: toHex(b.address), amount: b.amount.toString() })),
    assets: vm.assets.map((a) => ({ code: a.code, decimals: a.decimals })),
    caps: { ...vm.caps },
    staking: {
      bondAsset: vm.staking.bondAsset,
      unbondingMs: vm.staking.unbondingMs.toString(),
      slashBps: vm.staking.slashBps,
      jailMs: vm.staking.jailMs.toString(),
      minStake: vm.staking.minStake.toString(),
    },
    blockGasLimit: g.blockGasLimit.toString(),
    consensus: { ...g.consensus },
  };
}

export function loadGenesisFile(path: string): ChainGenesis {
  if (!existsSync(path))
    throw new ConfigError('NOT_FOUND', `${path}: no such genesis file (run \`autochain init\` first)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError('BAD_GENESIS', `${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseGenesis(raw, path);
}

/** Validates and writes a genesis document; returns the parsed genesis. */
export function saveGenesisFile(path: string, doc: GenesisDoc): ChainGenesis {
  const g = parseGenesis(doc, path);
  writeFileSync(path, `${JSON.stringify(genesisDocOf(g), null, 2)}\n`, { mode: 0o644 });
  return g;
}

/** Address of a public key as hex, for writing balances of known keys. */
export function addressHexOf(publicKey: Uint8Array): string {
  return toHex(addressOf(publicKey));
}
