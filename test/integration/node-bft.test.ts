// A real node on the BFT engine: blocks carry commit certificates that verifyCommit accepts against the validator
// set, an idle chain makes no empty blocks (a peer's message starts a held height), devnet block times, and the signer record survives kill -9 (the
// restarted node resumes at its height from the chain-state snapshot and keeps committing, with no conflicting signature).
// The kill -9 part runs the built node (dist/src/node/main.js): `npm test` builds dist/ before vitest runs.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { decodeBlock, decodeCommit, signVote, VOTE_PREVOTE } from '../../src/core/types.js';
import { addressOf, keyPairFromLabel } from '../../src/core/keys.js';
import { equalBytes, toHex } from '../../src/core/bytes.js';
import { verifyCommit } from '../../src/consensus/verify-commit.js';
import { ValidatorSet } from '../../src/consensus/validator-set.js';
import { FileSignStateStore } from '../../src/node/signer-store.js';
import { Node, loadNodeOptions } from '../../src/node/node.js';
import { BftProducer } from '../../src/node/bft-producer.js';
import type { NodeConsensusNetwork } from '../../src/p2p/network.js';
import type { ConsensusMessage } from '../../src/consensus/messages.js';
import { ChainStore } from '../../src/state/store.js';
import { TransferArgs } from '../../src/vm/modules/asset.js';
import {
  makeHome,
  call,
  rpc,
  buildTx,
  addrHex,
  genesisDoc,
  K,
  CHAIN_ID,
  DAY_MS,
  GENESIS_TIME_MS,
} from './node-helpers.js';

const MAIN = resolve('dist/src/node/main.js');
const validators = ValidatorSet.fromGenesis([{ publicKey: K.validator.publicKey, power: 1_000_000n }]);
const transfer = (nonce: bigint) =>
  buildTx(K.alice, nonce, 'asset', 'transfer', TransferArgs, {
    asset: 'CNY',
    to: Buffer.from(addrHex(K.bob), 'hex'),
    amount: 1n,
    memo: '',
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children: ChildProcess[] = [];
const homes: { cleanup(): void }[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const h of homes) h.cleanup();
});

/** Every stored block 1..top has a commit that verifies against the validator set and names the block. */
type Bytes = Uint8Array | undefined | null;
async function checkCommits(
  read: { getBlock(h: bigint): Bytes | Promise<Bytes>; getCommit(h: bigint): Bytes | Promise<Bytes> },
  top: bigint,
): Promise<void> {
  for (let h = 1n; h <= top; h++) {
    const blockBytes = await read.getBlock(h);
    const commitBytes = await read.getCommit(h);
    expect(blockBytes, `block ${h}`).toBeTruthy();
    expect(commitBytes, `commit ${h}`).toBeTruthy();
    const block = decodeBlock(blockBytes!);
    const commit = decodeCommit(commitBytes!);
    const v = verifyCommit(block, commit, validators, CHAIN_ID);
    expect(v, `commit of block ${h}`).toMatchObject({ ok: true, power: 1_000_000n, totalPower: 1_000_000n });
    expect(
      commit.signatures.map((s) => equalBytes(s.validator, addressOf(K.validator.publicKey))),
      `signers of ${h}`,
    ).toEqual([true]);
    if (h > 1n) expect(block.lastCommit?.height, `lastCommit of ${h}`).toBe(h - 1n);
  }
}

