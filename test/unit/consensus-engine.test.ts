// The Tendermint rules, one at a time, on the pure engine: prevote, locking, unlocking, valid value, nil votes,
// f+1 round skip, timeouts, the > 2/3 commit rule, block-time and message checks.
import { describe, test, expect } from 'vitest';
import { VOTE_PREVOTE, VOTE_PRECOMMIT, blockHash } from '../../src/core/types.js';
import { toHex } from '../../src/core/bytes.js';
import { timeoutMs } from '../../src/consensus/params.js';
import { verifyCommit } from '../../src/consensus/verify-commit.js';
import { decodeSignState, encodeSignState } from '../../src/consensus/signer-guard.js';
import { EngineFixture, ownVotes, isNil, votedFor } from './consensus-fixture.js';

function started(): EngineFixture {
  const f = new EngineFixture();
  for (let r = 0; r < 3; r++) expect(f.proposerOf(r), 'fixture: node 0 must not propose rounds 0-2').not.toBe(0);
  f.start();
  return f;
}

describe('prevote on a proposal (line 22)', () => {
  test('a valid, timely proposal gets a prevote for its block, persisted before it is broadcast', () => {
    const f = started();
    const b = f.block();
    const out = f.propose(0, b);
    const votes = ownVotes(out);
    expect(votes).toHaveLength(1);
    expect(votes[0]!.body.type).toBe(VOTE_PREVOTE);
    expect(votedFor(votes[0]!, b)).toBe(true);
    const persistAt = out.findIndex((e) => e.type === 'persistSignState');
    const sendAt = out.findIndex((e) => e.type === 'broadcastVote');
    expect(persistAt).toBeGreaterThanOrEqual(0);
    expect(persistAt).toBeLessThan(sendAt);
    expect(f.engine.snapshot().step).toBe('prevote');
  });

  test('an invalid block (application says no) gets a nil prevote', () => {
    const f = started();
    const votes = ownVotes(f.propose(0, f.block(), { valid: false }));
    expect(votes).toHaveLength(1);
    expect(isNil(votes[0]!)).toBe(true);
  });

  test('a block with a wrong consensus field is refused without asking the application, then nil', () => {
    const f = started();
    const b = f.block();
    const bad = { ...b, header: { ...b.header, prevHash: new Uint8Array(32).fill(7) } };
    const out = f.step({ type: 'proposal', proposal: f.proposal(0, bad), block: bad });
    expect(out.some((e) => e.type === 'validateBlock')).toBe(false);
    expect(out.some((e) => e.type === 'rejected' && e.code === 'INVALID_BLOCK')).toBe(true);
    expect(isNil(ownVotes(out)[0]!)).toBe(true);
  });

  test('a block whose time is outside [now - delay - precision, now + precision] gets a nil prevote', () => {
    for (const timeMs of [T((f0) => f0.now + 101n), T((f0) => f0.now - 601n)]) {
      const f = started();
      const votes = ownVotes(f.propose(0, f.block({ timeMs: timeMs(f) })));
      expect(isNil(votes[0]!), `time ${timeMs(f) - f.now} ms from now`).toBe(true);
    }
    for (const timeMs of [T((f0) => f0.now + 100n), T((f0) => f0.now - 600n)]) {
      const f = started();
      const votes = ownVotes(f.propose(0, f.block({ timeMs: timeMs(f) })));
      expect(isNil(votes[0]!), `time ${timeMs(f) - f.now} ms from now`).toBe(false);
    }
  });

  test('a block not after the previous block time is invalid (strictly increasing time)', () => {
    const f = started();
    const b = f.block({ timeMs: f.chain.lastBlockTimeMs });
    expect(f.engine.checkBlock(b)).toMatch(/not after/);
  });
});

function T(fn: (f: EngineFixture) => bigint): (f: EngineFixture) => bigint {
  return fn;
}

