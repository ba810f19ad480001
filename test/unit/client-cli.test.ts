// The CLI's argument parsing and failure reporting: exact percentages, addresses, and one-line errors with exit codes.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Command } from 'commander';
import {
  UsageError,
  formatBps,
  parseAddress,
  parseChoice,
  parseIntArg,
  parsePercentBps,
  reportError,
} from '../../bin/lib/common.js';
import { ClientError, RpcError, TransportError, TxFailedError } from '../../src/client/errors.js';
import { AmountError } from '../../src/client/amount.js';
import { CryptoError } from '../../src/core/errors.js';
import { DEFAULT_RPC_URL } from '../../src/client/client.js';
import { DEFAULT_CONFIG } from '../../src/node/config.js';

describe('defaults', () => {
  it("the client's and the CLI's default RPC URL is the node's default listen address", () => {
    expect(DEFAULT_RPC_URL).toBe(`http://${DEFAULT_CONFIG.rpc.host}:${DEFAULT_CONFIG.rpc.port}`);
  });
});

describe('CLI argument parsing', () => {
  it('reads percentages exactly as basis points', () => {
    const cases: [string, number][] = [
      ['6', 600],
      ['6.5', 650],
      ['4.35', 435],
      ['0.01', 1],
      ['80%', 8000],
      ['100', 10000],
    ];
    for (const [text, bps] of cases) expect(parsePercentBps(text, '--apr'), text).toBe(bps);
    for (const bad of ['4.355', '-1', 'abc', '1e2'])
      expect(() => parsePercentBps(bad, '--apr'), bad).toThrow(UsageError);
    expect(formatBps(650)).toBe('6.5%');
    expect(formatBps(600)).toBe('6%');
    expect(formatBps(435)).toBe('4.35%');
  });

  it('checks addresses, whole numbers and choices', () => {
    expect(parseAddress('AB'.repeat(20), '--to')).toHaveLength(20);
    expect(() => parseAddress('ab'.repeat(19), '--to')).toThrow(/40 hex digits/);
    expect(parseIntArg('36', '--term', 1, 120)).toBe(36);
    expect(() => parseIntArg('3.5', '--term', 1, 120)).toThrow(/whole number/);
    expect(() => parseIntArg('121', '--term', 1, 120)).toThrow(/between 1 and 120/);
    expect(parseChoice('NEWENERGY', ['fuel', 'newEnergy'] as const, '--energy')).toBe('newEnergy');
    expect(() => parseChoice('diesel', ['fuel', 'newEnergy'] as const, '--energy')).toThrow(/one of fuel, newEnergy/);
  });
});

describe('reportError', () => {
  afterEach(() => vi.restoreAllMocks());

  function report(e: unknown, json = false): { exit: number; stderr: string; stdout: string } {
    let stderr = '';
    let stdout = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
    const exit = reportError(e, json);
    vi.restoreAllMocks();
    return { exit, stderr, stdout };
  }

  it('maps each kind of failure to its exit code with one line on stderr', () => {
    const cases: [unknown, number, RegExp][] = [
      [
        new TxFailedError('loan.NOT_FOUND', 'no loan 9', 'ab12', {}),
        1,
        /^error: tx ab12 failed: loan\.NOT_FOUND: no loan 9$/,
      ],
      [
        new RpcError(-32000, 'nonce already used', { reason: 'NONCE_TOO_LOW' }, 'tx_submit'),
        1,
        /^error: nonce already used \(NONCE_TOO_LOW\)$/,
      ],
      [new RpcError(-32002, 'loan 99 not found', undefined, 'loan_get'), 1, /^error: loan 99 not found$/],
      [
        new TransportError('UNREACHABLE', 'cannot reach the node at http://x (ECONNREFUSED); is it running?'),
        3,
        /^error: cannot reach/,
      ],
      [new UsageError('--amount is required'), 2, /^error: --amount is required$/],
      [new AmountError('TOO_MANY_DECIMALS', '"1.005" has more than 2 decimal places'), 2, /decimal places/],
      [new ClientError('BAD_ARGS', 'vehicle.register: bad'), 2, /vehicle\.register/],
      [new CryptoError('BAD_KEY_FILE', 'k.json is not an autochain ed25519 key file'), 2, /key file/],
      [new Error('boom\n  at somewhere'), 70, /^error: internal error: boom/],
    ];
    for (const [e, exit, line] of cases) {
      const r = report(e);
      expect(r.exit, String(e)).toBe(exit);
      expect(r.stderr.endsWith('\n') && r.stderr.split('\n').length === 2, `one line: ${r.stderr}`).toBe(true);
      expect(r.stderr.trim(), String(e)).toMatch(line);
      expect(r.stdout).toBe('');
    }
  });

  it('also prints a JSON error on stdout with --json', () => {
    const r = report(new RpcError(-32002, 'loan 99 not found', undefined, 'loan_get'), true);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: -32002, message: 'loan 99 not found' } });
  });
});

