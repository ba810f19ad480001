// docs/vm.md and docs/vm-loan.md stay true: every op's documented gas base and every error code match the code.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { memberModule, MEMBER_CODES } from '../../src/vm/modules/member.js';
import { assetModule, ASSET_CODES } from '../../src/vm/modules/asset.js';
import { vehicleModule, VEHICLE_CODES } from '../../src/vm/modules/vehicle.js';
import { creditModule, CREDIT_CODES } from '../../src/vm/modules/credit.js';
import { stakingModule, STAKING_CODES } from '../../src/vm/modules/staking.js';
import { productModule, PRODUCT_CODES } from '../../src/vm/modules/product.js';
import { loanModule, LOAN_CODES, REJECTION_REASONS } from '../../src/vm/modules/loan.js';
import { GAS } from '../../src/vm/gas.js';
import type { Module } from '../../src/vm/types.js';

const doc = readFileSync(new URL('../../docs/vm.md', import.meta.url), 'utf8');
const loanDoc = readFileSync(new URL('../../docs/vm-loan.md', import.meta.url), 'utf8');

/** The body of a "## name" section of `text`. */
function section(text: string, name: string): string {
  const start = text.indexOf(`\n## ${name}\n`);
  expect(start, `section ${name}`).toBeGreaterThan(0);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** Where each module is documented. */
const MODULES: [Module, Record<string, string>, string, string][] = [
  [memberModule, MEMBER_CODES, doc, 'docs/vm.md'],
  [assetModule, ASSET_CODES, doc, 'docs/vm.md'],
  [vehicleModule, VEHICLE_CODES, doc, 'docs/vm.md'],
  [creditModule, CREDIT_CODES, doc, 'docs/vm.md'],
  [stakingModule, STAKING_CODES, doc, 'docs/vm.md'],
  [productModule, PRODUCT_CODES, loanDoc, 'docs/vm-loan.md'],
  [loanModule, LOAN_CODES, loanDoc, 'docs/vm-loan.md'],
];

describe('docs/vm.md and docs/vm-loan.md', () => {
  for (const [mod, codes, text, file] of MODULES) {
    it(`${file} documents every ${mod.name} op with its gas base, and exactly its error codes`, () => {
      const body = section(text, mod.name);
      for (const [op, def] of Object.entries(mod.ops)) {
        const row = new RegExp(`^\\| \`${op}\` \\|.*\\| ([0-9,]+) \\|$`, 'm').exec(body);
        expect(row, `${mod.name}.${op} row`).not.toBeNull();
        expect(BigInt(row![1]!.replaceAll(',', '')), `${mod.name}.${op} gas`).toBe(def.gasBase);
      }
      const documented = [...body.matchAll(new RegExp(`^\\| \`(${mod.name}\\.[A-Z_]+)\` \\|`, 'gm'))].map((m) => m[1]);
      expect(documented.sort()).toEqual(Object.values(codes).sort());
    });
  }

  it('docs/vm-loan.md documents every rejection reason', () => {
    for (const r of REJECTION_REASONS) expect(loanDoc, r).toContain(`| \`${r}\` |`);
  });

  it('documents the gas table of src/vm/gas.ts', () => {
    const fmt = (n: bigint): string => n.toLocaleString('en-US');
    expect(doc).toContain(`| tx base (decoding, signature, nonce) | ${fmt(GAS.txBase)} |`);
    expect(doc).toContain(`| per byte of the encoded tx | ${fmt(GAS.txByte)} |`);
    expect(doc).toContain(`| per state read | ${fmt(GAS.read)} + ${fmt(GAS.readByte)} per byte read |`);
    expect(doc).toContain(
      `| per state write or delete | ${fmt(GAS.write)} + ${fmt(GAS.writeByte)} per byte of key and value |`,
    );
    expect(doc).toContain(`| per emitted event | ${fmt(GAS.event)} |`);
  });
});
