// src/consensus stays a pure core: no node:* I/O, no clock or randomness, no network or database libraries.
import { describe, test, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeConsensusMessage, decodeConsensusMessage, messageHeight } from '../../src/consensus/messages.js';
import { encode } from '../../src/core/codec.js';
import { CodecError } from '../../src/core/errors.js';
import { VOTE_PREVOTE } from '../../src/core/types.js';
import { EngineFixture } from './consensus-fixture.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'consensus');

describe('purity of src/consensus', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  test.each(files)('%s imports no I/O and reads no clock or randomness', (f) => {
    const src = readFileSync(join(dir, f), 'utf8');
    const imports = [...src.matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]!);
    for (const i of imports) {
      expect(i.startsWith('node:'), `${f} imports ${i}`).toBe(false);
      expect(/libp2p|level|ws|pino/.test(i), `${f} imports ${i}`).toBe(false);
      expect(i.startsWith('.') || i.startsWith('..'), `${f} imports package ${i}`).toBe(true);
    }
    expect(src.includes('Date.now'), `${f} reads the clock`).toBe(false);
    expect(src.includes('Math.random'), `${f} uses Math.random`).toBe(false);
    expect(/\bsetTimeout\b|\bsetInterval\b/.test(src), `${f} schedules timers itself`).toBe(false);
  });
});

describe('consensus messages on the wire', () => {
  test('round-trip proposal, vote and evidence; refuse a message whose fields do not match its kind', () => {
    const f = new EngineFixture();
    const b = f.block();
    const p = f.proposal(0, b);
    const v = f.vote(1, VOTE_PREVOTE, 0, b);
    const v2 = f.vote(1, VOTE_PREVOTE, 0, null);
    for (const m of [
      { kind: 'proposal' as const, proposal: p, block: b },
      { kind: 'vote' as const, vote: v },
      { kind: 'evidence' as const, evidence: { voteA: v2, voteB: v } },
    ]) {
      const back = decodeConsensusMessage(encodeConsensusMessage(m));
      expect(back).toEqual(m);
      expect(messageHeight(back)).toBe(1n);
    }
    const bytes = encodeConsensusMessage({ kind: 'vote', vote: v });
    const mixed = bytes.slice();
    mixed[1] = 1; // kind 2 -> 1: a "proposal" without a proposal
    expect(() => decodeConsensusMessage(mixed)).toThrow(CodecError);
    expect(() => decodeConsensusMessage(Uint8Array.of(0x95, 9, 0xc0, 0xc0, 0xc0, 0xc0))).toThrow(CodecError);
    expect(() =>
      decodeConsensusMessage(encode({ name: 'x', toWire: () => [1, 2], fromWire: () => null }, null)),
    ).toThrow(CodecError);
  });
});