describe('messages that are refused change nothing', () => {
  test('proposal from the wrong proposer, bad proposal signature, vote from a non-validator, bad vote signature', () => {
    const f = started();
    const before = f.engine.snapshot();
    const b = f.block();
    const wrong = (f.proposerOf(0) + 1) % 4;
    const out1 = f.step({ type: 'proposal', proposal: f.proposal(0, b, null, wrong), block: b });
    expect(out1.map((e) => e.type === 'rejected' && e.code)).toContain('WRONG_PROPOSER');
    const p = f.proposal(0, b);
    const forged = { ...p, signature: new Uint8Array(64).fill(1) };
    expect(
      f.step({ type: 'proposal', proposal: forged, block: b }).map((e) => e.type === 'rejected' && e.code),
    ).toContain('BAD_SIGNATURE');
    const outsider = new EngineFixture({ powers: [1n, 1n, 1n, 1n, 1n] });
    const v = outsider.vote(4, VOTE_PREVOTE, 0, b);
    expect(
      f
        .step({ type: 'vote', vote: { ...v, body: { ...v.body, chainId: f.chain.chainId } } })
        .map((e) => e.type === 'rejected' && e.code),
    ).toContain('NOT_A_VALIDATOR');
    const good = f.vote(1, VOTE_PREVOTE, 0, b);
    expect(
      f
        .step({ type: 'vote', vote: { ...good, signature: new Uint8Array(64) } })
        .map((e) => e.type === 'rejected' && e.code),
    ).toContain('BAD_SIGNATURE');
    expect(f.engine.snapshot()).toEqual(before);
  });
});

describe('proposal checks', () => {
  test('a second, different proposal from the proposer is refused; a polRound not below the round is refused', () => {
    const f = started();
    const b1 = f.block({ tag: 1 });
    const b2 = f.block({ tag: 2 });
    f.propose(0, b1);
    const out = f.step({ type: 'proposal', proposal: f.proposal(0, b2), block: b2 });
    expect(out.find((e) => e.type === 'rejected')).toMatchObject({ code: 'CONFLICTING_PROPOSAL' });
    expect(f.step({ type: 'proposal', proposal: f.proposal(0, b1), block: b1 })).toEqual([]); // duplicate: silent
    const g = started();
    const bad = g.step({ type: 'proposal', proposal: g.proposal(0, b1, 0), block: b1 });
    expect(bad.find((e) => e.type === 'rejected')).toMatchObject({ code: 'BAD_POL_ROUND' });
    const mismatch = g.step({ type: 'proposal', proposal: g.proposal(0, b1), block: b2 });
    expect(mismatch.find((e) => e.type === 'rejected')).toMatchObject({ code: 'BLOCK_MISMATCH' });
    const other = g.block({ proposer: (g.proposerOf(0) + 1) % 4 });
    const framed = g.step({ type: 'proposal', proposal: g.proposal(0, other), block: other });
    expect(framed.find((e) => e.type === 'rejected')).toMatchObject({ code: 'PROPOSER_MISMATCH' });
  });
});

