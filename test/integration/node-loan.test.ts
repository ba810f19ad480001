// The whole car loan through a real node (LevelDB in a temp folder, HTTP and WebSocket on 127.0.0.1) with the typed
// client: register, attest, consent, product, apply, fund, a missed installment whose delinquency alert reaches a
// WebSocket subscriber, then repayment to payoff with the lien released. Block time is genesis + height x 1 day
// (config block.timeStepMs), and blocks are made only when txs wait, so days pass exactly one per block.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sha256 } from '../../src/core/hash.js';
import { utf8 } from '../../src/core/bytes.js';
import { addressOf } from '../../src/core/keys.js';
import { AutochainClient } from '../../src/client/client.js';
import type { EventNotification, BlockNotification } from '../../src/rpc/api.js';
import { verifyCommit } from '../../src/consensus/verify-commit.js';
import { ValidatorSet } from '../../src/consensus/validator-set.js';
import { decodeBlock } from '../../src/core/types.js';
import { fromHex } from '../../src/core/bytes.js';
import { verifyProof, decodeStateProof } from '../../src/state/proof.js';
import { Node, loadNodeOptions } from '../../src/node/node.js';
import { makeVin, productParams } from '../helpers/vm-loan.js';
import { makeHome, K, addrHex, DAY_MS, GENESIS_TIME_MS, CHAIN_ID } from './node-helpers.js';

const home = makeHome({ block: { intervalMs: 20, emptyBlockIntervalMs: 0, timeStepMs: DAY_MS } });
let node: Node;
let url: string;
const clients: AutochainClient[] = [];

function client(key: typeof K.alice): AutochainClient {
  const c = new AutochainClient({ url, key, chainId: CHAIN_ID });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  node = new Node(loadNodeOptions(home.home));
  url = (await node.start()).rpcUrl;
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await node.stop();
  home.cleanup();
});

const addr = (k: typeof K.alice): Uint8Array => addressOf(k.publicKey);

