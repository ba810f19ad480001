// CLI commands for the records a loan rests on: vehicles, members (and their admission votes), borrowers, credit
// attestations and consents, products.
import { readFileSync, existsSync } from 'node:fs';
import { Command } from 'commander';
import { sha256 } from '../../src/core/hash.js';
import { fromHex, isHex, toHex, utf8 } from '../../src/core/bytes.js';
import { validateVin } from '../../src/vm/modules/vehicle.js';
import { BANDS } from '../../src/vm/modules/credit.js';
import { REPAYMENT_METHODS } from '../../src/vm/money.js';
import type { AutochainClient, CommittedTx } from '../../src/client/client.js';
import { loadKeyFile } from '../../src/core/keys.js';
import { ROLES } from '../../src/vm/types.js';
import type { JsonValue } from '../../src/rpc/api.js';
import {
  UsageError,
  addressArg,
  amountArg,
  clientFor,
  example,
  findEvent,
  formatBps,
  output,
  parseBigIntArg,
  parseChoice,
  parseIntArg,
  parsePercentBps,
  showAmount,
  txLine,
} from '../lib/common.js';

const DAY_MS = 86_400_000n;

export function vinArg(value: string): string {
  const vin = value.trim().toUpperCase();
  const why = validateVin(vin);
  if (why !== null) throw new UsageError(`invalid VIN ${value}: ${why}`);
  return vin;
}

/** The chain's current time: the latest block's time (block time is what the VM compares with). */
async function chainTimeMs(client: AutochainClient): Promise<bigint> {
  const s = await client.status();
  return BigInt(s.latestBlockTimeMs ?? s.genesisTimeMs);
}

export function vehicleCommand(): Command {
  const vehicle = example(
    new Command('vehicle').description('the vehicle registry: register, appraise, show'),
    'autochain vehicle show LGXCE4CB0R0000017',
  );
  vehicle.addCommand(
    example(
      new Command('register')
        .description('register a vehicle by VIN (manufacturer or registrar key)')
        .requiredOption('--vin <vin>', '17-character VIN (check digit validated)')
        .requiredOption('--make <make>', 'e.g. BYD')
        .requiredOption('--model <model>', 'e.g. Qin PLUS')
        .requiredOption('--year <year>', 'model year')
        .requiredOption('--owner <address>', 'owner: an address or a key file')
        .option('--energy <energy>', 'fuel or newEnergy', 'fuel')
        .option('--use <use>', 'private or commercial', 'private')
        .option('--condition <condition>', 'new or used', 'new'),
      'autochain vehicle register --key keys/manufacturer.json --vin LGXCE4CB0R0000017 --make BYD --model "Qin PLUS" --year 2025 --energy newEnergy --owner keys/dealer.json',
    ).action(
      async (
        o: {
          vin: string;
          make: string;
          model: string;
          year: string;
          owner: string;
          energy: string;
          use: string;
          condition: string;
        },
        cmd: Command,
      ) => {
        const vin = vinArg(o.vin);
        const args = {
          vin,
          make: o.make,
          model: o.model,
          modelYear: parseIntArg(o.year, '--year', 1981, 9999),
          energy: parseChoice(o.energy, ['fuel', 'newEnergy'] as const, '--energy'),
          use: parseChoice(o.use, ['private', 'commercial'] as const, '--use'),
          condition: parseChoice(o.condition, ['new', 'used'] as const, '--condition'),
          owner: addressArg(o.owner, '--owner'),
        };
        const client = clientFor(cmd, { sign: true });
        const r = await client.tx('vehicle', 'register', args);
        output(cmd, { hash: r.hash, height: r.committed.height, receipt: r.receipt, vin }, [
          `registered ${vin}: ${args.modelYear} ${args.make} ${args.model} (${args.energy}, ${args.use}, ${args.condition}), owner ${toHex(args.owner)}`,
          txLine(r.hash, r.committed.height, r.receipt.gasUsed),
        ]);
      },
    ),
  );
  vehicle.addCommand(
    example(
      new Command('appraise')
        .description("record a vehicle's appraised value (dealer or registrar key)")
        .requiredOption('--vin <vin>')
        .requiredOption('--amount <amount>', 'value in major units, e.g. 150000.00')
        .option('--asset <code>', 'currency', 'CNY'),
      'autochain vehicle appraise --key keys/dealer.json --vin LGXCE4CB0R0000017 --amount 150000',
    ).action(async (o: { vin: string; amount: string; asset: string }, cmd: Command) => {
      const vin = vinArg(o.vin);
      const client = clientFor(cmd, { sign: true });
      const amount = await amountArg(client, o.asset, o.amount, '--amount');
      const r = await client.tx('vehicle', 'appraise', { vin, asset: o.asset, amount });
      output(cmd, { hash: r.hash, height: r.committed.height, receipt: r.receipt, vin, amount: amount.toString() }, [
        `appraised ${vin} at ${await showAmount(client, o.asset, amount)}`,
        txLine(r.hash, r.committed.height, r.receipt.gasUsed),
      ]);
    }),
  );
  vehicle.addCommand(
    example(
      new Command('show').description('show a vehicle: owner, status, appraisal and lien').argument('<vin>'),
      'autochain vehicle show LGXCE4CB0R0000017',
    ).action(async (vinIn: string, _o: unknown, cmd: Command) => {
      const vin = vinArg(vinIn);
      const client = clientFor(cmd, { sign: false });
      const v = await client.vehicle(vin);
      const appraisal =
        v.appraisal === null
          ? 'none'
          : `${await showAmount(client, v.appraisal.asset, v.appraisal.amount)} by ${v.appraisal.by}`;
      const lien =
        v.lien === null
          ? 'none'
          : `loan ${v.lien.loanId}, lender ${v.lien.lender}, since ${new Date(Number(v.lien.registeredAtMs)).toISOString()}`;
      output(cmd, v, [
        `vin        ${v.vin}`,
        `vehicle    ${v.modelYear} ${v.make} ${v.model} (${v.energy}, ${v.use}, ${v.condition})`,
        `status     ${v.status}`,
        `owner      ${v.owner}`,
        `appraisal  ${appraisal}`,
        `lien       ${lien}`,
      ]);
    }),
  );
  return vehicle;
}