describe('locking (line 36)', () => {
  test('> 2/3 prevotes for the proposal: lock, precommit the block, record it as valid; the lock is persisted with its block and POL', () => {
    const f = started();
    const b = f.block();
    f.propose(0, b);
    const out = f.votes(VOTE_PREVOTE, 0, b, [1, 2]);
    const pc = ownVotes(out).find((v) => v.body.type === VOTE_PRECOMMIT)!;
    expect(votedFor(pc, b)).toBe(true);
    const s = f.engine.snapshot();
    expect(s.lockedRound).toBe(0);
    expect(s.lockedBlockHash).toBe(toHex(blockHash(b.header)));
    expect(s.validRound).toBe(0);
    const persisted = out.filter((e) => e.type === 'persistSignState').pop();
    expect(persisted?.type).toBe('persistSignState');
    if (persisted?.type !== 'persistSignState') return;
    const state = decodeSignState(encodeSignState(persisted.state));
    expect(state.lockedRound).toBe(0);
    expect(state.lockedBlock.length).toBeGreaterThan(0);
    expect(state.lockedPol).toHaveLength(3);
  });

  test('exactly the quorum boundary: 20 of 31 prevotes is not a polka, 21 is', () => {
    const f = started();
    const b = f.block();
    f.step({ type: 'proposal', proposal: f.proposal(0, b), block: b }); // not validated yet: no own prevote
    f.votes(VOTE_PREVOTE, 0, b, [1, 2]);
    expect(f.engine.snapshot().lockedRound).toBe(-1);
  });

  test('a locked validator prevotes nil for a different new value in a later round', () => {
    const f = started();
    const b1 = f.block({ tag: 1 });
    f.propose(0, b1);
    f.votes(VOTE_PREVOTE, 0, b1, [1, 2]);
    f.step({ type: 'timeout', height: 1n, round: 0, step: 'precommit' });
    expect(f.engine.snapshot().round).toBe(1);
    const b2 = f.block({ tag: 2, proposer: f.proposerOf(1) });
    const votes = ownVotes(f.propose(1, b2));
    expect(votes).toHaveLength(1);
    expect(isNil(votes[0]!)).toBe(true);
    expect(f.engine.snapshot().lockedRound).toBe(0);
  });

  test('a locked validator prevotes its locked value when it is proposed again', () => {
    const f = started();
    const b1 = f.block({ tag: 1 });
    f.propose(0, b1);
    f.votes(VOTE_PREVOTE, 0, b1, [1, 2]);
    f.step({ type: 'timeout', height: 1n, round: 0, step: 'precommit' });
    const votes = ownVotes(f.step({ type: 'proposal', proposal: f.proposal(1, b1, 0), block: b1 }));
    expect(votedFor(votes[0]!, b1)).toBe(true);
  });
});

describe('unlocking on a later polka (line 28)', () => {
  test('locked in round 0, a re-proposal with a POL from round 1 gets our prevote', () => {
    const f = started();
    const b1 = f.block({ tag: 1 });
    f.propose(0, b1);
    f.votes(VOTE_PREVOTE, 0, b1, [1, 2]);
    f.step({ type: 'timeout', height: 1n, round: 0, step: 'precommit' });
    const b2 = f.block({ tag: 2, proposer: f.proposerOf(1) });
    f.propose(1, b2); // nil from us: locked on b1
    f.votes(VOTE_PREVOTE, 1, b2, [1, 2, 3]); // a polka for b2 in round 1 (30 of 31)
    f.step({ type: 'timeout', height: 1n, round: 1, step: 'precommit' });
    expect(f.engine.snapshot().round).toBe(2);
    const votes = ownVotes(f.step({ type: 'proposal', proposal: f.proposal(2, b2, 1), block: b2 }));
    expect(votedFor(votes[0]!, b2)).toBe(true);
  });

  test('a POL older than our lock does not unlock: nil', () => {
    const f = started();
    const b1 = f.block({ tag: 1, proposer: f.proposerOf(1) });
    const b2 = f.block({ tag: 2, proposer: f.proposerOf(0) });
    // Round 0: a polka for b2 we were too late for; round 1: we lock b1.
    f.propose(0, b2, { valid: true });
    f.step({ type: 'timeout', height: 1n, round: 0, step: 'precommit' });
    f.step({ type: 'proposal', proposal: f.proposal(1, b1), block: b1 });
    f.step({ type: 'blockValidated', height: 1n, blockHash: blockHash(b1.header), valid: true });
    f.votes(VOTE_PREVOTE, 1, b1, [1, 2]);
    expect(f.engine.snapshot().lockedRound).toBe(1);
    f.votes(VOTE_PREVOTE, 0, b2, [1, 2, 3]);
    f.step({ type: 'timeout', height: 1n, round: 1, step: 'precommit' });
    const votes = ownVotes(f.step({ type: 'proposal', proposal: f.proposal(2, b2, 0), block: b2 }));
    expect(isNil(votes[0]!)).toBe(true);
  });

  test('a re-proposal without its POL prevotes waits (no vote) until they arrive', () => {
    const f = started();
    const b = f.block();
    f.step({ type: 'timeout', height: 1n, round: 0, step: 'precommit' });
    const out = f.step({ type: 'proposal', proposal: f.proposal(1, b, 0), block: b });
    f.step({ type: 'blockValidated', height: 1n, blockHash: blockHash(b.header), valid: true });
    expect(ownVotes(out)).toHaveLength(0);
    const after = f.votes(VOTE_PREVOTE, 0, b, [1, 2, 3]);
    expect(votedFor(ownVotes(after)[0]!, b)).toBe(true);
  });
});

