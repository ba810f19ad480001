// product module: create, update, retire by a lender's accounts; parameter checks; caps from genesis; views.
import { describe, it, expect } from 'vitest';
import { TestChain, L, addr, expectRejected, testGenesis } from '../helpers/vm.js';
import { productParams } from '../helpers/vm-loan.js';
import {
  CreateArgs,
  UpdateArgs,
  RetireArgs,
  PRODUCT_CODES,
  loadProduct,
  loadCaps,
  views,
  MAX_PRODUCTS_PER_LENDER,
  type ProductParams,
} from '../../src/vm/modules/product.js';
import { DEFAULT_CAPS } from '../../src/vm/types.js';

function create(c: TestChain, who: string, over: Partial<ProductParams> = {}) {
  return () => c.send(who, 'product', 'create', CreateArgs, productParams(over));
}

describe('product', () => {
  it('a lender account creates a product; the view renders it', () => {
    const c = new TestChain();
    const r = c.ok(L.lender, 'product', 'create', CreateArgs, productParams());
    expect(r.events).toEqual([
      { module: 'product', type: 'created', attrs: { id: '1', lender: 'lender', currency: 'CNY' } },
    ]);
    expect(loadProduct(c.state, 1n)).toMatchObject({
      id: 1n,
      lenderMember: 'lender',
      status: 'active',
      createdBy: addr(L.lender),
    });
    expect(views.getProduct(c.state, 1n)).toMatchObject({
      id: '1',
      lenderMember: 'lender',
      currency: 'CNY',
      aprBpsByBand: { A: 450, B: 600, C: 800, D: 1000, E: 1400 },
      termsMonths: [12, 24, 36, 48, 60],
      method: 'levelPayment',
      lateFee: { kind: 'fixed', value: '10000' },
      status: 'active',
    });
    expect(views.getProduct(c.state, 2n)).toBeNull();
  });

  it('another account of the same organisation updates and retires it; retirement is final', () => {
    const c = new TestChain();
    c.ok(L.lender, 'product', 'create', CreateArgs, productParams());
    c.nextBlock();
    c.ok(L.lender2, 'product', 'update', UpdateArgs, {
      id: 1n,
      params: productParams({ minScore: 650, method: 'levelPrincipal' }),
    });
    expect(loadProduct(c.state, 1n)).toMatchObject({
      params: { minScore: 650, method: 'levelPrincipal' },
      updatedAtMs: c.timeMs,
    });
    const r = c.ok(L.lender2, 'product', 'retire', RetireArgs, { id: 1n });
    expect(r.events[0]).toMatchObject({ type: 'retired', attrs: { id: '1' } });
    expect(loadProduct(c.state, 1n)?.status).toBe('retired');
    expectRejected(c, L.lender, PRODUCT_CODES.RETIRED, () =>
      c.send(L.lender, 'product', 'update', UpdateArgs, { id: 1n, params: productParams() }),
    );
    expectRejected(c, L.lender, PRODUCT_CODES.RETIRED, () =>
      c.send(L.lender, 'product', 'retire', RetireArgs, { id: 1n }),
    );
  });

  it('refuses non-lenders, other lenders, unknown products', () => {
    const c = new TestChain();
    expectRejected(c, L.dealer, PRODUCT_CODES.NOT_LENDER, create(c, L.dealer));
    expectRejected(c, L.outsider, PRODUCT_CODES.NOT_LENDER, create(c, L.outsider));
    c.ok(L.lender, 'product', 'create', CreateArgs, productParams());
    expectRejected(c, L.lenderB, PRODUCT_CODES.NOT_OWNER, () =>
      c.send(L.lenderB, 'product', 'update', UpdateArgs, { id: 1n, params: productParams() }),
    );
    expectRejected(c, L.lenderB, PRODUCT_CODES.NOT_OWNER, () =>
      c.send(L.lenderB, 'product', 'retire', RetireArgs, { id: 1n }),
    );
    expectRejected(c, L.lender, PRODUCT_CODES.NOT_FOUND, () =>
      c.send(L.lender, 'product', 'retire', RetireArgs, { id: 5n }),
    );
    expectRejected(c, L.dealer, PRODUCT_CODES.NOT_LENDER, () =>
      c.send(L.dealer, 'product', 'retire', RetireArgs, { id: 1n }),
    );
  });

  const bad: [string, Partial<ProductParams>, string, RegExp][] = [
    ['unknown currency', { currency: 'EUR' }, PRODUCT_CODES.UNKNOWN_ASSET, /EUR/],
    ['four APR bands', { aprBpsByBand: [1, 2, 3, 4] }, PRODUCT_CODES.BAD_PARAMS, /bands/],
    ['APR above 100%', { aprBpsByBand: [1, 2, 3, 4, 10_001] }, PRODUCT_CODES.BAD_PARAMS, /APR/],
    ['no terms', { termsMonths: [] }, PRODUCT_CODES.BAD_PARAMS, /no terms/],
    ['term 0', { termsMonths: [0] }, PRODUCT_CODES.BAD_PARAMS, /term 0/],
    ['term above the cap', { termsMonths: [72] }, PRODUCT_CODES.BAD_PARAMS, /cap/],
    ['duplicate term', { termsMonths: [12, 12] }, PRODUCT_CODES.BAD_PARAMS, /duplicate/],
    ['min score above 900', { minScore: 901 }, PRODUCT_CODES.BAD_PARAMS, /minScore/],
    [
      'LTV above 100%',
      { maxLtvBps: { privateFuel: 10_001, privateNewEnergy: 1, commercial: 1, used: 1 } },
      PRODUCT_CODES.BAD_PARAMS,
      /privateFuel/,
    ],
    ['DTI above 100%', { maxDtiBps: 10_001 }, PRODUCT_CODES.BAD_PARAMS, /bps/],
    ['down payment above 100%', { minDownPaymentBps: 10_001 }, PRODUCT_CODES.BAD_PARAMS, /bps/],
    ['late fee share above 100%', { lateFeeKind: 'bps', lateFeeValue: 10_001n }, PRODUCT_CODES.BAD_PARAMS, /late fee/],
    ['penalty uplift above 100%', { penaltyUpliftBps: 10_001 }, PRODUCT_CODES.BAD_PARAMS, /penalty/],
    ['default at 0 days', { defaultDays: 0 }, PRODUCT_CODES.BAD_PARAMS, /defaultDays/],
    ['grace not below default', { graceDays: 30, defaultDays: 30 }, PRODUCT_CODES.BAD_PARAMS, /graceDays/],
  ];
  for (const [name, over, code, msg] of bad) {
    it(`refuses ${name} on create and on update`, () => {
      const c = new TestChain();
      const r = expectRejected(c, L.lender, code, create(c, L.lender, over));
      expect(r.message).toMatch(msg);
      c.ok(L.lender, 'product', 'create', CreateArgs, productParams());
      expectRejected(c, L.lender, code, () =>
        c.send(L.lender, 'product', 'update', UpdateArgs, { id: 1n, params: productParams(over) }),
      );
    });
  }

  it('refuses a malformed name at decoding', () => {
    const c = new TestChain();
    expect(
      c.send(L.lender, 'product', 'create', CreateArgs, productParams(), { rawArgs: new Uint8Array([0x91, 0x01]) })
        .code,
    ).toBe('vm.BAD_ARGS');
  });

  it('caps come from genesis', () => {
    const g = testGenesis();
    g.caps = { ...DEFAULT_CAPS, termMonthsMax: 48 };
    const c = new TestChain({ genesis: g });
    expect(loadCaps(c.state).termMonthsMax).toBe(48);
    expectRejected(c, L.lender, PRODUCT_CODES.BAD_PARAMS, create(c, L.lender, { termsMonths: [60] }));
    c.ok(L.lender, 'product', 'create', CreateArgs, productParams({ termsMonths: [48] }));
  });

  it('lists products, all or by lender (member id or account address), paged', () => {
    const c = new TestChain();
    for (let i = 0; i < 3; i++) c.ok(L.lender, 'product', 'create', CreateArgs, productParams({ name: `L${i}` }));
    c.ok(L.lenderB, 'product', 'create', CreateArgs, productParams({ name: 'B0' }));
    const all = views.listProducts(c.state, { offset: 1, limit: 2 });
    expect([all.total, all.offset, all.limit, all.items.map((p) => p.name)]).toEqual([4, 1, 2, ['L1', 'L2']]);
    expect(views.listProducts(c.state, { lender: 'lender-b' }).items.map((p) => p.id)).toEqual(['4']);
    const byAddr = views.listProducts(c.state, { lender: Buffer.from(addr(L.lender2)).toString('hex'), offset: 2 });
    expect([byAddr.total, byAddr.items.map((p) => p.name)]).toEqual([3, ['L2']]);
    expect(views.listProducts(c.state, { lender: Buffer.from(addr(L.outsider)).toString('hex') }).total).toBe(0);
  });

  it(`a lender holds at most ${MAX_PRODUCTS_PER_LENDER} products`, () => {
    const c = new TestChain();
    for (let i = 0; i < MAX_PRODUCTS_PER_LENDER; i++) {
      const r = c.vm.execute(c.state, c.block(), c.tx(L.lender, 'product', 'create', CreateArgs, productParams()), {
        txBytes: 300,
        txHash: new Uint8Array(32),
        signatureVerified: true,
      });
      if (r.code !== 'OK') throw new Error(r.code);
    }
    expectRejected(c, L.lender2, PRODUCT_CODES.TOO_MANY_PRODUCTS, create(c, L.lender2));
    c.ok(L.lenderB, 'product', 'create', CreateArgs, productParams());
  });
});
