// Crash safety of the real node process: kill -9 it while txs flow, restart it from the same home folder, and every
// tx acknowledged as committed is still there (same height and receipt); a SIGTERM then stops it gracefully.
// Runs the built node (dist/src/node/main.js): `npm test` builds dist/ before vitest runs.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { TransferArgs } from '../../src/vm/modules/asset.js';
import { keyPairFromLabel } from '../../src/core/keys.js';
import { makeHome, rpc, call, buildTx, addrHex, K } from './node-helpers.js';

const MAIN = resolve('dist/src/node/main.js');
const home = makeHome({ log: { level: 'info' }, block: { intervalMs: 20, emptyBlockIntervalMs: 0 } });
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  home.cleanup();
});

/** Starts the node process; resolves with its RPC URL from the "node started" log line. */
function startNode(): Promise<{ child: ChildProcess; url: string; lines: string[]; v8Flags: string[] | undefined }> {
  const child = spawn(process.execPath, [MAIN, '--home', home.home], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start in 15 s: ${stderr}`)), 15_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      try {
        const j = JSON.parse(line) as { msg?: string; rpc?: string; v8Flags?: string[] };
        if (j.msg === 'node started' && j.rpc) {
          clearTimeout(timer);
          resolvePromise({ child, url: j.rpc, lines, v8Flags: j.v8Flags });
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

interface Acked {
  hash: string;
  height: string;
  index: number;
  code: string;
}

describe('kill -9 and restart', () => {
  it('keeps every tx acknowledged as committed', async () => {
    expect(existsSync(MAIN), `${MAIN} is missing: run "npm run build" (npm test does it)`).toBe(true);
    const first = await startNode();
    // The node process applies its V8 settings (config key v8; by default allocation-site pretenuring off) and logs them.
    expect(first.v8Flags).toEqual(['--no-allocation-site-pretenuring']);
    let { child, url } = first;

    // Four senders, each submitting its next tx as soon as the previous one is acknowledged as committed.
    const senders = [0, 1, 2, 3].map((i) => keyPairFromLabel(`itest-restart-${i}`));
    const acked: Acked[] = [];
    let killed = false;
    const funder = await Promise.all(
      senders.map((s, i) =>
        call<{ committed: { receipt: { code: string } } }>(url, 'tx_submit', {
          tx: buildTx(K.alice, BigInt(i), 'asset', 'transfer', TransferArgs, {
            asset: 'CNY',
            to: Buffer.from(addrHex(s), 'hex'),
            amount: 1000n,
            memo: '',
          }).hex,
          wait: true,
        }),
      ),
    );
    expect(funder.every((f) => f.committed.receipt.code === 'OK')).toBe(true);

    const flows = senders.map(async (kp) => {
      for (let nonce = 0n; !killed; nonce++) {
        const t = buildTx(kp, nonce, 'asset', 'transfer', TransferArgs, {
          asset: 'CNY',
          to: Buffer.from(addrHex(K.bob), 'hex'),
          amount: 1n,
          memo: '',
        });
        let r: Awaited<ReturnType<typeof rpc>>;
        try {
          r = await rpc(url, 'tx_submit', { tx: t.hex, wait: true, timeoutMs: 5000 });
        } catch {
          return; // the connection died with the process
        }
        const c = (r.result as { committed?: { height: string; index: number; receipt: { code: string } } } | undefined)
          ?.committed;
        if (!c) return;
        acked.push({ hash: t.hash, height: c.height, index: c.index, code: c.receipt.code });
      }
    });
    // Kill while txs are in flight, once a good number have been acknowledged.
    while (acked.length < 40) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    killed = true;
    expect((await exited(child)).signal).toBe('SIGKILL');
    await Promise.all(flows);
    const ackedAtKill = [...acked];
    expect(ackedAtKill.length).toBeGreaterThanOrEqual(40);

    const second = await startNode();
    ({ child, url } = second);
    const status = await call<{ height: string }>(url, 'chain_status');
    const maxAcked = ackedAtKill.reduce((m, a) => (BigInt(a.height) > m ? BigInt(a.height) : m), 0n);
    expect(BigInt(status.height)).toBeGreaterThanOrEqual(maxAcked);
    for (const a of ackedAtKill) {
      const got = await call<{ height: string; index: number; receipt: { code: string } }>(url, 'tx_get', {
        hash: a.hash,
      });
      expect({ height: got.height, index: got.index, code: got.receipt.code }, a.hash).toEqual({
        height: a.height,
        index: a.index,
        code: a.code,
      });
    }
    // The restarted node keeps committing from where it was: the next nonce of sender 0 follows its committed txs.
    const acct = await call<{ nonce: string }>(url, 'account_get', { address: addrHex(senders[0]!) });
    const next = buildTx(senders[0]!, BigInt(acct.nonce), 'asset', 'transfer', TransferArgs, {
      asset: 'CNY',
      to: Buffer.from(addrHex(K.bob), 'hex'),
      amount: 1n,
      memo: '',
    });
    const after = await call<{ committed: { height: string; receipt: { code: string } } }>(url, 'tx_submit', {
      tx: next.hex,
      wait: true,
    });
    expect(after.committed.receipt.code).toBe('OK');
    expect(BigInt(after.committed.height)).toBeGreaterThan(BigInt(status.height));

    // SIGTERM: a graceful stop with exit code 0, and the log says so.
    child.kill('SIGTERM');
    const end = await exited(child);
    expect(end.code).toBe(0);
    const msgs = second.lines.map((l) => {
      try {
        return (JSON.parse(l) as { msg?: string }).msg;
      } catch {
        return undefined;
      }
    });
    expect(msgs).toContain('signal received: stopping gracefully');
    expect(msgs).toContain('stopped');
  }, 60_000);

  it('refuses to start on a database made from another genesis', async () => {
    const other = makeHome({ log: { level: 'silent' } });
    try {
      const { cpSync, rmSync } = await import('node:fs');
      rmSync(join(other.home, 'data'), { recursive: true, force: true });
      cpSync(join(home.home, 'data'), join(other.home, 'data'), { recursive: true });
      const { saveGenesisFile } = await import('../../src/node/genesis.js');
      const { genesisDoc } = await import('./node-helpers.js');
      saveGenesisFile(join(other.home, 'genesis.json'), { ...genesisDoc(), chainId: 'another-chain' });
      const child = spawn(process.execPath, [MAIN, '--home', other.home], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const end = await exited(child);
      expect(end.code).toBe(1);
      expect(stderr).toContain('another genesis');
    } finally {
      other.cleanup();
    }
  }, 30_000);
});