describe('valid value', () => {
  test('a polka seen after precommitting nil records the valid value; our next proposal re-proposes it with polRound', () => {
    const f = started();
    const b = f.block();
    f.step({ type: 'proposal', proposal: f.proposal(0, b), block: b });
    f.step({ type: 'timeout', height: 1n, round: 0, step: 'propose' }); // prevote nil (validation still pending)
    f.step({ type: 'timeout', height: 1n, round: 0, step: 'prevote' }); // precommit nil
    expect(f.engine.snapshot().step).toBe('precommit');
    f.step({ type: 'blockValidated', height: 1n, blockHash: blockHash(b.header), valid: true });
    f.votes(VOTE_PREVOTE, 0, b, [1, 2, 3]);
    const s = f.engine.snapshot();
    expect(s.validRound).toBe(0);
    expect(s.lockedRound).toBe(-1);
    let mine = 1;
    while (f.proposerOf(mine) !== 0) mine++;
    // Jump to our round by f + 1 votes there.
    const out = f.votes(VOTE_PREVOTE, mine, null, [1, 2]);
    const prop = out.find((e) => e.type === 'broadcastProposal');
    expect(prop?.type).toBe('broadcastProposal');
    if (prop?.type !== 'broadcastProposal') return;
    expect(prop.proposal.body.round).toBe(mine);
    expect(prop.proposal.body.polRound).toBe(0);
    expect(toHex(prop.proposal.body.blockHash)).toBe(toHex(blockHash(b.header)));
    expect(out.some((e) => e.type === 'buildBlock')).toBe(false);
  });

  test('as proposer without a valid value, the engine asks the application to build a block', () => {
    const f = started();
    let mine = 1;
    while (f.proposerOf(mine) !== 0) mine++;
    const out = f.votes(VOTE_PREVOTE, mine, null, [1, 2]);
    const req = out.find((e) => e.type === 'buildBlock');
    expect(req?.type).toBe('buildBlock');
    if (req?.type !== 'buildBlock') return;
    expect(req.request.round).toBe(mine);
    expect(req.request.timeMs > f.chain.lastBlockTimeMs).toBe(true);
  });
});