export function memberCommand(): Command {
  const member = example(
    new Command('member').description('consortium members, their admission and removal votes, and borrowers'),
    'autochain member list',
  );
  member.addCommand(
    example(
      new Command('onboard')
        .description('onboard a borrower account with a hash of its off-chain identity record (lender or dealer key)')
        .requiredOption('--borrower <address>', 'an address or a key file')
        .option('--identity <file|text>', 'identity record: its sha256 goes on chain, never the record', '')
        .option('--identity-hash <hex>', 'the 32-byte commitment itself, as 64 hex digits'),
      'autochain member onboard --key keys/lender.json --borrower keys/borrower.json --identity ./kyc-record.pdf',
    ).action(async (o: { borrower: string; identity: string; identityHash?: string }, cmd: Command) => {
      const borrower = addressArg(o.borrower, '--borrower');
      let commitment: Uint8Array;
      if (o.identityHash !== undefined) {
        if (!isHex(o.identityHash, 32)) throw new UsageError('--identity-hash must be 64 hex digits');
        commitment = fromHex(o.identityHash);
      } else {
        if (o.identity === '') throw new UsageError('pass --identity <file|text> or --identity-hash <hex>');
        commitment = sha256(existsSync(o.identity) ? new Uint8Array(readFileSync(o.identity)) : utf8(o.identity));
      }
      const client = clientFor(cmd, { sign: true });
      const r = await client.tx('member', 'onboardBorrower', { borrower, identityCommitment: commitment });
      output(
        cmd,
        {
          hash: r.hash,
          height: r.committed.height,
          receipt: r.receipt,
          borrower: toHex(borrower),
          identityCommitment: toHex(commitment),
        },
        [
          `onboarded borrower ${toHex(borrower)} (identity commitment ${toHex(commitment)})`,
          txLine(r.hash, r.committed.height, r.receipt.gasUsed),
        ],
      );
    }),
  );
  member.addCommand(
    example(
      new Command('propose-admit')
        .description(
          "propose admitting an organisation; it joins once validators with > 2/3 of the stake vote yes (member key; a validator's proposal counts as its vote)",
        )
        .requiredOption('--id <id>', 'member id: lowercase letters, digits, dashes')
        .requiredOption('--name <name>', "the organisation's name")
        .requiredOption('--roles <roles>', `comma separated: ${ROLES.join(', ')}`)
        .requiredOption('--accounts <keys>', 'its accounts, comma separated: key files or 64-hex public keys'),
      'autochain member propose-admit --key validator_key.json --id lender2 --name "Second Auto Finance" --roles lender --accounts ./lender2.json',
    ).action(async (o: { id: string; name: string; roles: string; accounts: string }, cmd: Command) => {
      const roles = o.roles.split(',').map((r) => parseChoice(r, ROLES, '--roles'));
      const accounts = o.accounts.split(',').map((k) => publicKeyArg(k, '--accounts'));
      const client = clientFor(cmd, { sign: true });
      const r = await client.tx('member', 'proposeAdmit', { id: o.id.trim(), name: o.name, roles, accounts });
      reportProposal(cmd, r, `admit ${o.id.trim()} (${roles.join(',')})`);
    }),
  );
  member.addCommand(
    example(
      new Command('propose-remove')
        .description('propose removing a member organisation; its bonded stake is unbonded when it passes (member key)')
        .requiredOption('--id <id>', 'the member id to remove'),
      'autochain member propose-remove --key validator_key.json --id dealer',
    ).action(async (o: { id: string }, cmd: Command) => {
      const client = clientFor(cmd, { sign: true });
      const r = await client.tx('member', 'proposeRemove', { id: o.id.trim() });
      reportProposal(cmd, r, `remove ${o.id.trim()}`);
    }),
  );
  member.addCommand(
    example(
      new Command('vote')
        .description('vote yes on an open member proposal (active validator key)')
        .argument('<proposal>', 'proposal id'),
      'autochain member vote 2 --key validator_key.json',
    ).action(async (idText: string, _o: unknown, cmd: Command) => {
      const proposalId = parseBigIntArg(idText, 'the proposal id');
      const client = clientFor(cmd, { sign: true });
      const r = await client.tx('member', 'vote', { proposalId });
      reportProposal(cmd, r, `proposal ${proposalId}`);
    }),
  );
  member.addCommand(
    example(new Command('list').description('list the consortium members'), 'autochain member list').action(
      async (_o: unknown, cmd: Command) => {
        const client = clientFor(cmd, { sign: false });
        const page = await client.members({ limit: 100 });
        output(
          cmd,
          page,
          page.items.map(
            (m) =>
              `${String(m.id).padEnd(14)} ${String(m.name).padEnd(28)} ${Array.isArray(m.roles) ? m.roles.join(',') : ''}`,
          ),
        );
      },
    ),
  );
  return member;
}

