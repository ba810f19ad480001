// CLI commands that run a node: init (a home folder), start (run it), devnet (a ready local chain with demo members).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { pino, type Logger } from 'pino';
import { Node, loadNodeOptions } from '../../src/node/node.js';
import { AutochainClient } from '../../src/client/client.js';
import { sha256 } from '../../src/core/hash.js';
import { utf8 } from '../../src/core/bytes.js';
import { addressOf, loadKeyFile } from '../../src/core/keys.js';
import { UsageError, example, globals, parseIntArg } from '../lib/common.js';
import {
  DEVNET_CHAIN_ID,
  createDevnet,
  initHome,
  isInitialised,
  keyFileOf,
  loadDevnetInfo,
  saveDevnetInfo,
  type DevnetInfo,
} from '../lib/home.js';

const DEFAULT_HOME = join(homedir(), '.autochain', 'node');
export const DEFAULT_DEVNET_HOME = join(homedir(), '.autochain', 'devnet');

function say(cmd: Command, line: string): void {
  // Progress goes to stderr with --json, so stdout stays one JSON document.
  (globals(cmd).json ? process.stderr : process.stdout).write(`${line}\n`);
}

export function initCommand(): Command {
  return example(
    new Command('init')
      .description('create a node home folder: node key, validator key, config.json, genesis.json')
      .option('--home <dir>', 'the home folder', DEFAULT_HOME)
      .option('--chain-id <id>', 'chain id (lowercase letters, digits, dashes)', 'autochain-local')
      .option('--member-id <id>', "your organisation's member id", 'operator')
      .option('--member-name <name>', "your organisation's name", 'Validator Operator')
      .option('--stake <amount>', 'genesis stake of this validator (STAKE units)', '1000000')
      .option('--port <port>', 'RPC port', '26657'),
    'autochain init --home ./node1 --chain-id my-consortium',
  ).action(
    (
      o: { home: string; chainId: string; memberId: string; memberName: string; stake: string; port: string },
      cmd: Command,
    ) => {
      const home = resolve(o.home);
      const r = initHome(home, {
        chainId: o.chainId,
        memberId: o.memberId,
        memberName: o.memberName,
        stake: BigInt(parseIntArg(o.stake, '--stake', 1, Number.MAX_SAFE_INTEGER)),
        config: { rpc: { port: parseIntArg(o.port, '--port', 0, 65535) } },
      });
      if (globals(cmd).json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        [
          `initialised ${home} for chain ${r.chainId}`,
          `  validator      ${r.validatorAddress}`,
          `  config         ${r.files.config}`,
          `  genesis        ${r.files.genesis}`,
          `  validator key  ${r.files.validatorKey}`,
          `  node key       ${r.files.nodeKey}`,
          `edit genesis.json (members, validators, balances) before the first start, then: autochain start --home ${home}`,
        ].join('\n') + '\n',
      );
    },
  );
}

