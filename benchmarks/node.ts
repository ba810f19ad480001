// Node benchmark: txs/s end to end (JSON-RPC tx_submit -> mempool -> block -> LevelDB commit) on one node running
// as its own process, with the single-core signature-verify ceiling measured in the same run, and the latency of
// tx_submit with wait. Run: npm run build && node dist/benchmarks/node.js
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { encode } from '../src/core/codec.js';
import { toHex } from '../src/core/bytes.js';
import { keyPairFromLabel, addressOf, saveKeyFile, type KeyPair } from '../src/core/keys.js';
import { decodeTx, encodeTx, signTx, txHash, verifyTxSignature } from '../src/core/types.js';
import { saveConfigFile } from '../src/node/config.js';
import { saveGenesisFile } from '../src/node/genesis.js';
import { TransferArgs } from '../src/vm/modules/asset.js';
import { opsPerSecond, printTable, saveResults } from './report.js';

const SENDERS = Number(process.env.SENDERS ?? 100);
const TXS_PER_SENDER = Number(process.env.TXS_PER_SENDER ?? 200);
const BATCH = Number(process.env.BATCH ?? 50);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const LATENCY_SAMPLES = 100;
const CHAIN = 'autochain-bench';
const MAIN = fileURLToPath(new URL('../src/node/main.js', import.meta.url));

const validator = keyPairFromLabel('bench-validator');
const senders = Array.from({ length: SENDERS }, (_, i) => keyPairFromLabel(`bench-sender-${i}`));
const sink = addressOf(keyPairFromLabel('bench-sink').publicKey);

function makeHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'autochain-bench-'));
  saveConfigFile(join(home, 'config.json'), {
    rpc: { port: 0, maxBatch: BATCH, maxConnections: 64 },
    mempool: {
      maxTxs: SENDERS * TXS_PER_SENDER + 1000,
      maxBytes: 256 * 1024 * 1024,
      maxTxsPerSender: 1000,
      nonceWindow: 1000,
    },
    block: { intervalMs: 100, emptyBlockIntervalMs: 0, maxTxs: 5000 },
    log: { level: 'info' },
  });
  saveGenesisFile(join(home, 'genesis.json'), {
    chainId: CHAIN,
    genesisTime: '2026-11-29T00:00:00Z',
    members: [{ id: 'operator', name: 'Operator', roles: ['validator'], accounts: [toHex(validator.publicKey)] }],
    validators: [{ publicKey: toHex(validator.publicKey), stake: '1000000', memberId: 'operator' }],
    assets: [{ code: 'CNY', decimals: 2 }],
    balances: senders.map((s) => ({ asset: 'CNY', address: toHex(addressOf(s.publicKey)), amount: '1000000000' })),
    staking: { bondAsset: 'CNY' },
  });
  saveKeyFile(join(home, 'validator_key.json'), validator);
  return home;
}

function startNode(home: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [...(process.env.NODE_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.NODE_PROF] : []), MAIN, '--home', home],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const j = JSON.parse(line) as { msg?: string; rpc?: string };
        if (j.msg === 'node started' && j.rpc) resolve({ child, url: j.rpc });
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`node exited with ${code}`)));
  });
}

function signTransfer(kp: KeyPair, nonce: bigint): Uint8Array {
  return encodeTx(
    signTx(
      {
        chainId: CHAIN,
        sender: kp.publicKey,
        nonce,
        gasLimit: 100_000n,
        module: 'asset',
        op: 'transfer',
        args: encode(TransferArgs, { asset: 'CNY', to: sink, amount: 1n, memo: '' }),
      },
      kp,
    ),
  );
}

/** CPU seconds (user + system) the process has used so far, from /proc (Linux); null elsewhere. */
function cpuSecondsOf(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
  } catch {
    return null;
  }
}

async function post(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return res.json();
}