describe('nil votes and timeouts', () => {
  test('propose timeout: prevote nil; prevote timeout: precommit nil; precommit timeout: next round', () => {
    const f = started();
    expect(isNil(ownVotes(f.step({ type: 'timeout', height: 1n, round: 0, step: 'propose' }))[0]!)).toBe(true);
    const pc = ownVotes(f.step({ type: 'timeout', height: 1n, round: 0, step: 'prevote' }))[0]!;
    expect(pc.body.type).toBe(VOTE_PRECOMMIT);
    expect(isNil(pc)).toBe(true);
    f.step({ type: 'timeout', height: 1n, round: 0, step: 'precommit' });
    expect(f.engine.snapshot()).toMatchObject({ round: 1, step: 'propose' });
  });

  test('stale timeouts (other round or height) are ignored', () => {
    const f = started();
    const before = f.engine.snapshot();
    expect(f.step({ type: 'timeout', height: 1n, round: 3, step: 'propose' })).toEqual([]);
    expect(f.step({ type: 'timeout', height: 2n, round: 0, step: 'propose' })).toEqual([]);
    expect(f.engine.snapshot()).toEqual(before);
  });

  test('> 2/3 nil prevotes: precommit nil at once (line 44)', () => {
    const f = started();
    f.step({ type: 'timeout', height: 1n, round: 0, step: 'propose' });
    const out = f.votes(VOTE_PREVOTE, 0, null, [1, 2]);
    const pc = ownVotes(out).find((v) => v.body.type === VOTE_PRECOMMIT)!;
    expect(isNil(pc)).toBe(true);
  });

  test('> 2/3 of any prevotes start the prevote timeout; > 2/3 of any precommits the precommit timeout', () => {
    const f = started();
    const b = f.block();
    f.propose(0, b);
    const out = [
      ...f.votes(VOTE_PREVOTE, 0, null, [1]),
      ...f.step({ type: 'vote', vote: f.vote(2, VOTE_PREVOTE, 0, b) }),
    ];
    expect(out.filter((e) => e.type === 'scheduleTimeout' && e.step === 'prevote')).toHaveLength(1);
    const out2 = [...f.votes(VOTE_PRECOMMIT, 0, null, [1, 2])];
    expect(out2.filter((e) => e.type === 'scheduleTimeout' && e.step === 'precommit')).toHaveLength(0); // 20 of 31
    const out3 = f.votes(VOTE_PRECOMMIT, 0, null, [3]);
    expect(out3.filter((e) => e.type === 'scheduleTimeout' && e.step === 'precommit')).toHaveLength(1);
  });

  test('timeouts grow linearly with the round: base + delta * round', () => {
    const f = started();
    const t = f.params.timeouts;
    expect([0, 1, 5].map((r) => timeoutMs(t, 'propose', r))).toEqual([1000, 1200, 2000]);
    expect([0, 1, 5].map((r) => timeoutMs(t, 'prevote', r))).toEqual([500, 600, 1000]);
    expect([0, 1, 5].map((r) => timeoutMs(t, 'precommit', r))).toEqual([500, 600, 1000]);
    const out = f.step({ type: 'timeout', height: 1n, round: 0, step: 'precommit' });
    const sched = out.find((e) => e.type === 'scheduleTimeout');
    expect(sched).toMatchObject({ step: 'propose', round: 1, durationMs: 1200 });
  });
});

describe('round skip on f + 1 (line 55)', () => {
  test('votes from 10 of 31 in round 5 do not move us; 20 of 31 do', () => {
    const f = started();
    f.votes(VOTE_PREVOTE, 5, null, [1]);
    expect(f.engine.snapshot().round).toBe(0);
    const out = f.votes(VOTE_PRECOMMIT, 5, null, [2]);
    expect(f.engine.snapshot()).toMatchObject({ round: 5, step: 'propose' });
    expect(out.find((e) => e.type === 'scheduleTimeout')).toMatchObject({
      step: 'propose',
      round: 5,
      durationMs: 2000,
    });
  });
});

describe('commit (line 49)', () => {
  test('> 2/3 precommits for a known valid block decide it with a verifiable commit; 20 of 31 do not', () => {
    const f = new EngineFixture({ me: 1 });
    f.start();
    const b = f.block();
    f.propose(0, b);
    // Our own precommit requires a polka; give precommits directly from others.
    f.votes(VOTE_PRECOMMIT, 0, b, [0, 2]);
    expect(f.engine.snapshot().decided).toBe(false); // 1 + 10 = 11 of 31
    const out = f.votes(VOTE_PRECOMMIT, 0, b, [3]);
    const d = out.find((e) => e.type === 'decide');
    expect(d?.type).toBe('decide');
    if (d?.type !== 'decide') return;
    expect(verifyCommit(d.block, d.commit, f.chain.validators, f.chain.chainId).ok).toBe(true);
    const after = f.step({ type: 'finalized', height: 1n, validatorUpdates: [] });
    expect(f.engine.height).toBe(2n);
    expect(after.find((e) => e.type === 'scheduleTimeout')).toMatchObject({ step: 'commit', height: 2n });
  });

  test('precommits without the block do not decide until the block arrives', () => {
    const f = started();
    const b = f.block();
    f.votes(VOTE_PRECOMMIT, 0, b, [1, 2, 3]);
    expect(f.engine.snapshot().decided).toBe(false);
    const out = f.propose(0, b);
    expect(out.some((e) => e.type === 'decide')).toBe(true);
  });

  test('conflicting votes from one validator produce gossiped evidence; the second vote is not counted', () => {
    const f = started();
    const b = f.block();
    f.votes(VOTE_PREVOTE, 0, b, [1]);
    const out = f.votes(VOTE_PREVOTE, 0, null, [1]);
    expect(out.some((e) => e.type === 'broadcastEvidence')).toBe(true);
    expect(f.engine.pool.size).toBe(1);
  });
});