describe('node on the BFT engine', () => {
  it('commits blocks with real commit certificates, devnet block times, no empty blocks while idle, and a signer record', async () => {
    const h = makeHome({
      consensus: { engine: 'bft' },
      block: { intervalMs: 20, emptyBlockIntervalMs: 0, timeStepMs: DAY_MS },
    });
    homes.push(h);
    const node = new Node(loadNodeOptions(h.home));
    const { rpcUrl: url } = await node.start();
    try {
      await sleep(120);
      expect(node.height(), 'idle, empty blocks off: no block').toBe(0n);
      for (let n = 0n; n < 3n; n++) {
        const r = await call<{ committed: { height: string; receipt: { code: string } } }>(url, 'tx_submit', {
          tx: transfer(n).hex,
          wait: true,
        });
        expect(r.committed.receipt.code).toBe('OK');
      }
      const top = node.height();
      expect(top).toBeGreaterThanOrEqual(2n);
      await checkCommits(node, top);
      for (let x = 1n; x <= top; x++) {
        const b = await call<{ header: { timeMs: string } }>(url, 'chain_getBlock', { height: Number(x) });
        expect(BigInt(b.header.timeMs), `devnet time of ${x}`).toBe(GENESIS_TIME_MS + x * BigInt(DAY_MS));
      }
      const c = await call<{ signatures: unknown[] }>(url, 'chain_getCommit', { height: Number(top) });
      expect(c.signatures.length).toBe(1);
      await sleep(120);
      expect(node.height(), 'idle again: no empty blocks').toBe(top);
      const signer = new FileSignStateStore(join(h.home, 'data', 'signer.json')).load();
      expect(signer?.height, 'the signer record follows the last signed height').toBe(top);
      expect(signer?.step).toBe(3);
    } finally {
      await node.stop();
    }
  }, 20_000);

  it('makes an empty block after emptyBlockIntervalMs', async () => {
    const h = makeHome({ consensus: { engine: 'bft' }, block: { intervalMs: 10, emptyBlockIntervalMs: 30 } });
    homes.push(h);
    const node = new Node(loadNodeOptions(h.home));
    await node.start();
    try {
      for (let i = 0; i < 100 && node.height() < 2n; i++) await sleep(20);
      expect(node.height()).toBeGreaterThanOrEqual(2n);
    } finally {
      await node.stop();
    }
  }, 10_000);

  it("a held height starts when a peer's message for it arrives through the network", async () => {
    // Two validators (ours 3/4 of the power, a quorum alone), an idle mempool, no empty blocks: the node holds height 1
    // until the peer's prevote for it arrives through the injected network, then runs the height.
    const peer = keyPairFromLabel('itest-bft-peer');
    const g = genesisDoc();
    g.members.push({ id: 'peer', name: 'Peer Operator', roles: ['validator'], accounts: [toHex(peer.publicKey)] });
    g.validators = [
      { publicKey: toHex(K.validator.publicKey), stake: '3000000', memberId: 'operator' },
      { publicKey: toHex(peer.publicKey), stake: '1000000', memberId: 'peer' },
    ];
    const h = makeHome({ consensus: { engine: 'bft' }, block: { intervalMs: 10, emptyBlockIntervalMs: 0 } }, g);
    homes.push(h);
    const sent: ConsensusMessage[] = [];
    let receive: ((m: ConsensusMessage) => void) | null = null;
    const network: NodeConsensusNetwork = {
      broadcast: (m) => {
        sent.push(m);
      },
      onMessage: (r) => {
        receive = r;
      },
      close: () => {
        receive = null;
      },
    };
    const opts = loadNodeOptions(h.home);
    const node = new Node(opts, {
      createProducer: (ctx) =>
        new BftProducer(
          { block: opts.config.block, genesis: opts.genesis, signStatePath: join(h.home, 'data', 'signer.json') },
          { ...ctx, key: K.validator, clock: Date.now, network },
        ),
    });
    await node.start();
    try {
      await sleep(100);
      expect(sent, 'held: nothing signed at height 1').toEqual([]);
      const vote = signVote(
        {
          chainId: CHAIN_ID,
          type: VOTE_PREVOTE,
          height: 1n,
          round: 0,
          blockHash: new Uint8Array(0),
          validator: addressOf(peer.publicKey),
        },
        peer,
      );
      receive!({ kind: 'vote', vote });
      for (let i = 0; i < 50 && node.height() < 1n; i++) await sleep(10);
      expect(
        sent.some((m) => m.kind === 'vote' && m.vote.body.height === 1n),
        'our votes for height 1 went out',
      ).toBe(true);
      expect(node.height(), 'our 3/4 of the power commits height 1').toBe(1n);
    } finally {
      await node.stop();
    }
  }, 10_000);

  it('consensus.engine "solo" stays selectable: the single-validator producer commits with its own precommit', async () => {
    const h = makeHome({ consensus: { engine: 'solo' } });
    homes.push(h);
    const node = new Node(loadNodeOptions(h.home));
    const { rpcUrl: url } = await node.start();
    try {
      const r = await call<{ committed: { height: string; receipt: { code: string } } }>(url, 'tx_submit', {
        tx: transfer(0n).hex,
        wait: true,
      });
      expect(r.committed.receipt.code).toBe('OK');
      await checkCommits(node, node.height());
      expect(existsSync(join(h.home, 'data', 'signer.json')), 'solo keeps no signer record').toBe(false);
    } finally {
      await node.stop();
    }
  }, 10_000);

  it('survives kill -9: resumes at its height, keeps committing, no conflicting signature', async () => {
    expect(existsSync(MAIN), `${MAIN} is missing: run "npm run build" (npm test does it)`).toBe(true);
    const h = makeHome({
      consensus: { engine: 'bft' },
      log: { level: 'debug' },
      block: { intervalMs: 15, emptyBlockIntervalMs: 0 },
    });
    homes.push(h);
    const signerPath = join(h.home, 'data', 'signer.json');
    let run = await startChild(h.home);
    let nonce = 0n;
    const acked: { hash: string; height: bigint }[] = [];
    // Txs one after another; kill while the next one is in flight.
    for (; nonce < 6n; nonce++) {
      const t = transfer(nonce);
      const r = await call<{ committed: { height: string } }>(run.url, 'tx_submit', { tx: t.hex, wait: true });
      acked.push({ hash: t.hash, height: BigInt(r.committed.height) });
    }
    void rpc(run.url, 'tx_submit', { tx: transfer(nonce).hex, wait: true }).catch(() => undefined);
    await sleep(5);
    run.child.kill('SIGKILL');
    await exited(run.child);
    expect(existsSync(signerPath), 'signer record on disk').toBe(true);
    const before = new FileSignStateStore(signerPath).load()!;
    expect(before.height).toBeGreaterThanOrEqual(acked[acked.length - 1]!.height);

    run = await startChild(h.home);
    const status = await call<{ height: string }>(run.url, 'chain_status');
    expect(BigInt(status.height)).toBeGreaterThanOrEqual(acked[acked.length - 1]!.height);
    for (const a of acked)
      expect(BigInt((await call<{ height: string }>(run.url, 'tx_get', { hash: a.hash })).height), a.hash).toBe(
        a.height,
      );
    const acct = await call<{ nonce: string }>(run.url, 'account_get', { address: addrHex(K.alice) });
    for (let n = BigInt(acct.nonce), i = 0; i < 3; n++, i++) {
      const r = await call<{ committed: { height: string; receipt: { code: string } } }>(run.url, 'tx_submit', {
        tx: transfer(n).hex,
        wait: true,
      });
      expect(r.committed.receipt.code).toBe('OK');
    }
    const top = BigInt((await call<{ height: string }>(run.url, 'chain_status')).height);
    expect(top).toBeGreaterThan(BigInt(status.height));
    run.child.kill('SIGTERM');
    expect((await exited(run.child)).code).toBe(0);

    const after = new FileSignStateStore(signerPath).load()!;
    expect(after.height, 'the record only moves forward').toBeGreaterThanOrEqual(before.height);
    const logs = [...run.lines, ...run.firstLines].join('\n');
    expect(logs, 'no refused conflicting signature').not.toContain('"code":"CONFLICT"');
    expect(logs).not.toContain('consensus halted');
    expect(logs, 'the BFT engine ran').toContain('BFT consensus starting');
    // The restart restored the engine's chain state from the snapshot written in a block's batch (kill -9 safe).
    const rebuilt = run.lines
      .map((l) => {
        try {
          return JSON.parse(l) as { msg?: string; source?: string; replayedBlocks?: string };
        } catch {
          return {};
        }
      })
      .find((j) => j.msg === 'consensus chain state rebuilt');
    expect(rebuilt?.source, 'restart restored from the chain-state snapshot').toBe('snapshot');
    const store = await ChainStore.open(join(h.home, 'data'));
    try {
      expect(store.height()).toBe(top);
      await checkCommits(store, top);
    } finally {
      await store.close();
    }
  }, 30_000);
});

let firstLinesOfHome: string[] = [];

/** Starts the node process; resolves with its RPC URL from the "node started" log line. */
function startChild(
  home: string,
): Promise<{ child: ChildProcess; url: string; lines: string[]; firstLines: string[] }> {
  const child = spawn(process.execPath, [MAIN, '--home', home], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  const firstLines = firstLinesOfHome;
  firstLinesOfHome = lines;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start in 15 s: ${stderr}`)), 15_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      try {
        const j = JSON.parse(line) as { msg?: string; rpc?: string };
        if (j.msg === 'node started' && j.rpc) {
          clearTimeout(timer);
          resolvePromise({ child, url: j.rpc, lines, firstLines });
        }
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before starting: ${stderr}`));
    });
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}