describe('CLI help', () => {
  it('every command and subcommand shows an example in its --help', async () => {
    const { buildProgram } = await import('../../bin/cli.js');
    const program = buildProgram();
    const all: Command[] = [];
    const walk = (c: Command): void => {
      all.push(c);
      for (const sub of c.commands) walk(sub);
    };
    walk(program);
    expect(all.length).toBeGreaterThan(25);
    for (const c of all) {
      if (c.name() === 'help') continue;
      let text = '';
      c.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
      c.outputHelp();
      expect(text, `autochain ... ${c.name()} --help`).toMatch(/Examples?:\n {2}\$ autochain /);
    }
  });
});

describe('CLI commands for staking, member votes and loans after default', () => {
  afterEach(() => vi.restoreAllMocks());

  async function run(...args: string[]): Promise<{ exit: number; stderr: string }> {
    const { main } = await import('../../bin/cli.js');
    let stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    // Port 9 (discard): a command that reached the network would fail with exit 3, not the usage error expected.
    const exit = await main(['node', 'autochain', ...args, '--rpc', 'http://127.0.0.1:9']);
    vi.restoreAllMocks();
    return { exit, stderr };
  }

  it('registers every new command', async () => {
    const { buildProgram } = await import('../../bin/cli.js');
    const program = buildProgram();
    const names = (group: string): string[] =>
      program.commands.find((c) => c.name() === group)?.commands.map((c) => c.name()) ?? [];
    expect(names('credit')).toContain('revoke');
    expect(names('loan')).toEqual(expect.arrayContaining(['assign', 'accept', 'repossess', 'sale']));
    expect(names('staking')).toEqual(['bond', 'unbond', 'unjail', 'list']);
    expect(names('member')).toEqual(expect.arrayContaining(['propose-admit', 'propose-remove', 'vote']));
  });

  it('refuses bad arguments with one line and exit code 2 before contacting the node', async () => {
    const cases: [string[], RegExp][] = [
      [
        [
          'member',
          'propose-admit',
          '--key',
          'k.json',
          '--id',
          'x',
          '--name',
          'X',
          '--roles',
          'pilot',
          '--accounts',
          'ab',
        ],
        /--roles must be one of validator, lender/,
      ],
      [
        [
          'member',
          'propose-admit',
          '--key',
          'k.json',
          '--id',
          'x',
          '--name',
          'X',
          '--roles',
          'lender',
          '--accounts',
          'ab',
        ],
        /--accounts takes key files or public keys of 64 hex digits/,
      ],
      [['member', 'vote', 'first'], /the proposal id must be a whole number/],
      [['loan', 'assign', '1', '--to', 'nothex', '--price', '1'], /--to must be an address of 40 hex digits/],
      [['loan', 'sale', '1', '--proceeds', '1'], /required option '--buyer <address>' not specified/],
      [['loan', 'repossess', 'x'], /the loan id must be a whole number/],
      [['credit', 'revoke', '--lender', '12'], /--lender must be an address/],
      [['staking', 'bond', '--amount', '5'], /pass --key/],
    ];
    for (const [args, reason] of cases) {
      const r = await run(...args);
      expect(r.exit, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n'), `one line: ${r.stderr}`).toHaveLength(2);
      expect(r.stderr, args.join(' ')).toMatch(reason);
    }
  });
});
