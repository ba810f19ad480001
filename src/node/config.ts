// The node's config file (home/config.json): every operator-tunable limit with its default, and strict validation.
//
// Unknown keys are refused (a typo must not silently fall back to a default). Every error names the key path and
// what was expected, e.g. `config.json: rpc.port must be an integer from 0 to 65535 (got "abc")`.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { MAX_BLOCK_BYTES, MAX_BLOCK_TXS, MAX_TX_BYTES } from '../core/constants.js';
import { AutochainError } from '../core/errors.js';
import { DEFAULT_V8_TUNING, type V8Tuning } from './v8-tuning.js';

export class ConfigError extends AutochainError<'BAD_CONFIG' | 'BAD_GENESIS' | 'NOT_FOUND'> {}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface RpcConfig {
  /** Interface to listen on. 127.0.0.1 by default: expose it deliberately, behind a proxy with auth. */
  host: string;
  /** TCP port; 0 picks a free port (tests). */
  port: number;
  /** Largest HTTP request body and WebSocket message, bytes. */
  maxBodyBytes: number;
  /** Most requests in one JSON-RPC batch. */
  maxBatch: number;
  /** Most simultaneous HTTP + WebSocket connections. */
  maxConnections: number;
  /** Most live subscriptions per WebSocket connection. */
  maxSubscriptionsPerClient: number;
  /** Largest `limit` of a paged list. */
  maxPageLimit: number;
  /** Default and maximum wait of tx_submit with wait: true, ms. */
  submitTimeoutMs: number;
  /** Most notifications queued for one slow WebSocket client before it is disconnected. */
  maxQueuedNotifications: number;
}

export interface MempoolConfig {
  /** Largest tx accepted, bytes (at most the protocol limit MAX_TX_BYTES). */
  maxTxBytes: number;
  maxTxs: number;
  maxBytes: number;
  maxTxsPerSender: number;
  maxBytesPerSender: number;
  /** A tx's nonce must be below account nonce + nonceWindow. */
  nonceWindow: number;
}

export interface BlockConfig {
  /** Time between blocks while txs are waiting, ms. */
  intervalMs: number;
  /**
   * With no tx waiting, an empty block is still made after this long, ms, so that time-driven work (installments
   * falling due, delinquency) keeps running. 0 = never make empty blocks.
   */
  emptyBlockIntervalMs: number;
  /** Most txs in one block (at most the protocol limit MAX_BLOCK_TXS). */
  maxTxs: number;
  /** Most bytes of txs in one block. */
  maxBytes: number;
  /**
   * Devnet and tests only: when set, block time is genesisTimeMs + height x timeStepMs instead of the wall clock,
   * so a day can pass per block (e.g. 86400000 to see installments fall due). null in production.
   */
  timeStepMs: number | null;
}

export type ConsensusEngineKind = 'bft' | 'solo';

export interface ConsensusConfig {
  /**
   * 'bft': the Tendermint engine (src/consensus) with the signer guard; 'solo': the single-validator producer,
   * which commits alone while its key holds > 2/3 of the power.
   */
  engine: ConsensusEngineKind;
  /** The signer guard's record (last signed height/round/step, lock), relative to home unless absolute. Never
   * delete it while the key may sign: it is what stops a restarted validator from double-signing. */
  signStateFile: string;
}

export interface NodeConfig {
  /** Folder of the LevelDB database, relative to the home folder unless absolute. */
  dataDir: string;
  /** Validator key file (relative to home); absent file = a non-validating node. */
  validatorKeyFile: string;
  /** Node (p2p identity) key file, relative to home. */
  nodeKeyFile: string;
  rpc: RpcConfig;
  mempool: MempoolConfig;
  block: BlockConfig;
  consensus: ConsensusConfig;
  log: { level: LogLevel };
  metrics: { enabled: boolean };
  /** V8 settings applied when the node starts (src/node/v8-tuning.ts). */
  v8: V8Tuning;
}