/** A public key as 64 hex digits, or a key file whose public key is meant (accounts are keys, not addresses). */
function publicKeyArg(value: string, what: string): Uint8Array {
  const v = value.trim();
  if (v.endsWith('.json')) return loadKeyFile(v).publicKey;
  if (!isHex(v, 32)) throw new UsageError(`${what} takes key files or public keys of 64 hex digits, got "${value}"`);
  return fromHex(v);
}

function reportProposal(cmd: Command, r: CommittedTx, what: string): void {
  const j = proposalJson(r);
  output(cmd, j, proposalLines(r, what));
  // The tx succeeded, but a proposal that failed its checks at the last vote did not do what was asked: exit code 1.
  if (j.status === 'failed') process.exitCode = 1;
}

function proposalJson(r: CommittedTx): Record<string, unknown> {
  const ev = (type: string): Record<string, string> | null => findEvent(r.receipt, 'member', type)?.attrs ?? null;
  const created = ev('proposalCreated');
  const voted = ev('voted');
  const passed = ev('proposalPassed');
  const failed = ev('proposalFailed');
  return {
    hash: r.hash,
    height: r.committed.height,
    receipt: r.receipt,
    proposalId: created?.proposalId ?? voted?.proposalId ?? passed?.proposalId ?? failed?.proposalId ?? null,
    status: passed !== null ? 'passed' : failed !== null ? 'failed' : 'open',
    admitted: ev('memberAdmitted')?.member ?? null,
    removed: ev('memberRemoved')?.member ?? null,
    failed: ev('proposalFailed'),
  };
}

