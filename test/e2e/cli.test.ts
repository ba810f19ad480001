// End to end as a new user: the built `autochain` binary starts a devnet, then CLI commands (each a child process)
// take one car loan from vehicle registration to payoff; bad input fails with one line and a non-zero exit code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const BUILD = join(ROOT, 'node_modules', '.cache', `autochain-e2e-${process.pid}`);
const BIN = join(BUILD, 'bin', 'autochain.js');
/** A valid VIN (check digit 0) and the same VIN with a wrong check digit. */
const VIN = 'LGXCE4CB0R0000017';
const BAD_VIN = 'LGXCE4CB1R0000017';

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
    execFile(process.execPath, [BIN, ...args, '--rpc', rpc], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      done({ code, stdout, stderr });
    });
  });
}

const key = (name: string): string => join(home, 'keys', `${name}.json`);

/** A command that must succeed: on failure the assertion shows what it printed. */
async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  expect(r.code, `autochain ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** A command that must fail with exit code `code` and exactly one line on stderr matching `reason`. */
async function fails(code: number, reason: RegExp, ...args: string[]): Promise<void> {
  const r = await cli(...args);
  expect(r.code, `autochain ${args.join(' ')}: ${r.stderr}`).toBe(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines, `one line for: autochain ${args.join(' ')}`).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(reason);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

/** Starts `autochain devnet` on the test's home and resolves with the RPC address once it says it is running. */
function startDevnet(): Promise<string> {
  devnetOut = '';
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
      if (m?.[1] && /devnet is running/.test(devnetOut) && /borrower\s+\S+borrower\.json/.test(devnetOut)) {
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
  // Build the binary as a new user's `npm run build` would, into a private folder under node_modules/.cache, so a
  // concurrent build of dist/ by anything else cannot change the files under this test. The launcher is copied next
  // to its dist/ so it resolves ../dist/bin/cli.js there; node_modules resolve by walking up to the project's.
  mkdirSync(join(BUILD, 'bin'), { recursive: true });
  copyFileSync(join(ROOT, 'bin', 'autochain.js'), BIN);
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--outDir', join(BUILD, 'dist')],
      { cwd: ROOT, stdio: 'ignore' });
  } catch {
    // tsc still emits when some other file has a type error; a missing CLI is reported just below.
  }
  expect(existsSync(join(BUILD, 'dist', 'bin', 'cli.js')), 'the build produced no dist/bin/cli.js').toBe(true);
  home = mkdtempSync(join(tmpdir(), 'autochain-e2e-'));
  rpc = await startDevnet();
}, 120_000);

afterAll(async () => {
  await stopDevnet();
  if (home !== '') rmSync(home, { recursive: true, force: true });
  rmSync(BUILD, { recursive: true, force: true });
});

describe('autochain CLI against a devnet', () => {
  it('prints the RPC address and the key files of every demo member', () => {
    for (const name of ['bank', 'lender', 'dealer', 'manufacturer', 'bureau', 'registrar', 'borrower']) {
      expect(devnetOut).toContain(key(name));
      expect(existsSync(key(name)), name).toBe(true);
    }
    expect(devnetOut).toMatch(/chain\s+autochain-devnet/);
  });

  it('takes one car loan from vehicle registration to payoff', async () => {
    const status = JSON.parse(await ok('status', '--json')) as { chainId: string; height: string };
    expect(status.chainId).toBe('autochain-devnet');

    expect(await ok('vehicle', 'register', '--key', key('manufacturer'), '--vin', VIN, '--make', 'BYD', '--model', 'Qin PLUS',
      '--year', '2025', '--energy', 'newEnergy', '--owner', key('dealer')))
      .toMatch(new RegExp(`^registered ${VIN}: 2025 BYD Qin PLUS \\(newEnergy, private, new\\)`));
    expect(await ok('vehicle', 'appraise', '--key', key('dealer'), '--vin', VIN, '--amount', '150000'))
      .toMatch(`appraised ${VIN} at 150,000.00 CNY`);
    expect(await ok('credit', 'attest', '--key', key('bureau'), '--borrower', key('borrower'), '--score', '720', '--band', 'B',
      '--income', '30000', '--debt', '2000')).toMatch(/score 720 \(band B\), income 30,000.00 CNY\/month, outside debt 2,000.00 CNY\/month/);
    expect(await ok('credit', 'consent', '--key', key('borrower'), '--lender', key('lender'), '--days', '30'))
      .toMatch(/^consent granted to lender [0-9a-f]{40} for autoLoan until /);
    expect(await ok('product', 'create', '--key', key('lender'), '--name', 'New-energy 2025', '--terms', '12,24,36'))
      .toMatch(/^created product 1 "New-energy 2025" \(CNY, levelPayment, terms 12\/24\/36 months, APR A 4.5% B 6% C 8%/);

    // 150,000 - 30,000 down = 120,000 at 6% (band B) over 36 months: 3,650.63 a month (amortization formula).
    const applied = await ok('loan', 'apply', '--key', key('borrower'), '--product', '1', '--vin', VIN, '--price', '150000',
      '--down', '30000', '--term', '36');
    expect(applied).toMatch(/^application 1 approved: principal 120,000.00 CNY, APR 6%, 36 months, installment 3,650.63 CNY/);

    expect(await ok('loan', 'fund', '1', '--key', key('lender')))
      .toMatch(new RegExp(`^funded loan 1: paid 120,000.00 CNY to seller [0-9a-f]{40}, lien registered on ${VIN}`));
    const liened = await ok('vehicle', 'show', VIN);
    expect(liened).toMatch(/lien\s+loan 1, lender [0-9a-f]{40}/);

    expect(await ok('loan', 'repay', '1', '--key', key('borrower'), '--amount', '3650.63'))
      .toMatch(/^paid 3,650.63 CNY on loan 1: .*loan is current/);
    const shown = JSON.parse(await ok('loan', 'show', '1', '--json')) as { status: string; balances: { payoff: string }; schedule: unknown[] };
    expect(shown.status).toBe('current');
    expect(shown.schedule).toHaveLength(36);
    expect(BigInt(shown.balances.payoff)).toBe(12_000_000n - 365_063n); // the early payment went to principal

    const payoff = await ok('loan', 'repay', '1', '--key', key('borrower'), '--payoff');
    expect(payoff).toMatch(/^paid 116,349.37 CNY on loan 1: .*loan is paidOff/);
    expect(payoff).toMatch(`the lien on ${VIN} is released`);

    const final = await ok('loan', 'show', '1');
    expect(final).toMatch(/^loan 1 {2}paidOff/);
    expect(final).toMatch(/outstanding {2}principal 0.00 CNY; payoff 0.00 CNY/);
    expect(await ok('vehicle', 'show', VIN)).toMatch(/lien\s+none/);
    expect(await ok('loan', 'list', '--borrower', key('borrower'))).toMatch(new RegExp(`1 {2}loan paidOff\\s+${VIN}`));
    // 500,000 at genesis - 3,650.63 - 116,349.37 = 380,000.00 CNY left.
    expect(await ok('account', key('borrower'))).toMatch(/balance {2}380,000.00 CNY/);
  }, 120_000);

  it('fails with one line and a non-zero exit code on bad input, changing nothing', async () => {
    const badKey = join(home, 'not-a-key.json');
    writeFileSync(badKey, '{"hello":"world"}');
    await fails(2, /not an autochain ed25519 key file/, 'tx', 'transfer', '--key', badKey, '--to', key('dealer'), '--amount', '1');
    await fails(2, /cannot read key file/, 'tx', 'transfer', '--key', join(home, 'missing.json'), '--to', key('dealer'), '--amount', '1');
    await fails(2, /pass --key/, 'tx', 'transfer', '--to', key('dealer'), '--amount', '1');
    await fails(1, /loan 99 not found/, 'loan', 'show', '99');
    await fails(1, /loan 99 not found/, 'loan', 'repay', '99', '--key', key('borrower'), '--amount', '1');
    await fails(2, /invalid VIN .*check digit/, 'vehicle', 'register', '--key', key('manufacturer'), '--vin', BAD_VIN, '--make', 'BYD',
      '--model', 'Han', '--year', '2025', '--owner', key('dealer'));
    await fails(2, /more than 2 decimal places/, 'tx', 'transfer', '--key', key('borrower'), '--to', key('dealer'), '--amount', '1.005');
    await fails(2, /unknown command/, 'loan', 'frobnicate');
    // A tx the chain refuses: the borrower is no registrant. The receipt's code is the reason; the vehicle does not exist.
    const other = 'LSVAU2182R2183294';
    await fails(1, /vehicle\.NOT_REGISTRANT/, 'vehicle', 'register', '--key', key('borrower'), '--vin', other, '--make', 'VW',
      '--model', 'Lavida', '--year', '2025', '--owner', key('borrower'));
    await fails(1, /not found/, 'vehicle', 'show', other);
    // The balance did not move through any of the failures.
    expect(await ok('account', key('borrower'))).toMatch(/balance {2}380,000.00 CNY/);
    const json = await cli('loan', 'show', '99', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: -32002, message: expect.stringMatching(/loan 99 not found/) } });
  }, 120_000);

  it('reports a node that is not running as unreachable (exit 3)', async () => {
    const r = await new Promise<Run>((done) => {
      execFile(process.execPath, [BIN, 'status', '--rpc', 'http://127.0.0.1:9'], { cwd: ROOT }, (err, stdout, stderr) => {
        done({ code: err === null ? 0 : Number(err.code), stdout, stderr });
      });
    });
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toMatch(/^error: cannot reach the node at http:\/\/127\.0\.0\.1:9 .*is it running\?$/);
  });

  it('restarts where it stopped when devnet runs again on the same home', async () => {
    const before = JSON.parse(await ok('status', '--json')) as { height: string };
    await stopDevnet();
    rpc = await startDevnet();
    expect(devnetOut).toMatch(/^restarting the devnet in /m);
    expect(devnetOut).not.toMatch(/onboarding/); // set up once only
    const after = JSON.parse(await ok('status', '--json')) as { height: string };
    expect(BigInt(after.height)).toBeGreaterThanOrEqual(BigInt(before.height));
    expect(await ok('loan', 'show', '1')).toMatch(/^loan 1 {2}paidOff/);
  });

  it('shows an example in every command help', async () => {
    for (const args of [['devnet'], ['loan', 'apply'], ['loan', 'repay'], ['vehicle', 'register'], ['credit', 'attest'], ['keys', 'new']]) {
      const out = await ok(...args, '--help');
      expect(out, args.join(' ')).toMatch(/Example:\n {2}\$ autochain /);
    }
  });
});

describe('bin/autochain.js launcher', () => {
  it('says "run npm run build" in one line when dist/ is missing', () => {
    const bare = mkdtempSync(join(tmpdir(), 'autochain-nodist-'));
    try {
      mkdirSync(join(bare, 'bin'));
      copyFileSync(join(ROOT, 'bin', 'autochain.js'), join(bare, 'bin', 'autochain.js'));
      writeFileSync(join(bare, 'package.json'), '{"type":"module"}');
      const r = spawnSync(process.execPath, [join(bare, 'bin', 'autochain.js'), 'status'], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/run npm run build/);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });

  // The system Node of this machine is 20 (end of life); skipped where no Node older than 22 is installed.
  const oldNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => {
    if (!existsSync(p)) return false;
    const v = spawnSync(p, ['--version'], { encoding: 'utf8' }).stdout.trim();
    return /^v\d+/.test(v) && Number(v.slice(1).split('.')[0]) < 22;
  });
  it.skipIf(oldNode === undefined)('refuses a Node older than 22 in one line saying what to do', () => {
    const r = spawnSync(oldNode ?? 'node', [join(ROOT, 'bin', 'autochain.js'), 'status'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/needs Node 22 or newer .*npx autochain.*npm start.*install Node 22\+/);
  });
});

