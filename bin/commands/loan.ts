// CLI commands for the life of a car loan: apply, fund, repay, show, list, and after funding: assign and accept
// (sale of the loan to another lender), repossess and sale (after a default).
import { Command } from 'commander';
import { toHex } from '../../src/core/bytes.js';
import type { AutochainClient } from '../../src/client/client.js';
import type { LoanListByBorrowerResult, LoanListDelinquentResult } from '../../src/rpc/api.js';
import type { JsonValue, LoanView } from '../../src/rpc/api.js';
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
  parseIntArg,
  showAmount,
  txLine,
} from '../lib/common.js';
import { vinArg } from './registry.js';

/** Loan ids are the ids of their applications: one number from apply to payoff. */
function idArg(value: string): bigint {
  return parseBigIntArg(value, 'the loan id');
}

async function productCurrency(client: AutochainClient, productId: bigint): Promise<string> {
  for (let offset = 0; ; offset += 100) {
    const page = await client.products({ offset, limit: 100 });
    const p = page.items.find((x) => String(x.id) === productId.toString());
    if (p !== undefined) return String(p.currency);
    if (offset + page.items.length >= page.total || page.items.length === 0) break;
  }
  throw new UsageError(`the chain has no product ${productId} (see \`autochain product list\`)`);
}

/** A funded loan's currency; an application or an unknown id is a usage error before anything is signed. */
async function loanAsset(client: AutochainClient, loanId: bigint): Promise<string> {
  const view = await client.loan(loanId);
  if (view.kind !== 'loan')
    throw new UsageError(`${loanId} is an application (${str(view.status)}), not a funded loan`);
  return String(view.asset);
}