/** What a proposal or vote did: created, voted, and whether it passed (and its effect) in the same tx. */
function proposalLines(r: CommittedTx, what: string): string[] {
  const j = proposalJson(r);
  const ev = (type: string): Record<string, string> | null => findEvent(r.receipt, 'member', type)?.attrs ?? null;
  const lines: string[] = [];
  if (ev('proposalCreated') !== null) lines.push(`proposal ${String(j.proposalId)} created: ${what}`);
  if (ev('voted') !== null) lines.push(`voted yes on proposal ${String(j.proposalId)}`);
  const passed = ev('proposalPassed');
  const failed = ev('proposalFailed');
  // A proposal whose vote reached > 2/3 is carried out in the same tx, or fails if its checks no longer hold.
  if (passed !== null) {
    const effect =
      j.admitted !== null ? `member ${String(j.admitted)} admitted` : `member ${String(j.removed)} removed`;
    lines.push(
      `  proposal ${String(j.proposalId)} passed with ${passed.voted ?? '?'} of ${passed.total ?? '?'} stake: ${effect}`,
    );
  } else if (failed !== null) {
    lines.push(
      `  proposal ${String(j.proposalId)} reached its votes but failed: ${failed.reason ?? failed.code ?? '?'}`,
    );
  } else {
    lines.push(
      `  proposal ${String(j.proposalId)} is open: it passes when validators with more than 2/3 of the stake have voted`,
    );
  }
  lines.push(txLine(r.hash, r.committed.height, r.receipt.gasUsed));
  return lines;
}

