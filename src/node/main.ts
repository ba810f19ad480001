// Runs one node from a home folder until SIGINT or SIGTERM: `node dist/src/node/main.js --home <dir>`.
// `autochain start` calls runNode(); this file's own entry serves tests and operators without the CLI.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { Node, loadNodeOptions, type NodeDeps } from './node.js';

export interface RunningNode {
  node: Node;
  rpcUrl: string;
  /** Resolves after a signal-triggered graceful stop. */
  stopped: Promise<void>;
}

/**
 * Starts the node of `home` and installs SIGINT/SIGTERM handlers: the first signal stops gracefully (stop accepting
 * txs, finish the block in progress, close the store), a second one exits at once.
 */
export async function runNode(home: string, deps: NodeDeps = {}): Promise<RunningNode> {
  const node = new Node(loadNodeOptions(home), deps);
  const { rpcUrl } = await node.start();
  let signalled = false;
  const stopped = new Promise<void>((done) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        node.logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(130);
      }
      signalled = true;
      node.logger.info({ signal }, 'signal received: stopping gracefully');
      node.stop().then(done, (e: unknown) => {
        node.logger.error({ err: e }, 'error while stopping');
        done();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return { node, rpcUrl, stopped };
}

function homeFromArgs(argv: readonly string[]): string | null {
  const i = argv.indexOf('--home');
  return i >= 0 && argv[i + 1] ? resolve(argv[i + 1]!) : null;
}

async function main(): Promise<void> {
  const home = homeFromArgs(process.argv.slice(2));
  if (home === null) {
    process.stderr.write('usage: node dist/src/node/main.js --home <folder with config.json and genesis.json>\n');
    process.exit(2);
  }
  try {
    const running = await runNode(home);
    await running.stopped;
    process.exit(0);
  } catch (e) {
    process.stderr.write(`autochain node: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  void main();
}