/** Runs a node until SIGINT or SIGTERM, then stops it gracefully. */
async function runUntilSignal(node: Node, onStarted: (rpcUrl: string) => Promise<void>): Promise<void> {
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => (stopping ??= node.stop());
  const stopped = new Promise<void>((resolveStopped) => {
    const onSignal = (): void => void stop().then(resolveStopped, resolveStopped);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  let rpcUrl: string;
  try {
    ({ rpcUrl } = await node.start());
  } catch (e) {
    throw explainStartFailure(e, node);
  }
  try {
    await onStarted(rpcUrl);
  } catch (e) {
    await stop();
    throw e;
  }
  await stopped;
}

/** The usual reasons a node cannot start, said in a sentence with what to do. */
function explainStartFailure(e: unknown, node: Node): unknown {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const port = node.opts.config.rpc.port;
  if (err.code === 'EADDRINUSE') {
    return new UsageError(
      `port ${port} is already in use (is another node running?); stop it or pass --port <port> (0 picks a free one)`,
    );
  }
  if (err.code === 'LEVEL_DATABASE_NOT_OPEN' || /Database failed to open/.test(err.message ?? '')) {
    const why = `${err.cause?.code ?? ''} ${err.cause?.message ?? ''}`;
    if (/LOCK/i.test(why))
      return new UsageError(`${node.dataDir} is in use by another running node; stop that one first`);
    return new UsageError(
      `cannot open the database in ${node.dataDir}: ${err.cause?.message ?? err.message ?? 'unknown reason'}`,
    );
  }
  return e;
}

function nodeLogger(home: string, level: string, toFile: boolean): Logger {
  if (!toFile) return pino({ level });
  return pino({ level }, pino.destination({ dest: join(home, 'node.log'), mkdir: true, sync: false }));
}

export function startCommand(): Command {
  return example(
    new Command('start')
      .description('start the node of a home folder (Ctrl-C stops it gracefully)')
      .option('--home <dir>', 'the home folder', DEFAULT_HOME)
      .option('--port <port>', 'RPC port (overrides config.json; 0 picks a free port)'),
    'autochain start --home ./node1',
  ).action(async (o: { home: string; port?: string }, _cmd: Command) => {
    const home = resolve(o.home);
    if (!isInitialised(home))
      throw new UsageError(`${home} holds no node: run \`autochain init --home ${o.home}\` first`);
    const opts = loadNodeOptions(home);
    if (o.port !== undefined) opts.config.rpc.port = parseIntArg(o.port, '--port', 0, 65535);
    const node = new Node(opts, { logger: nodeLogger(home, opts.config.log.level, false) });
    await runUntilSignal(node, async (rpcUrl) => {
      node.logger.info({ rpc: rpcUrl, home }, 'autochain node running; Ctrl-C stops it');
    });
  });
}

export function devnetCommand(): Command {
  return example(
    new Command('devnet')
      .description('start a ready local chain with demo members and funded keys (re-running restarts it)')
      .option('--home <dir>', 'the devnet home folder', DEFAULT_DEVNET_HOME)
      .option('--port <port>', 'RPC port (0 picks a free port)'),
    'autochain devnet',
    'autochain devnet --home /tmp/devnet --port 0',
  ).action(async (o: { home: string; port?: string }, cmd: Command) => {
    const home = resolve(o.home);
    const port = o.port === undefined ? undefined : parseIntArg(o.port, '--port', 0, 65535);
    let info: DevnetInfo | null = loadDevnetInfo(home);
    if (info === null) {
      if (isInitialised(home)) throw new UsageError(`${home} holds a node that is not a devnet; pick another --home`);
      say(cmd, `creating a devnet in ${home} ...`);
      info = createDevnet(home, { port: port ?? 26657 });
      say(cmd, `  wrote genesis.json, config.json and ${info.keys.length} key files`);
    } else {
      say(cmd, `restarting the devnet in ${home} ...`);
    }
    const opts = loadNodeOptions(home);
    if (port !== undefined) opts.config.rpc.port = port;
    const node = new Node(opts, { logger: nodeLogger(home, opts.config.log.level, true) });
    say(cmd, '  starting the node (logs in node.log) ...');
    const devnet = info;
    await runUntilSignal(node, async (rpcUrl) => {
      say(cmd, `  node started, height ${node.height()}`);
      if (!devnet.borrowerOnboarded) {
        say(cmd, '  onboarding the demo borrower (a tx from the lender) ...');
        await onboardBorrower(home, rpcUrl);
        devnet.borrowerOnboarded = true;
        saveDevnetInfo(home, devnet);
      }
      printReady(cmd, home, rpcUrl, devnet);
    });
    say(cmd, 'devnet stopped');
  });
}

async function onboardBorrower(home: string, rpcUrl: string): Promise<void> {
  const lender = loadKeyFile(keyFileOf(home, 'lender'));
  const borrower = loadKeyFile(keyFileOf(home, 'borrower'));
  const client = new AutochainClient({ url: rpcUrl, key: lender, chainId: DEVNET_CHAIN_ID });
  // The commitment stands for the borrower's off-chain identity record; the devnet has none, so it hashes a label.
  await client.tx('member', 'onboardBorrower', {
    borrower: addressOf(borrower.publicKey),
    identityCommitment: sha256(utf8(`devnet demo borrower ${Buffer.from(borrower.publicKey).toString('hex')}`)),
  });
}

function printReady(cmd: Command, home: string, rpcUrl: string, info: DevnetInfo): void {
  const wsUrl = `${rpcUrl.replace(/^http/, 'ws')}/ws`;
  if (globals(cmd).json) {
    process.stdout.write(
      `${JSON.stringify({ chainId: info.chainId, rpc: rpcUrl, ws: wsUrl, home, keys: info.keys })}\n`,
    );
    return;
  }
  const width = Math.max(...info.keys.map((k) => k.name.length));
  process.stdout.write(
    [
      '',
      'autochain devnet is running',
      `  chain  ${info.chainId}`,
      `  rpc    ${rpcUrl}`,
      `  ws     ${wsUrl}`,
      `  home   ${home}`,
      '  keys (funded demo members and a borrower):',
      ...info.keys.map((k) => `    ${k.name.padEnd(width)}  ${k.file}  ${k.address}`),
      '',
      `try: npx autochain status --rpc ${rpcUrl}`,
      'Ctrl-C stops the devnet; running `autochain devnet` again restarts it where it stopped.',
      '',
    ].join('\n'),
  );
}
