// The node's V8 settings (src/node/v8-tuning.ts): the flags each setting gives, and that applying them at run time
// really changes what V8 does. A child process (the pinned Node, the built module: `npm test` builds dist/ first)
// runs a workload whose objects are all alive at young collections, with V8's pretenuring trace on: by default V8
// weighs its allocation sites for pretenuring (a trace line per site and decision; whether it then tenures them
// depends on timing, so the test counts the weighing), and after applyV8Tuning with the node's defaults it never does.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { applyV8Tuning, DEFAULT_V8_TUNING, v8FlagsOf } from '../../src/node/v8-tuning.js';
import { DEFAULT_CONFIG } from '../../src/node/config.js';

const MOD = resolve('dist/src/node/v8-tuning.js');

/**
 * Trace lines of allocation sites weighed for pretenuring, in a child running the workload with `mode`: 'v8' (V8's
 * own defaults), 'node' (the node's tuning), 'on' (the node's tuning, then config true).
 */
function sitesWeighed(mode: 'v8' | 'node' | 'on'): number {
  const code = `
    const m = await import(${JSON.stringify(pathToFileURL(MOD).href)});
    const mode = process.argv[1];
    if (mode === 'node') m.applyV8Tuning(m.DEFAULT_V8_TUNING);
    if (mode === 'on') { m.applyV8Tuning(m.DEFAULT_V8_TUNING); m.applyV8Tuning({ allocationSitePretenuring: true }); }
    function make(i) { return { a: i, b: i + 1, c: [i] }; }
    let keep = [];
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 200000; i++) keep.push(make(i));
      keep = [];
    }
    console.log('workload done');
  `;
  const r = spawnSync(
    process.execPath,
    ['--trace-pretenuring', '--trace-pretenuring-statistics', '--input-type=module', '-e', code, mode],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toContain('workload done');
  return r.stdout.split('\n').filter((l) => l.includes('pretenuring: AllocationSite')).length;
}

describe('V8 tuning', () => {
  it('maps each setting to its flag; the node and its config default to pretenuring off', () => {
    expect(v8FlagsOf({ allocationSitePretenuring: false })).toEqual(['--no-allocation-site-pretenuring']);
    expect(v8FlagsOf({ allocationSitePretenuring: true })).toEqual(['--allocation-site-pretenuring']);
    expect(DEFAULT_V8_TUNING.allocationSitePretenuring).toBe(false);
    expect(DEFAULT_CONFIG.v8).toEqual(DEFAULT_V8_TUNING);
    // Applying in this process returns what it set (the test worker's GC is unaffected in what it asserts).
    expect(applyV8Tuning({ allocationSitePretenuring: true })).toEqual(['--allocation-site-pretenuring']);
  });

  it('takes effect when applied at run time: no allocation site is weighed for pretenuring after it; config true restores it', () => {
    expect(existsSync(MOD), `${MOD} is missing: run "npm run build" (npm test does it)`).toBe(true);
    // The control proves the workload makes V8 weigh its sites, so the zero below is the setting's doing.
    expect(sitesWeighed('v8')).toBeGreaterThan(0);
    expect(sitesWeighed('node')).toBe(0);
    expect(sitesWeighed('on')).toBeGreaterThan(0);
  });
});
