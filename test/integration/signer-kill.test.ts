// kill -9 while signing: a signature printed by the child (it has left the node) is always covered by the durable
// record, and no restart ever signs a second, different vote for a (height, round, step) already signed.
import { describe, test, expect, beforeAll } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileSignStateStore } from '../../src/node/signer-store.js';
import { GuardedSigner } from '../../src/consensus/signer-guard.js';
import { keyPairFromLabel, addressOf } from '../../src/core/keys.js';
import { VOTE_PREVOTE } from '../../src/core/types.js';
import { ConsensusError } from '../../src/consensus/errors.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const child = join(root, 'test', 'integration', 'signer-child.mjs');
const built = [
  join(root, 'dist', 'src', 'node', 'signer-store.js'),
  join(root, 'dist', 'src', 'consensus', 'signer-guard.js'),
];
const sources = [join(root, 'src', 'node', 'signer-store.ts'), join(root, 'src', 'consensus', 'signer-guard.ts')];

interface Line {
  h?: string;
  r?: number;
  t?: number;
  hash?: string;
  refused?: string;
  ready?: boolean;
}

/** Runs the child until it has printed at least `minLines` signatures after a random delay, then SIGKILLs it. */
function runAndKill(path: string, variant: string, killAfterLines: number): Promise<Line[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, path, variant], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let err = '';
    const lines: Line[] = [];
    let killed = false;
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buf.slice(0, i)) as Line);
        buf = buf.slice(i + 1);
      }
      if (!killed && lines.length >= killAfterLines) {
        killed = true;
        p.kill('SIGKILL');
      }
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited without being killed: ${err}`));
      else resolve(lines); // a partial last line (no newline) never left: it stays in buf and is ignored
    });
  });
}

const hrs = (l: Line) => `${l.h}/${l.r}/${l.t}`;
const order = (h: bigint, r: number, step: number) => h * 1_000_000n + BigInt(r) * 10n + BigInt(step);

describe('signer guard across kill -9', () => {
  beforeAll(() => {
    const stale = built.some((b, i) => !existsSync(b) || statSync(b).mtimeMs < statSync(sources[i]!).mtimeMs);
    if (stale) {
      try {
        execFileSync(
          process.execPath,
          [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')],
          { cwd: root, stdio: 'ignore' },
        );
      } catch {
        // Other parts of the tree may not typecheck; tsc still emits. Checked below.
      }
    }
    for (const b of built) expect(existsSync(b), `${b} must be built (npm run build)`).toBe(true);
  }, 120_000);

  test('8 kill/restart cycles: every emitted signature is covered, no (height, round, step) is signed twice differently', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signer-kill-'));
    const path = join(dir, 'sign_state.bin');
    const signedBy = new Map<string, string>();
    let refusedAmnesia = 0;
    try {
      for (let cycle = 0; cycle < 8; cycle++) {
        const lines = await runAndKill(path, `v${cycle}`, 20 + ((cycle * 37) % 200));
        let last: Line | undefined;
        for (const l of lines) {
          if (l.refused !== undefined) {
            refusedAmnesia++;
            continue;
          }
          if (l.hash === undefined) continue;
          const prior = signedBy.get(hrs(l));
          expect(prior === undefined || prior === l.hash, `cycle ${cycle}: ${hrs(l)} signed for two blocks`).toBe(true);
          signedBy.set(hrs(l), l.hash);
          last = l;
        }
        const state = new FileSignStateStore(path).load();
        expect(state, `cycle ${cycle}: no durable record`).not.toBeNull();
        if (last !== undefined) {
          const persisted = order(state!.height, state!.round, state!.step);
          expect(
            persisted >= order(BigInt(last.h!), last.r!, last.t! + 1),
            `cycle ${cycle}: emitted ${hrs(last)} beyond the record`,
          ).toBe(true);
        }
        // The parent, as a restarted node, is refused a conflicting vote at the recorded step and anything earlier.
        const signer = new GuardedSigner(
          { keyPair: keyPairFromLabel('signer-kill-test') },
          { store: new FileSignStateStore(path) },
        );
        const validator = addressOf(keyPairFromLabel('signer-kill-test').publicKey);
        const type = state!.step === 2 ? VOTE_PREVOTE : 2;
        const conflicting = {
          chainId: 'kill-chain',
          type,
          height: state!.height,
          round: state!.round,
          blockHash: new Uint8Array(32).fill(cycle + 1),
          validator,
        };
        expect(() => signer.signVote(conflicting)).toThrow(ConsensusError);
        expect(() => signer.signVote({ ...conflicting, height: state!.height - 1n })).toThrow(ConsensusError);
      }
      expect(refusedAmnesia, 'every restart tried an amnesiac conflicting vote and was refused').toBe(7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
