// CLI commands that read the chain or move money: status, account, keys, tx transfer.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { addressHex, generateKeyPair, keyPairFromSeed, loadKeyFile, saveKeyFile } from '../../src/core/keys.js';
import { fromHex, isHex } from '../../src/core/bytes.js';
import { UsageError, addressArg, amountArg, clientFor, output, showAmount, txLine, example } from '../lib/common.js';

export function statusCommand(): Command {
  return example(
    new Command('status').description("show the node's chain, height, latest block and mempool"),
    'autochain status --rpc http://127.0.0.1:26657',
  ).action(async (_opts: unknown, cmd: Command) => {
    const client = clientFor(cmd, { sign: false });
    const s = await client.status();
    const time = s.latestBlockTimeMs === null ? '-' : new Date(Number(s.latestBlockTimeMs)).toISOString();
    output(cmd, s, [
      `chain       ${s.chainId}`,
      `height      ${s.height}`,
      `block       ${s.latestBlockHash ?? '-'}`,
      `block time  ${time}`,
      `state root  ${s.stateRoot}`,
      `validator   ${s.validator ?? '(not a validator)'}`,
      `mempool     ${s.mempool.size} txs, ${s.mempool.bytes} bytes`,
      `node        ${client.url} (autochain ${s.version})`,
    ]);
  });
}

export function accountCommand(): Command {
  return example(
    new Command('account')
      .description('show the balances and next nonce of an account')
      .argument('[address]', 'an address (40 hex) or a key file; default: the --key file'),
    'autochain account ~/.autochain/devnet/keys/borrower.json',
  ).action(async (address: string | undefined, _opts: unknown, cmd: Command) => {
    const client = clientFor(cmd, { sign: false });
    const who = address ?? (cmd.optsWithGlobals() as { key?: string }).key;
    if (who === undefined) throw new UsageError('name the account: an address, a key file, or --key <file>');
    const addr = addressHexOf(who);
    const a = await client.account(addr);
    const lines = [`address  ${a.address}`, `nonce    ${a.nonce}`];
    if (a.balances.length === 0) lines.push('balances (none)');
    for (const b of a.balances) lines.push(`balance  ${await showAmount(client, b.asset, b.amount)}`);
    output(cmd, a, lines);
  });
}

function addressHexOf(who: string): string {
  const bytes = addressArg(who, 'the account');
  return Buffer.from(bytes).toString('hex');
}

export function keysCommand(): Command {
  const keys = example(
    new Command('keys').description('create, show and import ed25519 key files'),
    'autochain keys new ./alice.json',
    'autochain keys show ./alice.json',
  );
  keys.addCommand(
    example(
      new Command('new')
        .description('create a new key file (mode 0600)')
        .argument('<file>', 'where to write it')
        .option('--force', 'overwrite an existing file'),
      'autochain keys new ./alice.json',
    ).action((file: string, opts: { force?: boolean }, cmd: Command) => {
      const path = resolve(file);
      if (existsSync(path) && !opts.force)
        throw new UsageError(`${path} already exists (pass --force to overwrite it)`);
      const kp = generateKeyPair();
      saveKeyFile(path, kp, { overwrite: opts.force === true });
      const info = {
        file: path,
        address: addressHex(kp.publicKey),
        publicKey: Buffer.from(kp.publicKey).toString('hex'),
      };
      output(cmd, info, [`created ${path}`, `address     ${info.address}`, `public key  ${info.publicKey}`]);
    }),
  );
  keys.addCommand(
    example(
      new Command('show').description("show a key file's address and public key (never the seed)").argument('<file>'),
      'autochain keys show ./alice.json',
    ).action((file: string, _opts: unknown, cmd: Command) => {
      const kp = loadKeyFile(file);
      const info = {
        file: resolve(file),
        address: addressHex(kp.publicKey),
        publicKey: Buffer.from(kp.publicKey).toString('hex'),
      };
      output(cmd, info, [`file        ${info.file}`, `address     ${info.address}`, `public key  ${info.publicKey}`]);
    }),
  );
  keys.addCommand(
    example(
      new Command('import')
        .description('write a key file from an existing 32-byte ed25519 seed')
        .argument('<file>', 'where to write it')
        .option('--seed <hex>', 'the 32-byte seed as 64 hex digits (visible to other users in the process list)')
        .option('--seed-file <file>', 'read the seed (64 hex digits) from a file instead')
        .option('--force', 'overwrite an existing file'),
      'autochain keys import ./bank.json --seed-file ./bank-seed.hex',
    ).action((file: string, opts: { seed?: string; seedFile?: string; force?: boolean }, cmd: Command) => {
      if ((opts.seed === undefined) === (opts.seedFile === undefined))
        throw new UsageError('pass either --seed <hex> or --seed-file <file>');
      const seed = (opts.seed ?? readFileSync(opts.seedFile ?? '', 'utf8')).trim();
      if (!isHex(seed, 32)) throw new UsageError('the seed must be 64 hex digits (a 32-byte ed25519 seed)');
      const path = resolve(file);
      if (existsSync(path) && !opts.force)
        throw new UsageError(`${path} already exists (pass --force to overwrite it)`);
      const kp = keyPairFromSeed(fromHex(seed));
      saveKeyFile(path, kp, { overwrite: opts.force === true });
      const info = {
        file: path,
        address: addressHex(kp.publicKey),
        publicKey: Buffer.from(kp.publicKey).toString('hex'),
      };
      output(cmd, info, [`imported ${path}`, `address     ${info.address}`, `public key  ${info.publicKey}`]);
    }),
  );
  return keys;
}

export function txCommand(): Command {
  const tx = example(
    new Command('tx').description('sign and send plain transactions'),
    'autochain tx transfer --key keys/bank.json --to keys/borrower.json --amount 1500.00',
  );
  tx.addCommand(
    example(
      new Command('transfer')
        .description('transfer an asset to another account')
        .requiredOption('--to <address>', 'recipient: an address (40 hex) or a key file')
        .requiredOption('--amount <amount>', 'in major units, e.g. 1500.00')
        .option('--asset <code>', 'asset code', 'CNY')
        .option('--memo <text>', 'a note kept with the transfer', ''),
      'autochain tx transfer --key keys/bank.json --to keys/borrower.json --amount 1500.00',
    ).action(async (opts: { to: string; amount: string; asset: string; memo: string }, cmd: Command) => {
      const client = clientFor(cmd, { sign: true });
      const to = addressArg(opts.to, '--to');
      const amount = await amountArg(client, opts.asset, opts.amount, '--amount');
      const r = await client.tx('asset', 'transfer', { asset: opts.asset, to, amount, memo: opts.memo });
      const shown = await showAmount(client, opts.asset, amount);
      output(
        cmd,
        { hash: r.hash, height: r.committed.height, receipt: r.receipt, amount: amount.toString(), asset: opts.asset },
        [
          `transferred ${shown} to ${Buffer.from(to).toString('hex')}`,
          txLine(r.hash, r.committed.height, r.receipt.gasUsed),
        ],
      );
    }),
  );
  return tx;
}