export const DEFAULT_CONFIG: NodeConfig = {
  dataDir: 'data',
  validatorKeyFile: 'validator_key.json',
  nodeKeyFile: 'node_key.json',
  rpc: {
    host: '127.0.0.1',
    port: 26657,
    maxBodyBytes: 1024 * 1024,
    maxBatch: 50,
    maxConnections: 100,
    maxSubscriptionsPerClient: 16,
    maxPageLimit: 100,
    submitTimeoutMs: 30_000,
    maxQueuedNotifications: 1000,
  },
  mempool: {
    maxTxBytes: MAX_TX_BYTES,
    maxTxs: 20_000,
    maxBytes: 64 * 1024 * 1024,
    maxTxsPerSender: 256,
    maxBytesPerSender: 4 * 1024 * 1024,
    nonceWindow: 256,
  },
  block: {
    intervalMs: 1000,
    emptyBlockIntervalMs: 10_000,
    maxTxs: 5000,
    maxBytes: 8 * 1024 * 1024,
    timeStepMs: null,
  },
  consensus: { engine: 'bft', signStateFile: 'data/signer.json' },
  log: { level: 'info' },
  metrics: { enabled: true },
  v8: { ...DEFAULT_V8_TUNING },
};

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

type Check = (v: unknown) => string | null;