export function creditCommand(): Command {
  const credit = example(
    new Command('credit').description('credit attestations and consents'),
    'autochain credit show keys/borrower.json',
  );
  credit.addCommand(
    example(
      new Command('attest')
        .description("attest a borrower's credit (credit bureau key)")
        .requiredOption('--borrower <address>', 'an address or a key file')
        .requiredOption('--score <score>', 'credit score, 300 to 900')
        .requiredOption('--band <band>', `score band: ${BANDS.join(', ')}`)
        .requiredOption('--income <amount>', 'gross monthly income, major units')
        .option('--debt <amount>', 'monthly debt payments outside this chain, major units', '0')
        .option('--currency <code>', 'currency of income and debt', 'CNY')
        .option('--valid-days <days>', 'days until the attestation expires', '90'),
      'autochain credit attest --key keys/bureau.json --borrower keys/borrower.json --score 720 --band B --income 30000 --debt 2000',
    ).action(
      async (
        o: {
          borrower: string;
          score: string;
          band: string;
          income: string;
          debt: string;
          currency: string;
          validDays: string;
        },
        cmd: Command,
      ) => {
        const borrower = addressArg(o.borrower, '--borrower');
        const score = parseIntArg(o.score, '--score', 300, 900);
        const band = parseChoice(o.band, BANDS, '--band');
        const days = parseIntArg(o.validDays, '--valid-days', 1, 3650);
        const client = clientFor(cmd, { sign: true });
        const income = await amountArg(client, o.currency, o.income, '--income');
        const debt = await amountArg(client, o.currency, o.debt, '--debt');
        const now = await chainTimeMs(client);
        const expiresAtMs = now + BigInt(days) * DAY_MS;
        const r = await client.tx('credit', 'attest', {
          borrower,
          score,
          band,
          currency: o.currency,
          grossMonthlyIncome: income,
          outsideMonthlyDebt: debt,
          issuedAtMs: now,
          expiresAtMs,
        });
        output(
          cmd,
          {
            hash: r.hash,
            height: r.committed.height,
            receipt: r.receipt,
            borrower: toHex(borrower),
            score,
            band,
            expiresAtMs: expiresAtMs.toString(),
          },
          [
            `attested ${toHex(borrower)}: score ${score} (band ${band}), income ${await showAmount(client, o.currency, income)}/month, outside debt ${await showAmount(client, o.currency, debt)}/month, expires ${new Date(Number(expiresAtMs)).toISOString()}`,
            txLine(r.hash, r.committed.height, r.receipt.gasUsed),
          ],
        );
      },
    ),
  );
  credit.addCommand(
    example(
      new Command('consent')
        .description('as the borrower, let a lender use your credit record (borrower key)')
        .requiredOption('--lender <address>', "one of the lender's accounts: an address or a key file")
        .option('--purpose <purpose>', 'what the lender may use it for', 'autoLoan')
        .option('--days <days>', 'days until the consent expires', '30'),
      'autochain credit consent --key keys/borrower.json --lender keys/lender.json --days 30',
    ).action(async (o: { lender: string; purpose: string; days: string }, cmd: Command) => {
      const lender = addressArg(o.lender, '--lender');
      const days = parseIntArg(o.days, '--days', 1, 3650);
      const client = clientFor(cmd, { sign: true });
      const expiresAtMs = (await chainTimeMs(client)) + BigInt(days) * DAY_MS;
      const r = await client.tx('credit', 'consent', { lender, purpose: o.purpose, expiresAtMs });
      output(
        cmd,
        {
          hash: r.hash,
          height: r.committed.height,
          receipt: r.receipt,
          lender: toHex(lender),
          purpose: o.purpose,
          expiresAtMs: expiresAtMs.toString(),
        },
        [
          `consent granted to lender ${toHex(lender)} for ${o.purpose} until ${new Date(Number(expiresAtMs)).toISOString()}`,
          txLine(r.hash, r.committed.height, r.receipt.gasUsed),
        ],
      );
    }),
  );
  credit.addCommand(
    example(
      new Command('revoke')
        .description("as the borrower, withdraw a lender's consent to use your credit record (borrower key)")
        .requiredOption('--lender <address>', "one of the lender's accounts: an address or a key file"),
      'autochain credit revoke --key keys/borrower.json --lender keys/lender.json',
    ).action(async (o: { lender: string }, cmd: Command) => {
      const lender = addressArg(o.lender, '--lender');
      const client = clientFor(cmd, { sign: true });
      const r = await client.tx('credit', 'revokeConsent', { lender });
      const a = findEvent(r.receipt, 'credit', 'consentRevoked')?.attrs ?? {};
      output(
        cmd,
        {
          hash: r.hash,
          height: r.committed.height,
          receipt: r.receipt,
          lender: toHex(lender),
          lenderMember: a.lender ?? null,
        },
        [
          `consent revoked for lender ${a.lender ?? toHex(lender)}: new applications to it are rejected until you consent again`,
          txLine(r.hash, r.committed.height, r.receipt.gasUsed),
        ],
      );
    }),
  );
  credit.addCommand(
    example(
      new Command('show')
        .description("show a borrower's attestation, consents and credit history")
        .argument('<address>', 'an address or a key file'),
      'autochain credit show keys/borrower.json',
    ).action(async (who: string, _o: unknown, cmd: Command) => {
      const client = clientFor(cmd, { sign: false });
      const c = await client.credit(toHex(addressArg(who, 'the borrower')));
      output(cmd, c, await describeCredit(client, c));
    }),
  );
  return credit;
}