/** One WebSocket with batches matched to answers in order (the server answers each message once, in order per batch id). */
async function openWs(url: string): Promise<{ ask(reqs: unknown[]): Promise<unknown>; close(): void }> {
  const sock = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  await new Promise((resolve, reject) => {
    sock.addEventListener('open', resolve, { once: true });
    sock.addEventListener('error', reject, { once: true });
  });
  let seq = 0;
  const waiting = new Map<number, (v: unknown) => void>();
  sock.addEventListener('message', (ev) => {
    const answers = JSON.parse(String(ev.data)) as { id: number }[];
    const key = Math.floor((answers[0]?.id ?? 0) / 1_000_000);
    waiting.get(key)?.(answers);
    waiting.delete(key);
  });
  return {
    ask(reqs) {
      const key = ++seq;
      const tagged = (reqs as { id: number }[]).map((r) => ({ ...r, id: key * 1_000_000 + r.id }));
      return new Promise((resolve) => {
        waiting.set(key, resolve);
        sock.send(JSON.stringify(tagged));
      });
    },
    close() {
      sock.close();
    },
  };
}

async function height(url: string): Promise<bigint> {
  const r = (await post(url, { jsonrpc: '2.0', id: 1, method: 'chain_status' })) as { result: { height: string } };
  return BigInt(r.result.height);
}

type Transport = 'http' | 'ws';

