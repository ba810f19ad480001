// The CLI commands beyond the happy path of one loan, run as the built `autochain` binary against a devnet child:
// credit revoke (then an application is rejected for missing consent), a loan driven into default and through
// repossession and sale (lien released), and staking list. The devnet's config is given block.timeStepMs = 1 day and
// frequent empty blocks, so an installment falls due and the loan defaults within seconds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDevnet } from '../../bin/lib/home.js';
import { AutochainClient } from '../../src/client/client.js';
import { CliHarness } from '../helpers/cli.js';

const VIN = 'LGXCE4CB0R0000017';
const DAY_MS = 86_400_000;

const h = new CliHarness('cli-more');
const { home } = h;
const key = (name: string): string => h.key(name);
const cli = (...args: string[]) => h.cli(...args);
const ok = (...args: string[]) => h.ok(...args);
const fails = (code: number, reason: RegExp, ...args: string[]) => h.fails(code, reason, ...args);

beforeAll(async () => {
  h.buildBinary();
  // The devnet's own files, then a day per block and an empty block every 100 ms: 10 chain days a second.
  createDevnet(home, { port: 0 });
  const configPath = join(home, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { block?: Record<string, unknown> };
  config.block = { ...config.block, intervalMs: 50, emptyBlockIntervalMs: 100, timeStepMs: DAY_MS };
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  await h.startDevnet();
}, 90_000);

afterAll(async () => {
  await h.cleanup();
});

describe('autochain CLI: revoke, default, repossession, sale, staking', () => {
  it('rejects an application after the borrower revoked consent, then repossesses and sells a defaulted loan', async () => {
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
      'Han',
      '--year',
      '2025',
      '--owner',
      key('dealer'),
    );
    await ok('vehicle', 'appraise', '--key', key('dealer'), '--vin', VIN, '--amount', '150000');
    // Long validity: chain time runs ten days a second here.
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
      '--valid-days',
      '3650',
    );
    await ok('credit', 'consent', '--key', key('borrower'), '--lender', key('lender'), '--days', '3650');
    await ok(
      'product',
      'create',
      '--key',
      key('lender'),
      '--name',
      'Fast default',
      '--terms',
      '12',
      '--grace-days',
      '0',
      '--default-days',
      '1',
    );

    const revoked = await ok('credit', 'revoke', '--key', key('borrower'), '--lender', key('lender'));
    expect(revoked).toMatch(/^consent revoked for lender lender: new applications to it are rejected/);
    expect(await ok('credit', 'show', key('borrower'))).toMatch(/consent {6}lender for autoLoan until .*, revoked /);
    // Revoking again: the chain refuses (exit 1), one line naming the code.
    await fails(1, /credit\.NO_CONSENT/, 'credit', 'revoke', '--key', key('borrower'), '--lender', key('lender'));
    const rejected = await cli(
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
      '12',
    );
    expect(rejected.code, rejected.stderr).toBe(1);
    expect(rejected.stdout).toMatch(/^application 1 rejected: NO_CONSENT/);

    await ok('credit', 'consent', '--key', key('borrower'), '--lender', key('lender'), '--days', '3650');
    expect(
      await ok(
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
        '12',
      ),
    ).toMatch(/^application 2 approved: principal 120,000.00 CNY/);
    await ok('loan', 'fund', '2', '--key', key('lender'));

    // Bad input changes nothing: too many decimals (exit 2), an unknown loan (exit 1).
    await fails(
      2,
      /more than 2 decimal places/,
      'loan',
      'sale',
      '2',
      '--key',
      key('lender'),
      '--buyer',
      key('dealer'),
      '--proceeds',
      '1.001',
    );
    await fails(1, /loan 99 not found/, 'loan', 'repossess', '99', '--key', key('lender'));

    // No payment: the first installment falls due a month after funding and the loan defaults a day later.
    const client = new AutochainClient({ url: h.rpc });
    let status = '';
    for (let i = 0; i < 200 && status !== 'defaulted'; i++) {
      status = String((await client.loan(2n)).status);
      if (status !== 'defaulted') await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('defaulted');
    await client.close();

    const lender = JSON.parse(await ok('keys', 'show', key('lender'), '--json')) as { address: string };
    const repossessed = await ok('loan', 'repossess', '2', '--key', key('lender'));
    expect(repossessed).toMatch(
      new RegExp(
        `^repossessed ${VIN} for loan 2: the vehicle is seized and owned by the lender; payoff [\\d,]+\\.\\d\\d CNY`,
      ),
    );
    const seized = await ok('vehicle', 'show', VIN);
    expect(seized).toMatch(/status {5}seized/);
    expect(seized).toMatch(`owner      ${lender.address}`);
    expect(seized).toMatch(/lien {7}loan 2, lender /);
    // Repossessed already: a second repossession is refused.
    await fails(1, /loan\.NOT_DEFAULTED/, 'loan', 'repossess', '2', '--key', key('lender'));

    const sold = JSON.parse(
      await ok('loan', 'sale', '2', '--key', key('lender'), '--buyer', key('dealer'), '--proceeds', '100000', '--json'),
    ) as {
      vin: string;
      proceeds: string;
      applied: string;
      deficiency: string;
      surplus: string;
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
    const json = JSON.parse(await ok('staking', 'list', '--json')) as {
      validators: { memberId: string; power: string }[];
      totalPower: string;
    };
    expect(json.validators.map((v) => v.memberId)).toEqual(['operator']);
    expect(json.totalPower).toBe('1000000');
    // Only validator-operator members bond; the borrower is refused and nothing changes.
    await fails(1, /staking\.NOT_VALIDATOR_OPERATOR/, 'staking', 'bond', '--key', key('borrower'), '--amount', '10');
    expect((JSON.parse(await ok('staking', 'list', '--json')) as { totalPower: string }).totalPower).toBe('1000000');
  });
});