/** "A=4.5,B=5.5,C=6.5,D=8,E=10" -> bps per band A..E. */
function aprByBand(text: string): number[] {
  const parts = new Map<string, number>();
  for (const item of text.split(',')) {
    const [band, pct] = item.split('=');
    if (band === undefined || pct === undefined)
      throw new UsageError(`--apr takes BAND=PERCENT pairs like A=4.5,B=5.5, got "${item}"`);
    parts.set(parseChoice(band, BANDS, '--apr band'), parsePercentBps(pct, `--apr ${band}`));
  }
  return BANDS.map((b) => {
    const v = parts.get(b);
    if (v === undefined) throw new UsageError(`--apr is missing band ${b} (give all of ${BANDS.join(', ')})`);
    return v;
  });
}

function ltvByClass(text: string): { privateFuel: number; privateNewEnergy: number; commercial: number; used: number } {
  const out = { privateFuel: 8000, privateNewEnergy: 8500, commercial: 7000, used: 7000 };
  const names = { fuel: 'privateFuel', newEnergy: 'privateNewEnergy', commercial: 'commercial', used: 'used' } as const;
  for (const item of text.split(',')) {
    const [k, pct] = item.split('=');
    if (k === undefined || pct === undefined)
      throw new UsageError(`--max-ltv takes CLASS=PERCENT pairs like fuel=80,used=70, got "${item}"`);
    const cls = parseChoice(k, ['fuel', 'newEnergy', 'commercial', 'used'] as const, '--max-ltv class');
    out[names[cls]] = parsePercentBps(pct, `--max-ltv ${k}`);
  }
  return out;
}

export function productCommand(): Command {
  const product = example(new Command('product').description("lenders' loan products"), 'autochain product list');
  product.addCommand(
    example(
      new Command('create')
        .description('create a loan product (lender key)')
        .requiredOption('--name <name>', 'product name')
        .option('--currency <code>', 'loan currency', 'CNY')
        .option('--apr <bands>', 'APR percent per score band', 'A=4.5,B=6,C=8,D=11,E=15')
        .option('--terms <months>', 'terms offered, months, comma separated', '12,24,36,48,60')
        .option('--method <method>', `repayment method: ${REPAYMENT_METHODS.join(' or ')}`, 'levelPayment')
        .option('--min-score <score>', 'lowest credit score accepted', '600')
        .option(
          '--max-ltv <classes>',
          'max loan-to-value percent per class',
          'fuel=80,newEnergy=85,commercial=70,used=70',
        )
        .option('--max-dti <percent>', 'max debt-to-income percent', '50')
        .option('--min-down <percent>', 'min down payment percent of the price', '20')
        .option('--grace-days <days>', 'days after a due date before a payment is late', '3')
        .option('--late-fee <amount>', 'fixed late fee per missed installment, major units', '50')
        .option('--late-fee-pct <percent>', 'late fee as a percent of the installment (instead of --late-fee)')
        .option('--penalty <percent>', 'penalty APR uplift on overdue amounts, percent', '50')
        .option('--default-days <days>', 'days past due at which the loan defaults', '90'),
      'autochain product create --key keys/lender.json --name "New-energy 2025" --apr A=3.9,B=4.9,C=6.5,D=8.5,E=12 --terms 12,24,36',
    ).action(async (o: Record<string, string | undefined>, cmd: Command) => {
      const get = (k: string): string => o[k] ?? '';
      const client = clientFor(cmd, { sign: true });
      const currency = get('currency');
      const termsMonths = get('terms')
        .split(',')
        .map((t) => parseIntArg(t, '--terms', 1, 120));
      const lateFeePct = o.lateFeePct;
      const params = {
        name: get('name'),
        currency,
        aprBpsByBand: aprByBand(get('apr')),
        termsMonths,
        method: parseChoice(get('method'), REPAYMENT_METHODS, '--method'),
        minScore: parseIntArg(get('minScore'), '--min-score', 300, 900),
        maxLtvBps: ltvByClass(get('maxLtv')),
        maxDtiBps: parsePercentBps(get('maxDti'), '--max-dti'),
        minDownPaymentBps: parsePercentBps(get('minDown'), '--min-down'),
        graceDays: parseIntArg(get('graceDays'), '--grace-days', 0, 365),
        lateFeeKind: lateFeePct === undefined ? ('fixed' as const) : ('bps' as const),
        lateFeeValue:
          lateFeePct === undefined
            ? await amountArg(client, currency, get('lateFee'), '--late-fee')
            : BigInt(parsePercentBps(lateFeePct, '--late-fee-pct')),
        penaltyUpliftBps: parsePercentBps(get('penalty'), '--penalty'),
        defaultDays: parseIntArg(get('defaultDays'), '--default-days', 1, 3650),
      };
      const r = await client.tx('product', 'create', params);
      const id = findEvent(r.receipt, 'product', 'created')?.attrs.id ?? '?';
      output(cmd, { hash: r.hash, height: r.committed.height, receipt: r.receipt, id }, [
        `created product ${id} "${params.name}" (${currency}, ${params.method}, terms ${termsMonths.join('/')} months, APR ${BANDS.map((b, i) => `${b} ${formatBps(params.aprBpsByBand[i] ?? 0)}`).join(' ')})`,
        txLine(r.hash, r.committed.height, r.receipt.gasUsed),
      ]);
    }),
  );
  product.addCommand(
    example(
      new Command('list')
        .description('list loan products')
        .option('--lender <address>', "only this lender's (an address or key file)"),
      'autochain product list',
    ).action(async (o: { lender?: string }, cmd: Command) => {
      const client = clientFor(cmd, { sign: false });
      const page = await client.products(
        o.lender === undefined ? { limit: 100 } : { lender: toHex(addressArg(o.lender, '--lender')), limit: 100 },
      );
      const lines = page.items.map((p) => {
        const apr = p.aprBpsByBand as Record<string, number> | undefined;
        const aprText =
          apr === undefined
            ? ''
            : Object.entries(apr)
                .map(([b, v]) => `${b} ${formatBps(v)}`)
                .join(' ');
        const terms = Array.isArray(p.termsMonths) ? p.termsMonths.join('/') : '';
        return `${String(p.id).padStart(4)}  ${String(p.name).padEnd(24)} ${String(p.lenderMember).padEnd(12)} ${String(p.currency)} ${String(p.method)} ${terms} months  APR ${aprText}  ${String(p.status)}`;
      });
      output(cmd, page, lines.length === 0 ? ['(no products)'] : lines);
    }),
  );
  return product;
}

