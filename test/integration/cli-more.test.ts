// The CLI commands beyond the happy path of one loan, run as the built `autochain` binary against a devnet child:
// credit revoke (then an application is rejected for missing consent), a loan driven into default and through
// repossession and sale (lien released), and staking list. The devnet's config is given block.timeStepMs = 1 day and
// frequent empty blocks, so an installment falls due and the loan defaults within seconds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createDevnet } from '../../bin/lib/home.js';
import { AutochainClient } from '../../src/client/client.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BUILD = join(ROOT, 'node_modules', '.cache', `autochain-cli-more-${process.pid}`);
const BIN = join(BUILD, 'bin', 'autochain.js');
const VIN = 'LGXCE4CB0R0000017';
const DAY_MS = 86_400_000;

let home = '';
let devnet: ChildProcess | null = null;
let devnetOut = '';
let rpc = '';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args, '--rpc', rpc], { cwd: ROOT, timeout: 30_000 }, (err, stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

const key = (name: string): string => join(home, 'keys', `${name}.json`);

async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  expect(r.code, `autochain ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Fails with exit code `code` and one line on stderr matching `reason`; returns stdout. */
async function fails(code: number, reason: RegExp, ...args: string[]): Promise<string> {
  const r = await cli(...args);
  expect(r.code, `autochain ${args.join(' ')}: ${r.stdout} ${r.stderr}`).toBe(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines, `one line for: autochain ${args.join(' ')}`).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(reason);
  return r.stdout;
}

function startDevnet(): Promise<string> {
  const p = spawn(process.execPath, [BIN, 'devnet', '--home', home, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  devnet = p;
  p.stderr.on('data', (d: Buffer) => {
    devnetOut += d.toString();
  });
  return new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`devnet printed no RPC address in 30 s:\n${devnetOut}`)), 30_000);
    p.stdout.on('data', (d: Buffer) => {
      devnetOut += d.toString();
      const m = /^\s+rpc\s+(http:\/\/127\.0\.0\.1:\d+)$/m.exec(devnetOut);
      if (m?.[1] && /devnet is running/.test(devnetOut)) {
        clearTimeout(timer);
        done(m[1]);
      }
    });
    p.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`devnet exited with ${code}:\n${devnetOut}`));
    });
  });
}

function stopDevnet(): Promise<void> {
  const p = devnet;
  devnet = null;
  if (p === null || p.exitCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => p.kill('SIGKILL'), 10_000);
    p.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    p.kill('SIGINT');
  });
}

beforeAll(async () => {
  // Built privately, as the e2e test does, so a concurrent build of dist/ cannot change the files under this test.
  mkdirSync(join(BUILD, 'bin'), { recursive: true });
  copyFileSync(join(ROOT, 'bin', 'autochain.js'), BIN);
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--outDir', join(BUILD, 'dist')],
      { cwd: ROOT, stdio: 'ignore' });
  } catch {
    // tsc still emits when some other file has a type error; a missing CLI is reported just below.
  }
  expect(existsSync(join(BUILD, 'dist', 'bin', 'cli.js')), 'the build produced no dist/bin/cli.js').toBe(true);
  home = mkdtempSync(join(tmpdir(), 'autochain-cli-more-'));
  // The devnet's own files, then a day per block and an empty block every 100 ms: 10 chain days a second.
  createDevnet(home, { port: 0 });
  const configPath = join(home, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { block?: Record<string, unknown> };
  config.block = { ...config.block, intervalMs: 50, emptyBlockIntervalMs: 100, timeStepMs: DAY_MS };
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  rpc = await startDevnet();
}, 90_000);

afterAll(async () => {
  await stopDevnet();
  if (home !== '') rmSync(home, { recursive: true, force: true });
  rmSync(BUILD, { recursive: true, force: true });
});

describe('autochain CLI: revoke, default, repossession, sale, staking', () => {
  it('rejects an application after the borrower revoked consent, then repossesses and sells a defaulted loan', async () => {
    await ok('vehicle', 'register', '--key', key('manufacturer'), '--vin', VIN, '--make', 'BYD', '--model', 'Han', '--year', '2025',
      '--owner', key('dealer'));
    await ok('vehicle', 'appraise', '--key', key('dealer'), '--vin', VIN, '--amount', '150000');
    // Long validity: chain time runs ten days a second here.
    await ok('credit', 'attest', '--key', key('bureau'), '--borrower', key('borrower'), '--score', '720', '--band', 'B',
      '--income', '30000', '--valid-days', '3650');
    await ok('credit', 'consent', '--key', key('borrower'), '--lender', key('lender'), '--days', '3650');
    await ok('product', 'create', '--key', key('lender'), '--name', 'Fast default', '--terms', '12', '--grace-days', '0', '--default-days', '1');

    const revoked = await ok('credit', 'revoke', '--key', key('borrower'), '--lender', key('lender'));
    expect(revoked).toMatch(/^consent revoked for lender lender: new applications to it are rejected/);
    expect(await ok('credit', 'show', key('borrower'))).toMatch(/consent {6}lender for autoLoan until .*, revoked /);
    // Revoking again: the chain refuses (exit 1), one line naming the code.
    await fails(1, /credit\.NO_CONSENT/, 'credit', 'revoke', '--key', key('borrower'), '--lender', key('lender'));
    const rejected = await cli('loan', 'apply', '--key', key('borrower'), '--product', '1', '--vin', VIN, '--price', '150000',
      '--down', '30000', '--term', '12');
    expect(rejected.code, rejected.stderr).toBe(1);
    expect(rejected.stdout).toMatch(/^application 1 rejected: NO_CONSENT/);

    await ok('credit', 'consent', '--key', key('borrower'), '--lender', key('lender'), '--days', '3650');
    expect(await ok('loan', 'apply', '--key', key('borrower'), '--product', '1', '--vin', VIN, '--price', '150000', '--down', '30000',
      '--term', '12')).toMatch(/^application 2 approved: principal 120,000.00 CNY/);
    await ok('loan', 'fund', '2', '--key', key('lender'));

    // Bad input changes nothing: too many decimals (exit 2), an unknown loan (exit 1).
    await fails(2, /more than 2 decimal places/, 'loan', 'sale', '2', '--key', key('lender'), '--buyer', key('dealer'), '--proceeds', '1.001');
    await fails(1, /loan 99 not found/, 'loan', 'repossess', '99', '--key', key('lender'));

    // No payment: the first installment falls due a month after funding and the loan defaults a day later.
    const client = new AutochainClient({ url: rpc });
    let status = '';
    for (let i = 0; i < 200 && status !== 'defaulted'; i++) {
      status = String((await client.loan(2n)).status);
      if (status !== 'defaulted') await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('defaulted');
    await client.close();

    const lender = JSON.parse(await ok('keys', 'show', key('lender'), '--json')) as { address: string };
    const repossessed = await ok('loan', 'repossess', '2', '--key', key('lender'));
    expect(repossessed).toMatch(new RegExp(`^repossessed ${VIN} for loan 2: the vehicle is seized and owned by the lender; payoff [\\d,]+\\.\\d\\d CNY`));
    const seized = await ok('vehicle', 'show', VIN);
    expect(seized).toMatch(/status {5}seized/);
    expect(seized).toMatch(`owner      ${lender.address}`);
    expect(seized).toMatch(/lien {7}loan 2, lender /);
    // Repossessed already: a second repossession is refused.
    await fails(1, /loan\.NOT_DEFAULTED/, 'loan', 'repossess', '2', '--key', key('lender'));

    const sold = JSON.parse(await ok('loan', 'sale', '2', '--key', key('lender'), '--buyer', key('dealer'), '--proceeds', '100000', '--json')) as {
      vin: string; proceeds: string; applied: string; deficiency: string; surplus: string;
    };
    expect(sold.vin).toBe(VIN);
    expect(sold.proceeds).toBe('10000000');
    expect(BigInt(sold.applied) + BigInt(sold.surplus)).toBe(10_000_000n);
    const dealer = JSON.parse(await ok('keys', 'show', key('dealer'), '--json')) as { address: string };
    const after = await ok('vehicle', 'show', VIN);
    expect(after).toMatch(/lien {7}none/);
    expect(after).toMatch(/status {5}active/);
    expect(after).toMatch(`owner      ${dealer.address}`);
    expect(await ok('loan', 'show', '2')).toMatch(/^loan 2 {2}sold/);
  }, 60_000);

  it('lists the validators', async () => {
    const human = await ok('staking', 'list');
    expect(human).toMatch(/^[0-9a-f]{40} {2}operator\s+stake\s+1,000,000 STAKE {2}power 1000000$/m);
    expect(human).toMatch(/total power 1000000 \(1 validators\)/);
    const json = JSON.parse(await ok('staking', 'list', '--json')) as { validators: { memberId: string; power: string }[]; totalPower: string };
    expect(json.validators.map((v) => v.memberId)).toEqual(['operator']);
    expect(json.totalPower).toBe('1000000');
    // Only validator-operator members bond; the borrower is refused and nothing changes.
    await fails(1, /staking\.NOT_VALIDATOR_OPERATOR/, 'staking', 'bond', '--key', key('borrower'), '--amount', '10');
    expect((JSON.parse(await ok('staking', 'list', '--json')) as { totalPower: string }).totalPower).toBe('1000000');
  });
});