const int =
  (min: number, max: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
      ? null
      : `must be an integer from ${min} to ${max}`;
const nonEmptyString: Check = (v) =>
  typeof v === 'string' && v.length > 0 && v.length < 4096 ? null : 'must be a non-empty string';
const boolean: Check = (v) => (typeof v === 'boolean' ? null : 'must be true or false');
const oneOf =
  (values: readonly string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? null : `must be one of ${values.join(', ')}`;
const nullable =
  (c: Check): Check =>
  (v) =>
    v === null ? null : c(v);
const host: Check = (v) =>
  typeof v === 'string' && /^[A-Za-z0-9.:-]{1,253}$/.test(v) ? null : 'must be a host name or IP address';

const DAY_MS = 86_400_000;

/** Every key with its check. The shape of DEFAULT_CONFIG and this table must match (a test checks it). */
const SCHEMA: {
  [K in keyof NodeConfig]: NodeConfig[K] extends object ? { [J in keyof NodeConfig[K]]: Check } : Check;
} = {
  dataDir: nonEmptyString,
  validatorKeyFile: nonEmptyString,
  nodeKeyFile: nonEmptyString,
  rpc: {
    host,
    port: int(0, 65535),
    maxBodyBytes: int(1024, 64 * 1024 * 1024),
    maxBatch: int(1, 10_000),
    maxConnections: int(1, 100_000),
    maxSubscriptionsPerClient: int(1, 10_000),
    maxPageLimit: int(1, 10_000),
    submitTimeoutMs: int(1, 600_000),
    maxQueuedNotifications: int(1, 1_000_000),
  },
  mempool: {
    maxTxBytes: int(64, MAX_TX_BYTES),
    maxTxs: int(1, 10_000_000),
    maxBytes: int(1024, 16 * 1024 * 1024 * 1024),
    maxTxsPerSender: int(1, 10_000_000),
    maxBytesPerSender: int(64, 16 * 1024 * 1024 * 1024),
    nonceWindow: int(1, 1_000_000),
  },
  block: {
    intervalMs: int(1, 3_600_000),
    emptyBlockIntervalMs: int(0, 86_400_000),
    maxTxs: int(1, MAX_BLOCK_TXS),
    maxBytes: int(1024, MAX_BLOCK_BYTES - 64 * 1024),
    timeStepMs: nullable(int(1, 366 * DAY_MS)),
  },
  consensus: { engine: oneOf(['bft', 'solo']), signStateFile: nonEmptyString },
  log: { level: oneOf(LOG_LEVELS) },
  metrics: { enabled: boolean },
  v8: { allocationSitePretenuring: boolean },
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** A deep partial config, as read from the file: missing keys take their defaults. */
export type PartialConfig = {
  [K in keyof NodeConfig]?: NodeConfig[K] extends object ? Partial<NodeConfig[K]> : NodeConfig[K];
};

/**
 * Validates a parsed config object (missing keys take their defaults) and returns the full config.
 * Throws ConfigError naming the first bad key. `source` prefixes messages (the file name).
 */
export function parseConfig(raw: unknown, source = 'config'): NodeConfig {
  const fail = (path: string, what: string, v?: unknown): never => {
    throw new ConfigError('BAD_CONFIG', `${source}: ${path} ${what}${v === undefined ? '' : ` (got ${show(v)})`}`, {
      path,
    });
  };
  if (!isPlainObject(raw)) fail('the top level', 'must be a JSON object');
  const obj = raw as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(obj))
    if (!(key in SCHEMA)) fail(key, `is not a config key (known: ${Object.keys(SCHEMA).join(', ')})`);
  for (const [key, check] of Object.entries(SCHEMA) as [keyof NodeConfig, Check | Record<string, Check>][]) {
    const dflt = DEFAULT_CONFIG[key];
    const v = obj[key];
    if (typeof check === 'function') {
      if (v === undefined) out[key] = dflt;
      else {
        const err = check(v);
        if (err) fail(key, err, v);
        out[key] = v;
      }
      continue;
    }
    if (v !== undefined && !isPlainObject(v)) fail(key, 'must be an object', v);
    const section = (v ?? {}) as Record<string, unknown>;
    for (const sub of Object.keys(section)) {
      if (!(sub in check))
        fail(`${key}.${sub}`, `is not a config key (known in ${key}: ${Object.keys(check).join(', ')})`);
    }
    const merged: Record<string, unknown> = { ...(dflt as object) };
    for (const [sub, subCheck] of Object.entries(check)) {
      const sv = section[sub];
      if (sv === undefined) continue;
      const err = subCheck(sv);
      if (err) fail(`${key}.${sub}`, err, sv);
      merged[sub] = sv;
    }
    out[key] = merged;
  }
  const cfg = out as unknown as NodeConfig;
  // Cross-field rules.
  if (cfg.mempool.maxTxsPerSender > cfg.mempool.maxTxs)
    fail(
      'mempool.maxTxsPerSender',
      `must not exceed mempool.maxTxs (${cfg.mempool.maxTxs})`,
      cfg.mempool.maxTxsPerSender,
    );
  if (cfg.mempool.maxBytesPerSender > cfg.mempool.maxBytes)
    fail(
      'mempool.maxBytesPerSender',
      `must not exceed mempool.maxBytes (${cfg.mempool.maxBytes})`,
      cfg.mempool.maxBytesPerSender,
    );
  if (cfg.mempool.maxTxBytes > cfg.block.maxBytes)
    fail('mempool.maxTxBytes', `must not exceed block.maxBytes (${cfg.block.maxBytes})`, cfg.mempool.maxTxBytes);
  if (cfg.rpc.maxBodyBytes < cfg.mempool.maxTxBytes * 2 + 1024) {
    fail(
      'rpc.maxBodyBytes',
      `must hold one tx in hex (at least ${cfg.mempool.maxTxBytes * 2 + 1024})`,
      cfg.rpc.maxBodyBytes,
    );
  }
  if (cfg.block.emptyBlockIntervalMs !== 0 && cfg.block.emptyBlockIntervalMs < cfg.block.intervalMs) {
    fail(
      'block.emptyBlockIntervalMs',
      `must be 0 or at least block.intervalMs (${cfg.block.intervalMs})`,
      cfg.block.emptyBlockIntervalMs,
    );
  }
  return cfg;
}

/** Reads and validates a config file. A missing file is an error (init writes one); a bad one names the key. */
export function loadConfigFile(path: string): NodeConfig {
  if (!existsSync(path))
    throw new ConfigError('NOT_FOUND', `${path}: no such config file (run \`autochain init\` first)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError('BAD_CONFIG', `${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseConfig(raw, path);
}

/** Writes a config file (pretty JSON), e.g. from `autochain init`. The content is validated first. */
export function saveConfigFile(path: string, config: PartialConfig): NodeConfig {
  const full = parseConfig(config, path);
  writeFileSync(path, `${JSON.stringify(full, null, 2)}\n`, { mode: 0o644 });
  return full;
}