type Json = JsonValue;

function when(ms: Json | undefined): string {
  return typeof ms === 'string' && /^\d+$/.test(ms) ? new Date(Number(ms)).toISOString() : '-';
}

async function describeCredit(client: AutochainClient, c: Record<string, Json>): Promise<string[]> {
  const lines = [`borrower     ${String(c.address ?? '')}`];
  const a = c.attestation;
  if (a !== null && typeof a === 'object' && !Array.isArray(a)) {
    const cur = String(a.currency ?? 'CNY');
    lines.push(
      `attestation  score ${String(a.score)} (band ${String(a.band)}) by ${String(a.bureauMember ?? a.bureau)}, ` +
        `income ${await showAmount(client, cur, String(a.grossMonthlyIncome ?? '0'))}/month, ` +
        `outside debt ${await showAmount(client, cur, String(a.outsideMonthlyDebt ?? '0'))}/month, expires ${when(a.expiresAtMs)}`,
    );
  } else lines.push('attestation  none');
  const consents = Array.isArray(c.consents) ? c.consents : [];
  if (consents.length === 0) lines.push('consents     none');
  for (const k of consents) {
    if (k === null || typeof k !== 'object' || Array.isArray(k)) continue;
    const revoked = k.revokedAtMs !== null && k.revokedAtMs !== undefined ? `, revoked ${when(k.revokedAtMs)}` : '';
    lines.push(`consent      ${String(k.lender)} for ${String(k.purpose)} until ${when(k.expiresAtMs)}${revoked}`);
  }
  const h = c.history;
  if (h !== null && typeof h === 'object' && !Array.isArray(h)) {
    lines.push(
      `history      ${String(h.onTime)} on time, ${String(h.late)} late, ${String(h.defaulted)} defaulted, ${String(h.paidOff)} paid off`,
    );
  }
  return lines;
}