describe('car loan through the node', () => {
  it('runs from vehicle registration to payoff, with a delinquency alert over WebSocket', async () => {
    const lender = client(K.lender);
    const bureau = client(K.bureau);
    const maker = client(K.maker);
    const alice = client(K.alice);
    const filler = client(K.validator);
    const watcher = new AutochainClient({ url });
    clients.push(watcher);

    const alerts: EventNotification[] = [];
    const blocks: BlockNotification[] = [];
    await watcher.subscribe('events', { module: 'loan', type: 'delinquency' }, (m) => alerts.push(m));
    await watcher.subscribe('blocks', undefined, (m) => blocks.push(m));

    const now = async (): Promise<bigint> =>
      BigInt((await lender.status()).latestBlockTimeMs ?? GENESIS_TIME_MS.toString());
    const vin = makeVin(7);

    await lender.tx('member', 'onboardBorrower', {
      borrower: addr(K.alice),
      identityCommitment: sha256(utf8('alice identity record')),
    });
    const t0 = await now();
    await bureau.tx('credit', 'attest', {
      borrower: addr(K.alice),
      score: 720,
      band: 'B',
      currency: 'CNY',
      grossMonthlyIncome: 50_000_00n,
      outsideMonthlyDebt: 2_000_00n,
      issuedAtMs: t0,
      expiresAtMs: t0 + 365n * BigInt(DAY_MS),
    });
    await alice.tx('credit', 'consent', {
      lender: addr(K.lender),
      purpose: 'autoLoan',
      expiresAtMs: t0 + 365n * BigInt(DAY_MS),
    });
    await lender.tx('product', 'create', productParams({ graceDays: 3 }));
    await maker.tx('vehicle', 'register', {
      vin,
      make: 'Geely',
      model: 'Galaxy',
      modelYear: 2026,
      energy: 'fuel',
      use: 'private',
      condition: 'new',
      owner: addr(K.dealer),
    });
    const products = await lender.products({ lender: addrHex(K.lender) });
    expect(products.total).toBe(1);

    const applied = await alice.tx('loan', 'apply', {
      productId: 1n,
      vin,
      price: 200_000_00n,
      downPayment: 60_000_00n,
      termMonths: 36,
    });
    const approval = applied.receipt.events.find((e) => e.module === 'loan');
    expect(approval?.type, JSON.stringify(applied.receipt.events)).toBe('approved');
    const applicationId = BigInt(approval!.attrs.applicationId!);
    const funded = await lender.tx('loan', 'fund', { applicationId });
    const fundedEv = funded.receipt.events.find((e) => e.type === 'funded');
    const loanId = fundedEv!.attrs.loanId!;
    expect((await alice.vehicle(vin)).lien).toMatchObject({ loanId, lender: addrHex(K.lender) });
    const loan0 = await alice.loan(loanId);
    expect(loan0.status).toBe('current');
    expect(Array.isArray(loan0.schedule) && loan0.schedule.length).toBe(36);
    expect((await alice.loansByBorrower(addrHex(K.alice))).total).toBe(1);

    // Nobody pays: each filler tx makes one block, one day. The first installment falls due about a month after
    // funding; past the grace days the loan moves into the 1-29 days-past-due bucket and an alert goes out.
    for (let day = 0; day < 60 && alerts.length === 0; day++) {
      await filler.tx('asset', 'transfer', { asset: 'CNY', to: addr(K.bob), amount: 1n, memo: `day ${day}` });
      await new Promise((r) => setTimeout(r, 5)); // let the notification of this block arrive
    }
    for (let i = 0; i < 100 && alerts.length === 0; i++) await new Promise((r) => setTimeout(r, 20)); // a slow machine
    expect(alerts.length, 'a delinquency alert arrived over the WebSocket').toBeGreaterThan(0);
    const alert = alerts[0]!;
    expect(alert).toMatchObject({ module: 'loan', type: 'delinquency', phase: 'beginBlock', txHash: null });
    expect(alert.attrs).toMatchObject({ loanId, borrower: addrHex(K.alice), to: expect.any(String) });
    const delinquent = await alice.delinquentLoans();
    expect(delinquent.items.map((l) => l.id)).toContain(loanId);
    expect(blocks.length).toBeGreaterThan(30);

    // Repay to payoff: repay caps the amount at the payoff, so pay the quoted payoff plus a margin for the day.
    const quote = await alice.loan(loanId);
    const payoff = BigInt((quote.balances as { payoff: string }).payoff);
    expect(payoff).toBeGreaterThan(140_000_00n);
    const paid = await alice.tx('loan', 'repay', { loanId: BigInt(loanId), amount: payoff + 10_000_00n });
    expect(paid.receipt.events.map((e) => e.type)).toContain('paidOff');
    const closed = await alice.loan(loanId);
    expect(closed.status).toBe('paidOff');
    expect((await alice.vehicle(vin)).lien).toBeNull();
    expect((await alice.credit(addrHex(K.alice))).history).toMatchObject({ paidOff: 1 });

    // The committed block carries a real commit certificate and the state proves against its header.
    const tip = await alice.getTx(paid.hash);
    const block = await alice.getBlock({ height: tip.height });
    const commit = await alice.getCommit(tip.height);
    const set = ValidatorSet.fromGenesis([{ publicKey: K.validator.publicKey, power: 1_000_000n }]);
    const decoded = decodeBlock(fromHex(block.raw));
    const c = {
      height: BigInt(commit.height),
      round: commit.round,
      blockHash: fromHex(commit.blockHash),
      signatures: commit.signatures.map((s) => ({ validator: fromHex(s.validator), signature: fromHex(s.signature) })),
    };
    expect(verifyCommit(decoded, c, set, CHAIN_ID)).toMatchObject({ ok: true });
  });

  it('state_getProof verifies against the latest header state root', async () => {
    const c = new AutochainClient({ url });
    clients.push(c);
    const key = utf8(`asset/bal/CNY/${addrHex(K.bank)}`);
    const p = await c.stateGetProof(key);
    const status = await c.status();
    expect(p.root).toBe(status.stateRoot);
    expect(p.value).not.toBeNull();
    expect(verifyProof(fromHex(p.root), key, fromHex(p.value!), decodeStateProof(fromHex(p.proof)))).toBe(true);
    const absent = await c.stateGetProof(utf8('asset/bal/CNY/nobody'));
    expect(absent.value).toBeNull();
    expect(
      verifyProof(fromHex(absent.root), utf8('asset/bal/CNY/nobody'), null, decodeStateProof(fromHex(absent.proof))),
    ).toBe(true);
  });
});
