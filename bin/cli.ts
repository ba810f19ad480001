// The `autochain` command line: builds the commander program and runs it, turning every failure into one line on
// stderr and a non-zero exit code (bin/autochain.js is the launcher that calls main).
import { Command, CommanderError } from 'commander';
import { DEFAULT_RPC_URL } from '../src/client/client.js';
import { reportError } from './lib/common.js';
import { accountCommand, keysCommand, statusCommand, txCommand } from './commands/chain.js';
import { creditCommand, memberCommand, productCommand, vehicleCommand } from './commands/registry.js';
import { loanCommand } from './commands/loan.js';
import { stakingCommand } from './commands/staking.js';
import { devnetCommand, initCommand, startCommand } from './commands/node.js';
import { NODE_VERSION } from '../src/node/node.js';

export function buildProgram(): Command {
  const program = new Command('autochain')
    .description('autochain: a proof-of-stake consortium blockchain for auto finance')
    .version(NODE_VERSION)
    .option('--rpc <url>', `node RPC URL (or AUTOCHAIN_RPC)`, process.env.AUTOCHAIN_RPC ?? DEFAULT_RPC_URL)
    .option('--key <file>', 'key file that signs txs (or AUTOCHAIN_KEY)')
    .option('--json', 'print results as JSON, for scripts')
    .addHelpText(
      'after',
      `
Examples:
  $ autochain devnet                      start a local chain with demo members (keys in ~/.autochain/devnet/keys)
  $ autochain status
  $ autochain loan show 1 --json
`,
    );
  for (const c of [
    initCommand(),
    startCommand(),
    devnetCommand(),
    keysCommand(),
    statusCommand(),
    accountCommand(),
    txCommand(),
    memberCommand(),
    vehicleCommand(),
    creditCommand(),
    productCommand(),
    loanCommand(),
    stakingCommand(),
  ])
    program.addCommand(c);
  applyToAll(program, (c) => {
    c.exitOverride();
    c.configureOutput({
      // Commander's own usage errors become our one-line report (printed by main).
      outputError: () => {},
    });
    // Every command's --help also lists --rpc, --key and --json, which work after the subcommand too.
    c.configureHelp({ showGlobalOptions: true });
  });
  return program;
}

function applyToAll(cmd: Command, f: (c: Command) => void): void {
  f(cmd);
  for (const sub of cmd.commands) applyToAll(sub, f);
}

/** Runs the CLI with process.argv-style arguments; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (
      e instanceof CommanderError &&
      (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')
    )
      return 0;
    if (e instanceof CommanderError && e.exitCode === 0) return 0;
    return reportError(e, json);
  }
}
