// Consensus benchmark: committed heights per second of wall time in the deterministic simulator, 4/7/10 validators,
// next to the signature-verification limit measured in the same run (every node checks every vote once).
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keyPairFromLabel, sign, verify } from '../src/core/keys.js';
import { Cluster } from '../test/sim/cluster.js';
import { STAKES } from '../test/sim/scenarios.js';
import { applyV8Tuning, DEFAULT_V8_TUNING } from '../src/node/v8-tuning.js';

// The node's V8 settings (Node.start applies the same), so the engine runs as in the node.
const V8_FLAGS = applyV8Tuning(DEFAULT_V8_TUNING);

interface Row {
  validators: number;
  network: string;
  heights: number;
  wallMs: number;
  heightsPerSec: number;
  messagesPerHeight: number;
  roundsAboveZero: number;
  /** Unique signatures per height (1 proposal + n prevotes + n precommits) over verify/s: the crypto-only ceiling. */
  verifyBoundHeightsPerSec: number;
}

function verifyRate(): number {
  const kp = keyPairFromLabel('bench');
  const msg = new Uint8Array(120).fill(7);
  const sig = sign(msg, kp);
  const n = 5000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) verify(msg, sig, kp.publicKey);
  return n / ((performance.now() - t0) / 1000);
}

function run(n: number, lossy: boolean, heights: number, perVerify: number): Row {
  const cluster = new Cluster({
    seed: 42,
    validators: STAKES[n]!.map((power) => ({ power })),
    faults: {
      delayMinMs: 5,
      delayMaxMs: 60,
      lossPerMillion: lossy ? 20_000 : 0,
      duplicatePerMillion: lossy ? 10_000 : 0,
    },
    chaos: { partitions: false, crashes: false, untilPercent: 0 },
    bondPerMillion: 0,
    byzantineFromHeight: 1n << 62n,
  });
  const t0 = performance.now();
  const report = cluster.run(BigInt(heights));
  const wallMs = performance.now() - t0;
  if (report.violations.length > 0) throw new Error(`violations: ${JSON.stringify(report.violations)}`);
  return {
    validators: n,
    network: lossy ? '2% loss, 1% dup, 5-60 ms' : '5-60 ms',
    heights,
    wallMs: Math.round(wallMs),
    heightsPerSec: Math.round((heights / wallMs) * 1000 * 10) / 10,
    messagesPerHeight: Math.round(report.messages / heights),
    roundsAboveZero: report.roundsAboveZero,
    verifyBoundHeightsPerSec: Math.round(perVerify / (1 + 2 * n)),
  };
}

const heights = Number(process.env['BENCH_HEIGHTS'] ?? 300);
const perVerify = verifyRate();
const rows: Row[] = [];
for (const n of [4, 7, 10]) for (const lossy of [false, true]) rows.push(run(n, lossy, heights, perVerify));

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', 'benchmarks', 'results', 'consensus.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      verifyPerSec: Math.round(perVerify),
      v8Flags: V8_FLAGS,
      note: 'whole network simulated in one process: all n nodes share one core; each unique signature is verified once (a cache shared by the simulated nodes)',
      rows,
    },
    null,
    2,
  ) + '\n',
);
process.stdout.write(`ed25519 verify: ${Math.round(perVerify)}/s\n`);
process.stdout.write(
  'validators | network                    | heights | wall ms | heights/s | msgs/height | rounds>0 | verify-bound heights/s\n',
);
for (const r of rows) {
  process.stdout.write(
    `${String(r.validators).padStart(10)} | ${r.network.padEnd(26)} | ${String(r.heights).padStart(7)} | ${String(r.wallMs).padStart(7)} | ${String(r.heightsPerSec).padStart(9)} | ${String(r.messagesPerHeight).padStart(11)} | ${String(r.roundsAboveZero).padStart(8)} | ${r.verifyBoundHeightsPerSec}\n`,
  );
}