describe('restart', () => {
  test('a restarted engine keeps its lock, its locked block as valid value, and re-sends its last votes', () => {
    const f = started();
    const b = f.block();
    f.propose(0, b);
    const out = f.votes(VOTE_PREVOTE, 0, b, [1, 2]);
    const state = out.filter((e) => e.type === 'persistSignState').pop();
    if (state?.type !== 'persistSignState') throw new Error('no persisted state');
    const g = new EngineFixture({ signState: state.state });
    const re = g.start();
    expect(g.engine.snapshot()).toMatchObject({ lockedRound: 0, validRound: 0, step: 'precommit', round: 0 });
    const resent = ownVotes(re);
    expect(resent.map((v) => v.body.type).sort()).toEqual([VOTE_PREVOTE, VOTE_PRECOMMIT]);
    expect(resent.every((v) => votedFor(v, b))).toBe(true);
    // Nothing else is signed in that round: the step is restored, so a propose timeout no longer applies.
    const again = g.step({ type: 'timeout', height: 1n, round: 0, step: 'propose' });
    expect(ownVotes(again)).toHaveLength(0);
  });
});

describe('catching up', () => {
  function decidedBlockWithCommit(f: EngineFixture) {
    const b = f.block();
    const sigs = [1, 2, 3].map((i) => ({
      validator: f.address(i),
      signature: f.vote(i, VOTE_PRECOMMIT, 0, b).signature,
    }));
    return { block: b, commit: { height: 1n, round: 0, blockHash: blockHash(b.header), signatures: sigs } };
  }

  test('a synced block with a valid commit is decided directly; a commit short of 2/3 is refused and changes nothing', () => {
    const f = started();
    const { block, commit } = decidedBlockWithCommit(f);
    const before = f.engine.snapshot();
    const weak = { ...commit, signatures: commit.signatures.slice(0, 2) };
    const refused = f.step({ type: 'syncedBlock', block, commit: weak });
    expect(refused.find((e) => e.type === 'rejected')).toMatchObject({ code: 'INSUFFICIENT_POWER' });
    expect(f.engine.snapshot()).toEqual(before);
    const out = f.step({ type: 'syncedBlock', block, commit });
    expect(out.find((e) => e.type === 'decide')).toMatchObject({ height: 1n, commit });
  });

  test('messages for the next height are kept and replayed once we get there', () => {
    const f = new EngineFixture({ me: 1 });
    f.start();
    const { block, commit } = decidedBlockWithCommit(f);
    const next = { ...f.vote(2, VOTE_PREVOTE, 0, null, 2n) };
    expect(f.step({ type: 'vote', vote: next })).toEqual([]);
    f.step({ type: 'syncedBlock', block, commit });
    f.step({ type: 'finalized', height: 1n, validatorUpdates: [] });
    expect(f.engine.height).toBe(2n);
    // Replayed: a second copy of the same vote is now a duplicate, a conflicting one is evidence of height 2.
    const conflicting = f.vote(2, VOTE_PREVOTE, 0, block, 2n);
    const out = f.step({ type: 'vote', vote: conflicting });
    expect(out.some((e) => e.type === 'broadcastEvidence')).toBe(true);
  });

  test("gossipTick re-sends the round's proposal and votes only when the height has not moved for a whole tick", () => {
    const f = started();
    const b = f.block();
    f.propose(0, b);
    f.votes(VOTE_PREVOTE, 0, b, [1]);
    expect(f.step({ type: 'gossipTick' })).toEqual([]);
    const out = f.step({ type: 'gossipTick' });
    expect(out.filter((e) => e.type === 'broadcastProposal')).toHaveLength(1);
    expect(out.filter((e) => e.type === 'broadcastVote')).toHaveLength(2);
    expect(out.some((e) => e.type === 'persistSignState')).toBe(false); // nothing is signed again
  });
});
