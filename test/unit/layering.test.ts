// Dependencies point one way, and consensus and the VM stay deterministic and free of I/O (STYLE.md, "Shape").
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

function importsOf(src: string): string[] {
  return [...src.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map(
    (m) => (m[1] ?? m[2])!,
  );
}

// Which top-level src folders each layer may import (core <- state <- vm <- mempool/consensus <- p2p/rpc <- node).
const ALLOWED: Record<string, string[]> = {
  core: ['core', 'types'],
  state: ['core', 'state', 'types'],
  vm: ['core', 'state', 'vm', 'types'],
  consensus: ['core', 'state', 'consensus', 'types'],
  mempool: ['core', 'state', 'vm', 'mempool', 'types'],
};

const PURE = ['vm', 'consensus'];
const FORBIDDEN_PURE = [
  /^node:(fs|net|http|https|child_process|dgram|os|worker_threads|timers)/,
  /^libp2p|^@libp2p|^@chainsafe/,
  /^level$|^classic-level$/,
];

describe('layering', () => {
  for (const [layer, allowed] of Object.entries(ALLOWED)) {
    it(`src/${layer} imports only ${allowed.join(', ')}`, () => {
      let dirExists = true;
      try {
        statSync(join(root, 'src', layer));
      } catch {
        dirExists = false;
      }
      if (!dirExists) return;
      for (const file of tsFiles(join(root, 'src', layer))) {
        for (const spec of importsOf(readFileSync(file, 'utf8'))) {
          if (!spec.startsWith('.')) continue;
          const target = relative(join(root, 'src'), join(file, '..', spec)).split('/')[0]!;
          expect(allowed, `${relative(root, file)} imports ${spec}`).toContain(target);
        }
      }
    });
  }

  for (const layer of PURE) {
    it(`src/${layer} does no I/O and reads no clock or randomness`, () => {
      for (const file of tsFiles(join(root, 'src', layer))) {
        const src = readFileSync(file, 'utf8');
        for (const spec of importsOf(src)) {
          for (const re of FORBIDDEN_PURE) expect(re.test(spec), `${relative(root, file)} imports ${spec}`).toBe(false);
        }
        expect(
          /Date\.now\(|new Date\(|Math\.random\(|performance\.now\(/.test(src),
          `${relative(root, file)} reads the clock or randomness`,
        ).toBe(false);
        expect(
          /\bparseFloat\(|\bMath\.(pow|sqrt|round|floor|ceil)\(/.test(src),
          `${relative(root, file)} uses floating point`,
        ).toBe(false);
      }
    });
  }
});
