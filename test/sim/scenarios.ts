// Simulation scenarios, their default (CI) sizes, the env overrides for soaks, and the replay command on failure.
//
//   SEED=<n>            run only seed n (replay a failure)
//   SIM_SEEDS=<n>       seeds 1..n per scenario (default: each scenario's CI count)
//   SIM_HEIGHTS=<n>     target height per run (default: each scenario's CI height)
//   SIM_SCENARIO=<s>    only scenarios whose name contains s
import { toHex } from '../../src/core/bytes.js';
import { addressOf } from '../../src/core/keys.js';
import { Cluster, type ClusterOptions, type ClusterReport, type ValidatorSpec } from './cluster.js';

export interface Scenario {
  name: string;
  ciSeeds: number;
  ciHeights: number;
  make(seed: number): ClusterOptions;
}

const CHAOS_FAULTS = { delayMinMs: 5, delayMaxMs: 60, lossPerMillion: 20_000, duplicatePerMillion: 10_000 };
const CALM_FAULTS = { delayMinMs: 5, delayMaxMs: 60, lossPerMillion: 0, duplicatePerMillion: 0 };

export const STAKES: Record<number, bigint[]> = {
  4: [10n, 20n, 30n, 40n],
  7: [5n, 10n, 15n, 20n, 25n, 30n, 35n],
  10: [7n, 14n, 21n, 28n, 35n, 42n, 49n, 56n, 63n, 70n],
};

function specs(n: number): ValidatorSpec[] {
  return STAKES[n]!.map((power) => ({ power }));
}

function chaos(n: number, ciSeeds: number, ciHeights: number): Scenario {
  return {
    name: `chaos-${n}`,
    ciSeeds,
    ciHeights,
    make: (seed) => ({
      seed,
      validators: specs(n),
      faults: CHAOS_FAULTS,
      chaos: { partitions: true, crashes: true, untilPercent: 70 },
      bondPerMillion: 20_000,
      byzantineFromHeight: 1n << 62n,
    }),
  };
}

export const SCENARIOS: Record<string, Scenario> = {
  'chaos-4': chaos(4, 8, 250),
  'chaos-7': chaos(7, 5, 200),
  'chaos-10': chaos(10, 4, 150),
  // 7 validators; the double-signer holds 12 of 147 (8%) and misbehaves from height 5 until it is jailed, under
  // partitions and crashes.
  'byzantine-7': {
    name: 'byzantine-7',
    ciSeeds: 2,
    ciHeights: 120,
    make: (seed) => ({
      seed,
      validators: [...specs(7).slice(0, 6), { power: 12n, behaviour: 'doubleSign' as const }],
      faults: { ...CHAOS_FAULTS, lossPerMillion: 10_000 },
      chaos: { partitions: true, crashes: true, untilPercent: 50 },
      bondPerMillion: 0,
      byzantineFromHeight: 5n,
    }),
  },
  // A two-faced validator under 1/3 (20 of 155): two full nodes with one key, each honest on its own, so they
  // equivocate whenever both are heard; random partitions and crashes. Safety and liveness must hold.
  'twofaced-7': {
    name: 'twofaced-7',
    ciSeeds: 2,
    ciHeights: 120,
    make: (seed) => ({
      seed,
      validators: [...specs(7).slice(0, 6), { power: 20n, behaviour: 'twoFaced' as const }],
      faults: CHAOS_FAULTS,
      chaos: { partitions: true, crashes: true, untilPercent: 60 },
      bondPerMillion: 0,
      byzantineFromHeight: 1n,
    }),
  },
  // Control: a two-faced validator with 40% of the stake, one face on each side of a permanent partition; each side
  // (face + honest validators) holds 70% > 2/3, so both sides commit and the checker MUST see the fork.
  'control-fork': {
    name: 'control-fork',
    ciSeeds: 2,
    ciHeights: 20,
    make: (seed) => ({
      seed,
      validators: [{ power: 40n, behaviour: 'twoFaced' as const }, { power: 30n }, { power: 15n }, { power: 15n }],
      faults: CALM_FAULTS,
      chaos: { partitions: false, crashes: false, untilPercent: 0 },
      bondPerMillion: 0,
      byzantineFromHeight: 1n,
      fixedPartition: [
        [0, 1],
        [0, 2, 3],
      ],
    }),
  },
  'fair-4': fair(4, 600),
  'fair-7': fair(7, 350),
  'fair-10': fair(10, 300),
};

function fair(n: number, ciHeights: number): Scenario {
  return {
    name: `fair-${n}`,
    ciSeeds: 1,
    ciHeights,
    make: (seed) => ({
      seed,
      validators: specs(n),
      faults: CALM_FAULTS,
      chaos: { partitions: false, crashes: false, untilPercent: 0 },
      bondPerMillion: 0,
      byzantineFromHeight: 1n << 62n,
    }),
  };
}

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
  return n;
}

export function selected(s: Scenario): boolean {
  const f = process.env['SIM_SCENARIO'];
  return f === undefined || f === '' || s.name.includes(f);
}

export function seedsOf(s: Scenario): number[] {
  const one = envInt('SEED');
  if (one !== undefined) return [one];
  const n = envInt('SIM_SEEDS') ?? s.ciSeeds;
  return Array.from({ length: n }, (_, i) => i + 1);
}

export function heightsOf(s: Scenario): number {
  return envInt('SIM_HEIGHTS') ?? s.ciHeights;
}

export function replayCommand(s: Scenario, seed: number, heights: number): string {
  return `SEED=${seed} SIM_SCENARIO=${s.name} SIM_HEIGHTS=${heights} npm run sim`;
}

export interface Run {
  cluster: Cluster;
  report: ClusterReport;
  replay: string;
}

export function runScenario(s: Scenario, seed: number): Run {
  const heights = heightsOf(s);
  const cluster = new Cluster(s.make(seed));
  const report = cluster.run(BigInt(heights));
  return { cluster, report, replay: replayCommand(s, seed, heights) };
}

/** A message that names the seed and how to replay it; used as the assertion message of every check. */
export function failureText(run: Run, what: string): string {
  const v = run.report.violations.map((x) => `${x.code}: ${x.message}`).join('; ');
  return `${what} (seed ${run.report.seed}${v ? `; violations: ${v}` : ''}). Replay: ${run.replay}`;
}

export function addressHexOf(publicKey: Uint8Array): string {
  return toHex(addressOf(publicKey));
}
