// A CLI test harness: a private build of the `autochain` binary, a devnet child process, and CLI runs against it.
//
// The binary is built into node_modules/.cache per test process, as a new user's `npm run build` would, so a
// concurrent rebuild of dist/ by another test cannot change the files under a running test; the launcher is copied
// next to its dist/ so it resolves ../dist/bin/cli.js there, and node_modules resolve by walking up to the project's.
import { expect } from 'vitest';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export class CliHarness {
  readonly build: string;
  readonly bin: string;
  /** The devnet's home folder (a fresh temp folder). */
  readonly home: string;
  /** The running devnet's RPC address. */
  rpc = '';
  /** Everything the devnet printed since it was last started. */
  devnetOut = '';
  private devnet: ChildProcess | null = null;

  constructor(readonly tag: string) {
    this.build = join(ROOT, 'node_modules', '.cache', `autochain-${tag}-${process.pid}`);
    this.bin = join(this.build, 'bin', 'autochain.js');
    this.home = mkdtempSync(join(tmpdir(), `autochain-${tag}-`));
  }

  buildBinary(): void {
    mkdirSync(join(this.build, 'bin'), { recursive: true });
    copyFileSync(join(ROOT, 'bin', 'autochain.js'), this.bin);
    try {
      execFileSync(
        process.execPath,
        [
          join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
          '-p',
          'tsconfig.json',
          '--outDir',
          join(this.build, 'dist'),
        ],
        { cwd: ROOT, stdio: 'ignore' },
      );
    } catch {
      // tsc still emits when some other file has a type error; a missing CLI is reported just below.
    }
    expect(existsSync(join(this.build, 'dist', 'bin', 'cli.js')), 'the build produced no dist/bin/cli.js').toBe(true);
  }

  key(name: string): string {
    return join(this.home, 'keys', `${name}.json`);
  }

  /** Starts `autochain devnet` on the home and resolves with the RPC address once it says it is running. */
  startDevnet(): Promise<string> {
    this.devnetOut = '';
    const p = spawn(process.execPath, [this.bin, 'devnet', '--home', this.home, '--port', '0'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.devnet = p;
    p.stderr.on('data', (d: Buffer) => {
      this.devnetOut += d.toString();
    });
    return new Promise<string>((done, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`devnet printed no RPC address in 30 s:\n${this.devnetOut}`)),
        30_000,
      );
      p.stdout.on('data', (d: Buffer) => {
        this.devnetOut += d.toString();
        const m = /^\s+rpc\s+(http:\/\/127\.0\.0\.1:\d+)$/m.exec(this.devnetOut);
        if (m?.[1] && /devnet is running/.test(this.devnetOut) && /borrower\s+\S+borrower\.json/.test(this.devnetOut)) {
          clearTimeout(timer);
          this.rpc = m[1];
          done(m[1]);
        }
      });
      p.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`devnet exited with ${code}:\n${this.devnetOut}`));
      });
    });
  }

  /** SIGINT (a graceful stop), SIGKILL after 10 s. */
  stopDevnet(): Promise<void> {
    const p = this.devnet;
    this.devnet = null;
    if (p === null || p.exitCode !== null) return Promise.resolve();
    return new Promise((done) => {
      const kill = setTimeout(() => p.kill('SIGKILL'), 10_000);
      p.once('exit', () => {
        clearTimeout(kill);
        done();
      });
      p.kill('SIGINT');
    });
  }

  /** Stops the devnet and removes the home and the private build. */
  async cleanup(): Promise<void> {
    await this.stopDevnet();
    rmSync(this.home, { recursive: true, force: true });
    rmSync(this.build, { recursive: true, force: true });
  }

  cli(...args: string[]): Promise<Run> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [this.bin, ...args, '--rpc', this.rpc],
        { cwd: ROOT, timeout: 60_000 },
        (err, stdout, stderr) => {
          done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
        },
      );
    });
  }

  /** A command that must succeed: on failure the assertion shows what it printed. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.cli(...args);
    expect(r.code, `autochain ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
    return r.stdout;
  }

  /** A command that must fail with exit code `code` and exactly one line on stderr matching `reason`; returns stdout. */
  async fails(code: number, reason: RegExp, ...args: string[]): Promise<string> {
    const r = await this.cli(...args);
    expect(r.code, `autochain ${args.join(' ')}: ${r.stdout} ${r.stderr}`).toBe(code);
    const lines = r.stderr.trim().split('\n');
    expect(lines, `one line for: autochain ${args.join(' ')}`).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[0]).toMatch(reason);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    return r.stdout;
  }
}