interface RunResult {
  transport: Transport;
  refused: number;
  blocks: number;
  submitTps: number;
  e2eTps: number;
  nodeCpuUsPerTx: number;
  load: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

/** One fresh node; all txs submitted over `transport`; then the wait latency of single txs. */
async function runOnce(transport: Transport, txs: Uint8Array[][]): Promise<RunResult> {
  const flat = txs.flat();
  const total = flat.length;
  const home = makeHome();
  const { child, url } = await startNode(home);
  try {
    const h0 = await height(url);
    // Batches in nonce order (every sender's nonce n before nonce n+1), CONCURRENCY batches in flight.
    const batches: Uint8Array[][] = [];
    for (let i = 0; i < flat.length; i += BATCH) batches.push(flat.slice(i, i + BATCH));
    let next = 0;
    let refused = 0;
    const ws = transport === 'ws' ? await openWs(url) : null;
    const load = loadavg()[0]!;
    const cpu0 = cpuSecondsOf(child.pid);
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < batches.length) {
          const b = batches[next++]!;
          const reqs = b.map((tx, i) => ({ jsonrpc: '2.0', id: i, method: 'tx_submit', params: { tx: toHex(tx) } }));
          const answers = (ws ? await ws.ask(reqs) : await post(url, reqs)) as { error?: unknown }[];
          refused += answers.filter((a) => a.error !== undefined).length;
        }
      }),
    );
    const tSubmitted = performance.now();
    ws?.close();
    // Committed when the last nonce of every sender is in the tx index.
    const lastHashes = txs[TXS_PER_SENDER - 1]!.map((b) => toHex(txHash(b)));
    for (;;) {
      const answers: { error?: unknown }[] = [];
      for (let i = 0; i < lastHashes.length; i += BATCH) {
        answers.push(
          ...((await post(
            url,
            lastHashes
              .slice(i, i + BATCH)
              .map((hash, j) => ({ jsonrpc: '2.0', id: j, method: 'tx_get', params: { hash } })),
          )) as { error?: unknown }[]),
        );
      }
      if (answers.every((a) => a.error === undefined)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const tCommitted = performance.now();
    const cpu1 = cpuSecondsOf(child.pid);
    const h1 = await height(url);

    // Latency: one tx at a time, tx_submit with wait (the block interval, 100 ms, bounds it from below).
    const lat: number[] = [];
    const extra = senders[0]!;
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const tx = signTransfer(extra, BigInt(TXS_PER_SENDER + i));
      const s = performance.now();
      const r = (await post(url, {
        jsonrpc: '2.0',
        id: 1,
        method: 'tx_submit',
        params: { tx: toHex(tx), wait: true },
      })) as { error?: unknown };
      if (r.error) throw new Error(`latency tx refused: ${JSON.stringify(r.error)}`);
      lat.push(performance.now() - s);
    }
    lat.sort((a, b) => a - b);
    const pct = (p: number): number => Math.round(lat[Math.min(lat.length - 1, Math.floor(lat.length * p))]!);
    return {
      transport,
      refused,
      blocks: Number(h1 - h0),
      submitTps: Math.round(total / ((tSubmitted - t0) / 1000)),
      e2eTps: Math.round(total / ((tCommitted - t0) / 1000)),
      nodeCpuUsPerTx: cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) * 1e6) / total) : -1,
      load: Number(load.toFixed(2)),
      latencyP50Ms: pct(0.5),
      latencyP99Ms: pct(0.99),
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(home, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  // Sign everything up front: signing is the client's cost, not the node's.
  const txs: Uint8Array[][] = []; // txs[nonce][sender]
  for (let n = 0; n < TXS_PER_SENDER; n++) txs.push(senders.map((s) => signTransfer(s, BigInt(n))));
  const total = SENDERS * TXS_PER_SENDER;

  // The ceiling: strict ed25519 verification of these same txs on one core (decoding excluded), in this run.
  const decoded = txs
    .flat()
    .slice(0, 2000)
    .map((b) => decodeTx(b));
  let vi = 0;
  const verifyPerSec = opsPerSecond(() => {
    verifyTxSignature(decoded[vi++ % decoded.length]!);
  }, 1500);

  const runs: RunResult[] = [];
  for (const t of ['http', 'ws'] as const) runs.push(await runOnce(t, txs));

  const rows = runs.map((r) => ({
    transport: r.transport === 'ws' ? 'WebSocket' : 'HTTP',
    txs: total,
    refused: r.refused,
    blocks: r.blocks,
    'submit txs/s': r.submitTps,
    'submit→commit txs/s': r.e2eTps,
    'verify ceiling /s': verifyPerSec,
    'ratio to ceiling': Number((r.e2eTps / verifyPerSec).toFixed(3)),
    'node CPU µs/tx': r.nodeCpuUsPerTx,
    'node CPU-bound txs/s': r.nodeCpuUsPerTx > 0 ? Math.round(1e6 / r.nodeCpuUsPerTx) : -1,
    'wait p50 ms': r.latencyP50Ms,
    'wait p99 ms': r.latencyP99Ms,
    'load avg': r.load,
  }));
  printTable('node: asset.transfer txs through JSON-RPC (batches of 50, 4 in flight) to commit, one node', rows);
  const path = saveResults('node', {
    config: {
      senders: SENDERS,
      txsPerSender: TXS_PER_SENDER,
      batch: BATCH,
      concurrency: CONCURRENCY,
      blockIntervalMs: 100,
      blockMaxTxs: 5000,
      syncWrites: true,
      latencySamples: LATENCY_SAMPLES,
    },
    verifyCeilingPerSec: verifyPerSec,
    rows,
    notes: [
      "The node runs in its own process (dist/src/node/main.js), the client in this one; both share the same 2-core machine, so the client's JSON, hex and HTTP work competes with the node for CPU, and other jobs on the machine (see load avg) too.",
      'verify ceiling: verifyTxSignature (body encoding + native strict ed25519) on one core in this run; every tx is verified exactly once (mempool admission).',
      "node CPU µs/tx: user+system CPU of the node process (from /proc) over the submit-to-commit phase, divided by the txs: RPC decoding, admission (incl. the signature), execution, state root, fsync'd LevelDB batch.",
      'wait latency: tx_submit with wait: true, one tx at a time; blocks are made every 100 ms while txs wait, so ~100 ms is the floor.',
    ],
  });
  console.log(`saved ${path}`);
}

await main();
