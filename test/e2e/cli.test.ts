// End to end as a new user: the built `autochain` binary starts a devnet, then CLI commands (each a child process)
// take one car loan from vehicle registration to payoff; bad input fails with one line and a non-zero exit code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliHarness, ROOT, type Run } from '../helpers/cli.js';

/** A valid VIN (check digit 0) and the same VIN with a wrong check digit. */
const VIN = 'LGXCE4CB0R0000017';
const BAD_VIN = 'LGXCE4CB1R0000017';

const h = new CliHarness('e2e');
const { home, bin: BIN } = h;
const key = (name: string): string => h.key(name);
const cli = (...args: string[]) => h.cli(...args);
const ok = (...args: string[]) => h.ok(...args);
const fails = async (code: number, reason: RegExp, ...args: string[]): Promise<void> => {
  await h.fails(code, reason, ...args);
};

beforeAll(async () => {
  h.buildBinary();
  await h.startDevnet();
}, 120_000);

afterAll(async () => {
  await h.cleanup();
});

describe('autochain CLI against a devnet', () => {
  it('prints the RPC address and the key files of every demo member', () => {
    for (const name of ['bank', 'lender', 'dealer', 'manufacturer', 'bureau', 'registrar', 'borrower']) {
      expect(h.devnetOut).toContain(key(name));
      expect(existsSync(key(name)), name).toBe(true);
    }
    expect(h.devnetOut).toMatch(/chain\s+autochain-devnet/);
  });

  it('takes one car loan from vehicle registration to payoff', async () => {
    const status = JSON.parse(await ok('status', '--json')) as { chainId: string; height: string };
    expect(status.chainId).toBe('autochain-devnet');

    expect(
      await ok(
        'vehicle',
        'register',
        '--key',
        key('manufacturer'),
        '--vin',
        VIN,
        '--make',
        'BYD',
        '--model',
        'Qin PLUS',
        '--year',
        '2025',
        '--energy',
        'newEnergy',
        '--owner',
        key('dealer'),
      ),
    ).toMatch(new RegExp(`^registered ${VIN}: 2025 BYD Qin PLUS \\(newEnergy, private, new\\)`));
    expect(await ok('vehicle', 'appraise', '--key', key('dealer'), '--vin', VIN, '--amount', '150000')).toMatch(
      `appraised ${VIN} at 150,000.00 CNY`,
    );
    expect(
      await ok(
        'credit',
        'attest',
        '--key',
        key('bureau'),
        '--borrower',
        key('borrower'),
        '--score',
        '720',
        '--band',
        'B',
        '--income',
        '30000',
        '--debt',
        '2000',
      ),
    ).toMatch(/score 720 \(band B\), income 30,000.00 CNY\/month, outside debt 2,000.00 CNY\/month/);
    expect(await ok('credit', 'consent', '--key', key('borrower'), '--lender', key('lender'), '--days', '30')).toMatch(
      /^consent granted to lender [0-9a-f]{40} for autoLoan until /,
    );
    expect(
      await ok('product', 'create', '--key', key('lender'), '--name', 'New-energy 2025', '--terms', '12,24,36'),
    ).toMatch(
      /^created product 1 "New-energy 2025" \(CNY, levelPayment, terms 12\/24\/36 months, APR A 4.5% B 6% C 8%/,
    );

    // 150,000 - 30,000 down = 120,000 at 6% (band B) over 36 months: 3,650.63 a month (amortization formula).
    const applied = await ok(
      'loan',
      'apply',
      '--key',
      key('borrower'),
      '--product',
      '1',
      '--vin',
      VIN,
      '--price',
      '150000',
      '--down',
      '30000',
      '--term',
      '36',
    );
    expect(applied).toMatch(
      /^application 1 approved: principal 120,000.00 CNY, APR 6%, 36 months, installment 3,650.63 CNY/,
    );

    expect(await ok('loan', 'fund', '1', '--key', key('lender'))).toMatch(
      new RegExp(`^funded loan 1: paid 120,000.00 CNY to seller [0-9a-f]{40}, lien registered on ${VIN}`),
    );
    const liened = await ok('vehicle', 'show', VIN);
    expect(liened).toMatch(/lien\s+loan 1, lender [0-9a-f]{40}/);

    expect(await ok('loan', 'repay', '1', '--key', key('borrower'), '--amount', '3650.63')).toMatch(
      /^paid 3,650.63 CNY on loan 1: .*loan is current/,
    );
    const shown = JSON.parse(await ok('loan', 'show', '1', '--json')) as {
      status: string;
      balances: { payoff: string };
      schedule: unknown[];
    };
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
    await fails(
      2,
      /not an autochain ed25519 key file/,
      'tx',
      'transfer',
      '--key',
      badKey,
      '--to',
      key('dealer'),
      '--amount',
      '1',
    );
    await fails(
      2,
      /cannot read key file/,
      'tx',
      'transfer',
      '--key',
      join(home, 'missing.json'),
      '--to',
      key('dealer'),
      '--amount',
      '1',
    );
    await fails(2, /pass --key/, 'tx', 'transfer', '--to', key('dealer'), '--amount', '1');
    await fails(1, /loan 99 not found/, 'loan', 'show', '99');
    await fails(1, /loan 99 not found/, 'loan', 'repay', '99', '--key', key('borrower'), '--amount', '1');
    await fails(
      2,
      /invalid VIN .*check digit/,
      'vehicle',
      'register',
      '--key',
      key('manufacturer'),
      '--vin',
      BAD_VIN,
      '--make',
      'BYD',
      '--model',
      'Han',
      '--year',
      '2025',
      '--owner',
      key('dealer'),
    );
    await fails(
      2,
      /more than 2 decimal places/,
      'tx',
      'transfer',
      '--key',
      key('borrower'),
      '--to',
      key('dealer'),
      '--amount',
      '1.005',
    );
    await fails(2, /unknown command/, 'loan', 'frobnicate');
    // A tx the chain refuses: the borrower is no registrant. The receipt's code is the reason; the vehicle does not exist.
    const other = 'LSVAU2182R2183294';
    await fails(
      1,
      /vehicle\.NOT_REGISTRANT/,
      'vehicle',
      'register',
      '--key',
      key('borrower'),
      '--vin',
      other,
      '--make',
      'VW',
      '--model',
      'Lavida',
      '--year',
      '2025',
      '--owner',
      key('borrower'),
    );
    await fails(1, /not found/, 'vehicle', 'show', other);
    // The balance did not move through any of the failures.
    expect(await ok('account', key('borrower'))).toMatch(/balance {2}380,000.00 CNY/);
    const json = await cli('loan', 'show', '99', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: -32002, message: expect.stringMatching(/loan 99 not found/) },
    });
  }, 120_000);

  it('reports a node that is not running as unreachable (exit 3)', async () => {
    const r = await new Promise<Run>((done) => {
      execFile(
        process.execPath,
        [BIN, 'status', '--rpc', 'http://127.0.0.1:9'],
        { cwd: ROOT },
        (err, stdout, stderr) => {
          done({ code: err === null ? 0 : Number(err.code), stdout, stderr });
        },
      );
    });
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toMatch(/^error: cannot reach the node at http:\/\/127\.0\.0\.1:9 .*is it running\?$/);
  });

  it('restarts where it stopped when devnet runs again on the same home', async () => {
    const before = JSON.parse(await ok('status', '--json')) as { height: string };
    await h.stopDevnet();
    await h.startDevnet();
    expect(h.devnetOut).toMatch(/^restarting the devnet in /m);
    expect(h.devnetOut).not.toMatch(/onboarding/); // set up once only
    const after = JSON.parse(await ok('status', '--json')) as { height: string };
    expect(BigInt(after.height)).toBeGreaterThanOrEqual(BigInt(before.height));
    expect(await ok('loan', 'show', '1')).toMatch(/^loan 1 {2}paidOff/);
  });

  it('shows an example in every command help', async () => {
    for (const args of [
      ['devnet'],
      ['loan', 'apply'],
      ['loan', 'repay'],
      ['vehicle', 'register'],
      ['credit', 'attest'],
      ['keys', 'new'],
    ]) {
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