function str(v: JsonValue | undefined): string {
  return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function loanCommand(): Command {
  const loan = example(
    new Command('loan').description(
      'apply for, fund, repay and inspect car loans; assign them; repossess and sell after a default',
    ),
    'autochain loan show 1',
    'autochain loan repay 1 --key keys/borrower.json --amount 3650.63',
  );
  loan.addCommand(
    example(
      new Command('apply')
        .description('apply for a loan on a product; underwriting runs in the same tx (borrower key)')
        .requiredOption('--product <id>', 'product id (see `autochain product list`)')
        .requiredOption('--vin <vin>', 'the vehicle to buy and pledge')
        .requiredOption('--price <amount>', 'purchase price, major units')
        .requiredOption('--down <amount>', 'down payment, major units')
        .requiredOption('--term <months>', 'term in months (one the product offers)'),
      'autochain loan apply --key keys/borrower.json --product 1 --vin LGXCE4CB0R0000017 --price 150000 --down 30000 --term 36',
    ).action(async (o: { product: string; vin: string; price: string; down: string; term: string }, cmd: Command) => {
      const vin = vinArg(o.vin);
      const productId = parseBigIntArg(o.product, '--product');
      const termMonths = parseIntArg(o.term, '--term', 1, 120);
      const client = clientFor(cmd, { sign: true });
      const asset = await productCurrency(client, productId);
      const price = await amountArg(client, asset, o.price, '--price');
      const downPayment = await amountArg(client, asset, o.down, '--down');
      const r = await client.tx('loan', 'apply', { productId, vin, price, downPayment, termMonths });
      const ev = findEvent(r.receipt, 'loan', 'approved') ?? findEvent(r.receipt, 'loan', 'rejected');
      const a = ev?.attrs ?? {};
      const approved = ev?.type === 'approved';
      const json = {
        hash: r.hash,
        height: r.committed.height,
        receipt: r.receipt,
        applicationId: a.applicationId ?? null,
        status: ev?.type ?? null,
        reasons: a.reasons ? a.reasons.split(',') : [],
      };
      const lines = approved
        ? [
            `application ${a.applicationId} approved: principal ${await showAmount(client, asset, a.principal ?? '0')}, APR ${formatBps(a.aprBps ?? '0')}, ${termMonths} months, installment ${await showAmount(client, asset, a.installment ?? '0')}`,
            `  the lender funds it with: autochain loan fund ${a.applicationId}`,
          ]
        : [`application ${a.applicationId} rejected: ${a.reasons ?? 'no reason given'}`];
      output(cmd, json, [...lines, txLine(r.hash, r.committed.height, r.receipt.gasUsed)]);
      // A rejection is recorded on chain (the tx succeeded), but the caller's goal was not met: exit code 1.
      if (!approved) process.exitCode = 1;
    }),
  );
  loan.addCommand(
    example(
      new Command('fund')
        .description(
          'fund an approved application: pays the seller, registers the lien, fixes the schedule (lender key)',
        )
        .argument('<id>', 'application id'),
      'autochain loan fund 1 --key keys/lender.json',
    ).action(async (id: string, _o: unknown, cmd: Command) => {
      const client = clientFor(cmd, { sign: true });
      const r = await client.tx('loan', 'fund', { applicationId: idArg(id) });
      const a = findEvent(r.receipt, 'loan', 'funded')?.attrs ?? {};
      const asset = a.asset ?? 'CNY';
      output(cmd, { hash: r.hash, height: r.committed.height, receipt: r.receipt, loanId: a.loanId ?? id }, [
        `funded loan ${a.loanId ?? id}: paid ${await showAmount(client, asset, a.principal ?? '0')} to seller ${a.seller ?? '?'}, lien registered on ${a.vin ?? '?'}`,
        `  ${a.termMonths ?? '?'} installments of ${await showAmount(client, asset, a.installment ?? '0')}, first due ${a.firstDueDate ?? '?'}`,
        txLine(r.hash, r.committed.height, r.receipt.gasUsed),
      ]);
    }),
  );
  loan.addCommand(
    example(
      new Command('repay')
        .description('pay towards a loan: penalty and fees, then interest, then principal (any key)')
        .argument('<id>', 'loan id')
        .option('--amount <amount>', 'amount in major units (more than the payoff is not taken)')
        .option('--payoff', 'pay the whole payoff amount'),
      'autochain loan repay 1 --key keys/borrower.json --amount 3042.19',
      'autochain loan repay 1 --key keys/borrower.json --payoff',
    ).action(async (idText: string, o: { amount?: string; payoff?: boolean }, cmd: Command) => {
      if ((o.amount === undefined) === (o.payoff !== true))
        throw new UsageError('pass either --amount <amount> or --payoff');
      const loanId = idArg(idText);
      const client = clientFor(cmd, { sign: true });
      const view = await client.loan(loanId);
      if (view.kind !== 'loan')
        throw new UsageError(`${loanId} is an application (${str(view.status)}), not a funded loan`);
      const asset = String(view.asset);
      const balances = view.balances as Record<string, string>;
      const amount = o.payoff
        ? BigInt(balances.payoff ?? '0')
        : await amountArg(client, asset, o.amount ?? '', '--amount');
      if (amount === 0n) throw new UsageError(`loan ${loanId} has nothing left to pay`);
      const r = await client.tx('loan', 'repay', { loanId, amount });
      const a = findEvent(r.receipt, 'loan', 'repaid')?.attrs ?? {};
      const paidOff = findEvent(r.receipt, 'loan', 'paidOff') !== undefined;
      // `advance` is what this payment left paid ahead of due dates; negative when earlier advance was used up.
      const parts = [
        ['penalty', a.penalty],
        ['fees', a.fees],
        ['interest', a.interest],
        ['principal', a.principal],
        ['paid ahead', a.advance],
      ].filter(([, v]) => v !== undefined && v !== '0');
      const split = await Promise.all(
        parts.map(async ([k, v]) => {
          const n = BigInt(v ?? '0');
          if (k === 'paid ahead' && n < 0n)
            return `${await showAmount(client, asset, -n)} of it from earlier payments ahead`;
          return `${k} ${await showAmount(client, asset, n)}`;
        }),
      );
      output(
        cmd,
        {
          hash: r.hash,
          height: r.committed.height,
          receipt: r.receipt,
          loanId: loanId.toString(),
          paid: a.amount ?? null,
          status: a.status ?? null,
          paidOff,
        },
        [
          `paid ${await showAmount(client, asset, a.amount ?? '0')} on loan ${loanId}: ${split.join(', ') || 'nothing due'}; loan is ${a.status ?? '?'}`,
          ...(paidOff ? [`  loan ${loanId} is paid off; the lien on ${view.vin as string} is released`] : []),
          txLine(r.hash, r.committed.height, r.receipt.gasUsed),
        ],
      );
    }),
  );
  loan.addCommand(
    example(
      new Command('assign')
        .description(
          'offer a loan to another lender at a price; it passes when that lender accepts (holding lender key)',
        )
        .argument('<id>', 'loan id')
        .requiredOption('--to <address>', "the buying lender's account: an address or a key file")
        .requiredOption('--price <amount>', 'price the buyer pays, major units of the loan currency'),
      'autochain loan assign 1 --key keys/lender.json --to ./other-lender.json --price 118000',
    ).action(async (idText: string, o: { to: string; price: string }, cmd: Command) => {
      const loanId = idArg(idText);
      const to = addressArg(o.to, '--to');
      const client = clientFor(cmd, { sign: true });
      const asset = await loanAsset(client, loanId);
      const price = await amountArg(client, asset, o.price, '--price');
      const r = await client.tx('loan', 'assign', { loanId, to, price });
      output(
        cmd,
        {
          hash: r.hash,
          height: r.committed.height,
          receipt: r.receipt,
          loanId: loanId.toString(),
          to: toHex(to),
          price: price.toString(),
        },
        [
          `offered loan ${loanId} to ${toHex(to)} for ${await showAmount(client, asset, price)}; it passes when they run \`autochain loan accept ${loanId}\``,
          txLine(r.hash, r.committed.height, r.receipt.gasUsed),
        ],
      );
    }),
  );
  loan.addCommand(
    example(
      new Command('accept')
        .description('accept a loan offered to you: pay its price, take over the loan and its lien (buying lender key)')
        .argument('<id>', 'loan id'),
      'autochain loan accept 1 --key ./other-lender.json',
    ).action(async (idText: string, _o: unknown, cmd: Command) => {
      const loanId = idArg(idText);
      const client = clientFor(cmd, { sign: true });
      const asset = await loanAsset(client, loanId);
      const r = await client.tx('loan', 'acceptAssignment', { loanId });
      const a = findEvent(r.receipt, 'loan', 'assigned')?.attrs ?? {};
      output(
        cmd,
        {
          hash: r.hash,
          height: r.committed.height,
          receipt: r.receipt,
          loanId: loanId.toString(),
          from: a.from ?? null,
          to: a.to ?? null,
          price: a.price ?? null,
        },
        [
          `loan ${loanId} assigned from ${a.from ?? '?'} to ${a.to ?? '?'} (account ${a.lender ?? '?'}) for ${await showAmount(client, asset, a.price ?? '0')}; the lien follows the loan`,
          txLine(r.hash, r.committed.height, r.receipt.gasUsed),
        ],
      );
    }),
  );
  loan.addCommand(
    example(
      new Command('repossess')
        .description(
          'seize the vehicle of a defaulted loan; it passes to the lender, the lien stays until the sale (lender key)',
        )
        .argument('<id>', 'loan id'),
      'autochain loan repossess 1 --key keys/lender.json',
    ).action(async (idText: string, _o: unknown, cmd: Command) => {
      const loanId = idArg(idText);
      const client = clientFor(cmd, { sign: true });
      const asset = await loanAsset(client, loanId);
      const r = await client.tx('loan', 'repossess', { loanId });
      const a = findEvent(r.receipt, 'loan', 'repossessed')?.attrs ?? {};
      output(
        cmd,
        {
          hash: r.hash,
          height: r.committed.height,
          receipt: r.receipt,
          loanId: loanId.toString(),
          vin: a.vin ?? null,
          payoff: a.payoff ?? null,
        },
        [
          `repossessed ${a.vin ?? '?'} for loan ${loanId}: the vehicle is seized and owned by the lender; payoff ${await showAmount(client, asset, a.payoff ?? '0')}`,
          txLine(r.hash, r.committed.height, r.receipt.gasUsed),
        ],
      );
    }),
  );
  loan.addCommand(
    example(
      new Command('sale')
        .description(
          'record the sale of a repossessed vehicle: proceeds pay the loan, a surplus goes to the borrower, the lien is released (lender key)',
        )
        .argument('<id>', 'loan id')
        .requiredOption('--buyer <address>', 'the buyer: an address or a key file')
        .requiredOption('--proceeds <amount>', 'sale proceeds, major units of the loan currency'),
      'autochain loan sale 1 --key keys/lender.json --buyer keys/dealer.json --proceeds 95000',
    ).action(async (idText: string, o: { buyer: string; proceeds: string }, cmd: Command) => {
      const loanId = idArg(idText);
      const buyer = addressArg(o.buyer, '--buyer');
      const client = clientFor(cmd, { sign: true });
      const asset = await loanAsset(client, loanId);
      const proceeds = await amountArg(client, asset, o.proceeds, '--proceeds');
      const r = await client.tx('loan', 'recordSale', { loanId, buyer, proceeds });
      const a = findEvent(r.receipt, 'loan', 'saleRecorded')?.attrs ?? {};
      output(
        cmd,
        {
          hash: r.hash,
          height: r.committed.height,
          receipt: r.receipt,
          loanId: loanId.toString(),
          vin: a.vin ?? null,
          buyer: toHex(buyer),
          proceeds: a.proceeds ?? proceeds.toString(),
          applied: a.applied ?? null,
          deficiency: a.deficiency ?? null,
          surplus: a.surplus ?? null,
        },
        [
          `sold ${a.vin ?? '?'} to ${toHex(buyer)} for ${await showAmount(client, asset, proceeds)}: ${await showAmount(client, asset, a.applied ?? '0')} applied to loan ${loanId}, ` +
            `deficiency ${await showAmount(client, asset, a.deficiency ?? '0')}, surplus to the borrower ${await showAmount(client, asset, a.surplus ?? '0')}`,
          `  loan ${loanId} is sold; the lien on ${a.vin ?? '?'} is released`,
          txLine(r.hash, r.committed.height, r.receipt.gasUsed),
        ],
      );
    }),
  );
  loan.addCommand(
    example(
      new Command('show')
        .description('show a loan (balances, status, schedule) or an application')
        .argument('<id>')
        .option('--schedule', 'print every installment of the schedule'),
      'autochain loan show 1 --schedule',
    ).action(async (idText: string, o: { schedule?: boolean }, cmd: Command) => {
      const client = clientFor(cmd, { sign: false });
      const v = await client.loan(idArg(idText));
      output(cmd, v, await describeLoan(client, v, o.schedule === true));
    }),
  );
  loan.addCommand(
    example(
      new Command('list')
        .description("list a borrower's applications and loans, or the delinquent loans")
        .option('--borrower <address>', 'an address or a key file (default: the --key file)')
        .option('--delinquent', 'list delinquent and defaulted loans instead')
        .option('--offset <n>', 'skip this many', '0')
        .option('--limit <n>', 'at most this many', '50'),
      'autochain loan list --borrower keys/borrower.json',
      'autochain loan list --delinquent',
    ).action(async (o: { borrower?: string; delinquent?: boolean; offset: string; limit: string }, cmd: Command) => {
      const client = clientFor(cmd, { sign: false });
      const page = {
        offset: parseIntArg(o.offset, '--offset', 0, 1e9),
        limit: parseIntArg(o.limit, '--limit', 1, 1000),
      };
      let result: LoanListDelinquentResult | LoanListByBorrowerResult;
      if (o.delinquent) result = await client.delinquentLoans(page);
      else {
        const who = o.borrower ?? (cmd.optsWithGlobals() as { key?: string }).key;
        if (who === undefined)
          throw new UsageError('name the borrower with --borrower <address|key file> (or pass --delinquent)');
        result = await client.loansByBorrower(toHex(addressArg(who, '--borrower')), page);
      }
      const lines = await Promise.all(
        result.items.map(async (v) => {
          const asset = String(v.asset);
          if (v.kind !== 'loan')
            return `${str(v.id).padStart(4)}  application ${str(v.status).padEnd(9)} ${str(v.vin)}  principal ${await showAmount(client, asset, str(v.principal))}`;
          const b = v.balances as Record<string, string>;
          return `${str(v.id).padStart(4)}  loan ${str(v.status).padEnd(10)} ${str(v.vin)}  payoff ${await showAmount(client, asset, b.payoff ?? '0')}  dpd ${str(v.dpd)}`;
        }),
      );
      output(
        cmd,
        result,
        lines.length === 0 ? [`(none of ${result.total})`] : [...lines, `${result.items.length} of ${result.total}`],
      );
    }),
  );
  return loan;
}

async function describeLoan(client: AutochainClient, v: LoanView, withSchedule: boolean): Promise<string[]> {
  const asset = String(v.asset);
  const amt = (x: JsonValue | undefined): Promise<string> => showAmount(client, asset, str(x) === '' ? '0' : str(x));
  if (v.kind !== 'loan') {
    const reasons = Array.isArray(v.reasons) && v.reasons.length > 0 ? ` (${v.reasons.join(', ')})` : '';
    return [
      `application ${str(v.id)}  ${str(v.status)}${reasons}`,
      `borrower     ${str(v.borrower)}`,
      `lender       ${str(v.lenderMember)}, product ${str(v.productId)}`,
      `vehicle      ${str(v.vin)}`,
      `price        ${await amt(v.price)}, down payment ${await amt(v.downPayment)}`,
      `principal    ${await amt(v.principal)} over ${str(v.termMonths)} months at ${formatBps(Number(v.aprBps ?? 0))} APR, installment ${await amt(v.installment)}`,
    ];
  }
  const b = (v.balances ?? {}) as Record<string, string>;
  const paid = (v.paid ?? {}) as Record<string, string>;
  const lines = [
    `loan ${str(v.id)}  ${str(v.status)}${Number(v.dpd ?? 0) > 0 ? `, ${str(v.dpd)} days past due (${str(v.bucket)})` : ''}  as of ${str(v.asOf)}`,
    `borrower     ${str(v.borrower)}`,
    `lender       ${str(v.lenderMember)} (${str(v.lender)}), product ${str(v.productId)}`,
    `vehicle      ${str(v.vin)}`,
    `principal    ${await amt(v.principal)} over ${str(v.termMonths)} months at ${formatBps(Number(v.aprBps ?? 0))} APR (${str(v.method)}), funded ${str(v.fundedDate)}`,
    `installment  ${await amt(v.installment)}; ${str(v.installmentsPaid)} paid, ${str(v.installmentsDue)} fallen due`,
    `paid         principal ${await amt(paid.principal)}, interest ${await amt(paid.interest)}, fees ${await amt(paid.fees)}, penalty ${await amt(paid.penalty)}`,
    `due now      principal ${await amt(b.principalDue)}, interest ${await amt(b.interestDue)}, fees ${await amt(b.feesDue)}, penalty ${await amt(b.penaltyDue)}`,
    `outstanding  principal ${await amt(b.principalOutstanding)}; payoff ${await amt(b.payoff)}`,
  ];
  const schedule = Array.isArray(v.schedule) ? (v.schedule as Record<string, JsonValue>[]) : [];
  if (withSchedule) {
    lines.push('schedule     #   due date     amount         principal      interest       state');
    for (const s of schedule) {
      lines.push(
        `             ${str(s.n).padStart(3)} ${str(s.dueDate)}  ${(await amt(s.amount)).padStart(14)} ${(await amt(s.principal)).padStart(14)} ${(await amt(s.interest)).padStart(14)}  ${str(s.state)}`,
      );
    }
  } else {
    const next = schedule.find((s) => s.state !== 'paid');
    if (next !== undefined)
      lines.push(
        `next due     ${str(next.dueDate)}: ${await amt(next.amount)} (installment ${str(next.n)} of ${schedule.length})`,
      );
  }
  return lines;
}
