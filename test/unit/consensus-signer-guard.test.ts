// The signer guard refuses every conflicting or regressing signature, persists before it signs, and survives restarts.
import { describe, test, expect } from 'vitest';
import { mkdtempSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyPairFromLabel, addressOf } from '../../src/core/keys.js';
import { sha256 } from '../../src/core/hash.js';
import { utf8 } from '../../src/core/bytes.js';
import { verifyVoteSignature, VOTE_PREVOTE, VOTE_PRECOMMIT, type VoteBody } from '../../src/core/types.js';
import {
  authorizeSign,
  voteSignRequest,
  proposalSignRequest,
  GuardedSigner,
  MemorySignStateStore,
  encodeSignState,
  decodeSignState,
  type SignState,
  type SignStateStore,
} from '../../src/consensus/signer-guard.js';
import { ConsensusError } from '../../src/consensus/errors.js';
import { FileSignStateStore } from '../../src/node/signer-store.js';

const kp = keyPairFromLabel('guard');
const me = addressOf(kp.publicKey);
const H1 = sha256(utf8('block-1'));
const H2 = sha256(utf8('block-2'));

function body(height: bigint, round: number, type: number, hash: Uint8Array = H1): VoteBody {
  return { chainId: 'guard-chain', type, height, round, blockHash: hash, validator: me };
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ConsensusError && e.code === 'SIGN_REFUSED') return String(e.details['reason']);
    throw e;
  }
  return 'signed';
}

describe('authorizeSign', () => {
  const last = (authorizeSign(null, voteSignRequest(body(5n, 2, VOTE_PREVOTE))) as { state: SignState }).state;

  test('allows any later height, round or step', () => {
    for (const b of [body(6n, 0, VOTE_PREVOTE), body(5n, 3, VOTE_PREVOTE), body(5n, 2, VOTE_PRECOMMIT)]) {
      expect(authorizeSign(last, voteSignRequest(b)).ok, `${b.height}/${b.round}/${b.type}`).toBe(true);
    }
  });

  test('refuses earlier height, round or step as REGRESSION', () => {
    for (const b of [body(4n, 9, VOTE_PRECOMMIT), body(5n, 1, VOTE_PRECOMMIT)]) {
      expect(authorizeSign(last, voteSignRequest(b)), `${b.height}/${b.round}`).toMatchObject({
        ok: false,
        code: 'REGRESSION',
      });
    }
    const proposal = proposalSignRequest({
      chainId: 'guard-chain',
      height: 5n,
      round: 2,
      polRound: null,
      blockHash: H1,
      proposer: me,
    });
    expect(authorizeSign(last, proposal)).toMatchObject({ ok: false, code: 'REGRESSION' }); // proposal step precedes prevote
  });

  test('refuses a different block (or nil) at the same height, round and step as CONFLICT', () => {
    expect(authorizeSign(last, voteSignRequest(body(5n, 2, VOTE_PREVOTE, H2)))).toMatchObject({
      ok: false,
      code: 'CONFLICT',
    });
    expect(authorizeSign(last, voteSignRequest(body(5n, 2, VOTE_PREVOTE, new Uint8Array(0))))).toMatchObject({
      ok: false,
      code: 'CONFLICT',
    });
  });

  test('allows exactly the same bytes again (re-sign), without a new record', () => {
    expect(authorizeSign(last, voteSignRequest(body(5n, 2, VOTE_PREVOTE)))).toMatchObject({ ok: true, resign: true });
  });

  test('keeps the lock and own votes within a height, drops them at the next height', () => {
    const locked: SignState = { ...last, lockedRound: 2, lockedBlockHash: H1 };
    const same = authorizeSign(locked, voteSignRequest(body(5n, 2, VOTE_PRECOMMIT)));
    expect(same.ok && same.state.lockedRound).toBe(2);
    expect(same.ok && same.state.prevoteRound).toBe(2);
    expect(same.ok && same.state.precommitRound).toBe(2);
    const next = authorizeSign(locked, voteSignRequest(body(6n, 0, VOTE_PREVOTE)));
    expect(next.ok && next.state.lockedRound).toBe(null);
    expect(next.ok && next.state.precommitRound).toBe(null);
  });
});

describe('GuardedSigner', () => {
  test('persists before returning a signature; a new signer on the same store refuses what the old one would', () => {
    const store = new MemorySignStateStore();
    const a = new GuardedSigner({ keyPair: kp }, { store });
    const v = a.signVote(body(1n, 0, VOTE_PREVOTE));
    expect(verifyVoteSignature(v, kp.publicKey)).toBe(true);
    expect(store.load()?.height).toBe(1n);
    a.signVote(body(1n, 0, VOTE_PRECOMMIT));
    const restarted = new GuardedSigner({ keyPair: kp }, { store });
    expect(refusal(() => restarted.signVote(body(1n, 0, VOTE_PRECOMMIT, H2)))).toBe('CONFLICT');
    expect(refusal(() => restarted.signVote(body(1n, 0, VOTE_PREVOTE)))).toBe('REGRESSION');
    expect(refusal(() => restarted.signVote(body(1n, 0, VOTE_PRECOMMIT)))).toBe('signed'); // identical re-sign
    expect(store.saves).toBe(2); // refusals and the re-sign wrote nothing
  });

  test('when the store cannot persist, no signature is returned and nothing advances', () => {
    const failing: SignStateStore = {
      load: () => null,
      save: () => {
        throw new Error('disk full');
      },
    };
    const s = new GuardedSigner({ keyPair: kp }, { store: failing });
    expect(() => s.signVote(body(1n, 0, VOTE_PREVOTE))).toThrow('disk full');
    expect(s.lastSigned()).toBeNull();
  });

  test('unknown vote types are refused before anything is signed', () => {
    const store = new MemorySignStateStore();
    const s = new GuardedSigner({ keyPair: kp }, { store });
    expect(() => s.signVote(body(1n, 0, 3))).toThrow(ConsensusError);
    expect(store.saves).toBe(0);
  });
});

describe('FileSignStateStore', () => {
  test('round-trips, returns null when absent, ignores a stale temp file, refuses a corrupt record', () => {
    const dir = mkdtempSync(join(tmpdir(), 'signer-store-'));
    try {
      const path = join(dir, 'priv_validator_state.bin');
      const store = new FileSignStateStore(path);
      expect(store.load()).toBeNull();
      const s = new GuardedSigner({ keyPair: kp }, { store });
      s.signVote(body(7n, 1, VOTE_PRECOMMIT));
      writeFileSync(`${path}.tmp`, 'half-written garbage');
      const loaded = new FileSignStateStore(path).load();
      expect(loaded).toEqual(decodeSignState(encodeSignState(s.lastSigned()!)));
      expect(existsSync(`${path}.tmp`)).toBe(true);
      writeFileSync(path, Uint8Array.of(1, 2, 3));
      expect(() => new FileSignStateStore(path).load()).toThrow(/refusing to sign/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
