// Config and genesis files: defaults, every kind of bad value refused with a message naming the key, round trips.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG, parseConfig, loadConfigFile, saveConfigFile, ConfigError } from '../../src/node/config.js';
import {
  parseGenesis,
  genesisDocOf,
  saveGenesisFile,
  loadGenesisFile,
  type GenesisDoc,
} from '../../src/node/genesis.js';
import { keyPairFromLabel, addressOf } from '../../src/core/keys.js';
import { toHex } from '../../src/core/bytes.js';
import { DEFAULT_CAPS } from '../../src/vm/types.js';

function badConfig(raw: unknown, pathInMessage: string): void {
  let err: unknown;
  try {
    parseConfig(raw, 'config.json');
  } catch (e) {
    err = e;
  }
  expect(err, `config ${JSON.stringify(raw)} must be refused`).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).message).toContain(`config.json: ${pathInMessage}`);
}

describe('config', () => {
  it('an empty object gives the defaults', () => {
    expect(parseConfig({})).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG.rpc.host).toBe('127.0.0.1');
  });

  it('keeps given values and fills the rest of a section', () => {
    const c = parseConfig({ rpc: { port: 0 }, block: { timeStepMs: 86_400_000 } });
    expect(c.rpc.port).toBe(0);
    expect(c.rpc.maxBatch).toBe(DEFAULT_CONFIG.rpc.maxBatch);
    expect(c.block.timeStepMs).toBe(86_400_000);
  });

  const cases: [string, unknown, string][] = [
    ['not an object', [], 'the top level'],
    ['unknown top key', { rpcc: {} }, 'rpcc is not a config key'],
    ['unknown section key', { rpc: { prot: 1 } }, 'rpc.prot is not a config key'],
    ['section not an object', { rpc: 5 }, 'rpc must be an object'],
    ['port as string', { rpc: { port: '8080' } }, 'rpc.port must be an integer'],
    ['port out of range', { rpc: { port: 70000 } }, 'rpc.port must be an integer from 0 to 65535'],
    ['fractional batch', { rpc: { maxBatch: 1.5 } }, 'rpc.maxBatch'],
    ['zero connections', { rpc: { maxConnections: 0 } }, 'rpc.maxConnections'],
    ['bad host', { rpc: { host: 'a b' } }, 'rpc.host'],
    ['tx bigger than protocol', { mempool: { maxTxBytes: 10_000_000 } }, 'mempool.maxTxBytes'],
    [
      'per-sender above total',
      { mempool: { maxTxs: 10, maxTxsPerSender: 11 } },
      'mempool.maxTxsPerSender must not exceed',
    ],
    ['negative interval', { block: { intervalMs: -1 } }, 'block.intervalMs'],
    [
      'empty interval below interval',
      { block: { intervalMs: 1000, emptyBlockIntervalMs: 10 } },
      'block.emptyBlockIntervalMs',
    ],
    ['block maxTxs above protocol', { block: { maxTxs: 1_000_000 } }, 'block.maxTxs'],
    ['bad log level', { log: { level: 'loud' } }, 'log.level must be one of'],
    ['metrics not boolean', { metrics: { enabled: 'yes' } }, 'metrics.enabled must be true or false'],
    [
      'pretenuring not boolean',
      { v8: { allocationSitePretenuring: 1 } },
      'v8.allocationSitePretenuring must be true or false',
    ],
    ['unknown v8 setting', { v8: { maxSemiSpace: 64 } }, 'v8.maxSemiSpace is not a config key'],
    ['empty dataDir', { dataDir: '' }, 'dataDir'],
    ['body too small for one tx', { rpc: { maxBodyBytes: 2048 } }, 'rpc.maxBodyBytes'],
  ];
  for (const [name, raw, msg] of cases) {
    it(`refuses ${name}`, () => badConfig(raw, msg));
  }

  it('files: a missing file, bad JSON and a round trip', () => {
    const dir = mkdtempSync(join(tmpdir(), 'autochain-config-'));
    try {
      const p = join(dir, 'config.json');
      expect(() => loadConfigFile(p)).toThrow(/no such config file/);
      writeFileSync(p, '{ "rpc": ');
      expect(() => loadConfigFile(p)).toThrow(/not valid JSON/);
      const saved = saveConfigFile(p, { rpc: { port: 1234 } });
      expect(loadConfigFile(p)).toEqual(saved);
      expect(saved.rpc.port).toBe(1234);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const v = keyPairFromLabel('validator');
const bank = keyPairFromLabel('bank');

function doc(): GenesisDoc {
  return {
    chainId: 'test-chain',
    genesisTime: '2026-01-01T00:00:00Z',
    members: [
      { id: 'op', name: 'Operator', roles: ['validator'], accounts: [toHex(v.publicKey)] },
      { id: 'bank', name: 'Bank', roles: ['bank'], accounts: [toHex(bank.publicKey)] },
    ],
    validators: [{ publicKey: toHex(v.publicKey), stake: '1000', memberId: 'op' }],
    balances: [{ asset: 'CNY', address: toHex(addressOf(bank.publicKey)), amount: '100000000' }],
    assets: [
      { code: 'CNY', decimals: 2 },
      { code: 'STAKE', decimals: 0 },
    ],
  };
}

function badGenesis(mutate: (d: GenesisDoc & Record<string, unknown>) => void, pathInMessage: string): void {
  const d = doc() as GenesisDoc & Record<string, unknown>;
  mutate(d);
  expect(() => parseGenesis(d, 'genesis.json'), pathInMessage).toThrow(`genesis.json: ${pathInMessage}`);
}

describe('genesis', () => {
  it('parses into the VM Genesis with defaults', () => {
    const g = parseGenesis(doc());
    expect(g.vm.chainId).toBe('test-chain');
    expect(g.vm.genesisTimeMs).toBe(BigInt(Date.UTC(2026, 0, 1)));
    expect(g.vm.validators[0]!.stake).toBe(1000n);
    expect(g.vm.balances[0]!.amount).toBe(100_000_000n);
    expect(g.vm.caps).toEqual(DEFAULT_CAPS);
    expect(g.blockGasLimit).toBeGreaterThan(0n);
    expect(g.consensus.proposeMs).toBeGreaterThan(0);
  });

  it('the canonical document parses back to the same genesis and hash', () => {
    const g = parseGenesis(doc());
    const again = parseGenesis(JSON.parse(JSON.stringify(genesisDocOf(g))));
    expect(again.vm).toEqual(g.vm);
    expect(toHex(again.hash)).toBe(toHex(g.hash));
    const other = parseGenesis({ ...doc(), chainId: 'other' });
    expect(toHex(other.hash)).not.toBe(toHex(g.hash));
  });

  it('refuses bad fields, naming them', () => {
    badGenesis((d) => {
      d.chainId = 'Bad Chain';
    }, 'chainId');
    badGenesis((d) => {
      d.genesisTime = 'yesterday';
    }, 'genesisTime');
    badGenesis((d) => {
      d.extra = 1;
    }, 'extra is not a genesis field');
    badGenesis((d) => {
      d.validators = [];
    }, 'validators must list at least one');
    badGenesis((d) => {
      d.validators[0]!.stake = '-5';
    }, 'validators[0].stake');
    badGenesis((d) => {
      d.validators[0]!.stake = '0';
    }, 'validators[0].stake must be greater than 0');
    badGenesis((d) => {
      d.validators[0]!.publicKey = 'abcd';
    }, 'validators[0].publicKey');
    badGenesis((d) => {
      d.validators[0]!.memberId = 'nobody';
    }, 'validators[0].memberId names no member');
    badGenesis((d) => {
      d.validators[0]!.memberId = 'bank';
    }, 'validators[0].memberId member bank lacks the validator role');
    badGenesis((d) => {
      d.members[1]!.roles = ['banker' as never];
    }, 'members[1].roles[0]');
    badGenesis((d) => {
      d.members[1]!.id = 'op';
    }, 'members[1].id repeats');
    badGenesis((d) => {
      d.members[1]!.accounts = [toHex(v.publicKey)];
    }, 'members[1].accounts[0] already belongs');
    badGenesis((d) => {
      d.balances[0]!.asset = 'USD';
    }, 'balances[0].asset is not listed');
    badGenesis((d) => {
      d.balances[0]!.amount = 100 as never;
    }, 'balances[0].amount must be a decimal string');
    badGenesis((d) => {
      d.balances[0]!.address = toHex(v.publicKey);
    }, 'balances[0].address');
    badGenesis((d) => {
      d.assets.push({ code: 'CNY', decimals: 2 });
    }, 'assets[2].code repeats');
    badGenesis((d) => {
      d.caps = { ltvBpsUsed: 20000 };
    }, 'caps.ltvBpsUsed');
    badGenesis((d) => {
      d.caps = { ltvMax: 1 } as never;
    }, 'caps.ltvMax is not a genesis field');
    badGenesis((d) => {
      d.blockGasLimit = '0';
    }, 'blockGasLimit');
    badGenesis((d) => {
      d.consensus = { proposeMs: 0 };
    }, 'consensus.proposeMs');
  });

  it('files round trip', () => {
    const dir = mkdtempSync(join(tmpdir(), 'autochain-genesis-'));
    try {
      const p = join(dir, 'genesis.json');
      expect(() => loadGenesisFile(p)).toThrow(/no such genesis file/);
      const g = saveGenesisFile(p, doc());
      expect(toHex(loadGenesisFile(p).hash)).toBe(toHex(g.hash));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
