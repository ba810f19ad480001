// CLI commands for validator stake: bond, unbond, unjail (validator-operator keys) and the validator list.
import { Command } from 'commander';
import { decode } from '../../src/core/codec.js';
import { fromHex } from '../../src/core/bytes.js';
import { stateKey } from '../../src/vm/store.js';
import { ParamsSchema, type StakingParams } from '../../src/vm/modules/staking.js';
import type { AutochainClient } from '../../src/client/client.js';
import { UsageError, amountArg, clientFor, example, findEvent, output, showAmount, txLine } from '../lib/common.js';

/** The chain's staking parameters (bond asset, unbonding period, ...), from state key staking/params. */
async function stakingParams(client: AutochainClient): Promise<StakingParams> {
  const res = await client.stateGet(stateKey('staking', 'params'));
  if (res.value === null) throw new UsageError('the chain has no staking parameters');
  return decode(ParamsSchema, fromHex(res.value), 256);
}

function when(ms: string | undefined): string {
  return ms !== undefined && /^\d+$/.test(ms) ? new Date(Number(ms)).toISOString() : '?';
}

export function stakingCommand(): Command {
  const staking = example(
    new Command('staking').description('validator stake: bond, unbond, unjail, list'),
    'autochain staking list',
  );
  staking.addCommand(
    example(
      new Command('bond')
        .description(
          "bond stake from this account's balance; it validates with that power from the next validator set update (validator-operator member key)",
        )
        .requiredOption('--amount <amount>', 'stake to add, major units of the bond asset'),
      'autochain staking bond --key validator_key.json --amount 5000',
    ).action(async (o: { amount: string }, cmd: Command) => {
      const client = clientFor(cmd, { sign: true });
      const p = await stakingParams(client);
      const amount = await amountArg(client, p.bondAsset, o.amount, '--amount');
      const r = await client.tx('staking', 'bond', { amount });
      const a = findEvent(r.receipt, 'staking', 'bonded')?.attrs ?? {};
      output(
        cmd,
        {
          hash: r.hash,
          height: r.committed.height,
          receipt: r.receipt,
          validator: a.validator ?? null,
          amount: amount.toString(),
          stake: a.stake ?? null,
        },
        [
          `bonded ${await showAmount(client, p.bondAsset, amount)} for validator ${a.validator ?? '?'} (${a.member ?? '?'}): stake now ${await showAmount(client, p.bondAsset, a.stake ?? '0')}`,
          txLine(r.hash, r.committed.height, r.receipt.gasUsed),
        ],
      );
    }),
  );
  staking.addCommand(
    example(
      new Command('unbond')
        .description(
          'unbond stake: its power goes at once, the stake returns after the unbonding period (validator key)',
        )
        .requiredOption(
          '--amount <amount>',
          'stake to unbond, major units of the bond asset (all of it to stop validating)',
        ),
      'autochain staking unbond --key validator_key.json --amount 1000',
    ).action(async (o: { amount: string }, cmd: Command) => {
      const client = clientFor(cmd, { sign: true });
      const p = await stakingParams(client);
      const amount = await amountArg(client, p.bondAsset, o.amount, '--amount');
      const r = await client.tx('staking', 'unbond', { amount });
      const a = findEvent(r.receipt, 'staking', 'unbonding')?.attrs ?? {};
      output(
        cmd,
        {
          hash: r.hash,
          height: r.committed.height,
          receipt: r.receipt,
          validator: a.validator ?? null,
          amount: amount.toString(),
          stake: a.stake ?? null,
          completeAtMs: a.completeAtMs ?? null,
        },
        [
          `unbonding ${await showAmount(client, p.bondAsset, amount)} from validator ${a.validator ?? '?'}: stake now ${await showAmount(client, p.bondAsset, a.stake ?? '0')}, returned at ${when(a.completeAtMs)}`,
          txLine(r.hash, r.committed.height, r.receipt.gasUsed),
        ],
      );
    }),
  );
  staking.addCommand(
    example(
      new Command('unjail').description(
        'return a jailed validator to the set once its jail time has passed (validator key)',
      ),
      'autochain staking unjail --key validator_key.json',
    ).action(async (_o: unknown, cmd: Command) => {
      const client = clientFor(cmd, { sign: true });
      const r = await client.tx('staking', 'unjail', {});
      const a = findEvent(r.receipt, 'staking', 'unjailed')?.attrs ?? {};
      output(cmd, { hash: r.hash, height: r.committed.height, receipt: r.receipt, validator: a.validator ?? null }, [
        `unjailed validator ${a.validator ?? '?'}: it votes again from the next validator set update`,
        txLine(r.hash, r.committed.height, r.receipt.gasUsed),
      ]);
    }),
  );
  staking.addCommand(
    example(
      new Command('list').description('list the validators (stake, power, jail) and pending unbondings'),
      'autochain staking list',
    ).action(async (_o: unknown, cmd: Command) => {
      const client = clientFor(cmd, { sign: false });
      const [list, p] = await Promise.all([client.validators(), stakingParams(client)]);
      const amt = (x: string): Promise<string> => showAmount(client, p.bondAsset, x);
      const lines = await Promise.all(
        list.validators.map(async (v) => {
          const jailed = v.jailedUntilMs === null ? '' : `  jailed until ${when(v.jailedUntilMs)}`;
          return `${v.address}  ${v.memberId.padEnd(14)} stake ${(await amt(v.stake)).padStart(18)}  power ${v.power}${jailed}`;
        }),
      );
      const unbonding = await Promise.all(
        list.unbonding.map(
          async (u) => `unbonding ${u.address}  ${await amt(u.amount)} returned at ${when(u.completeAtMs)}`,
        ),
      );
      output(cmd, list, [
        ...(lines.length === 0 ? ['(no validators)'] : lines),
        ...unbonding,
        `total power ${list.totalPower} (${list.validators.length} validators)`,
      ]);
    }),
  );
  return staking;
}
