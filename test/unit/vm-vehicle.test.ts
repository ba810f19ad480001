// vehicle module: VIN check digits against real VINs, registration, appraisal, ownership, status, liens, every rejection.
import { describe, it, expect } from 'vitest';
import { TestChain, L, addr, expectRejected, GENESIS_TIME_MS } from '../helpers/vm.js';
import {
  validateVin,
  vinCheckDigit,
  loadVehicle,
  setLien,
  setOwner,
  setVehicleStatus,
  pledgeable,
  utcYear,
  views,
  RegisterArgs,
  AppraiseArgs,
  TransferOwnershipArgs,
  SetStatusArgs,
  VEHICLE_CODES,
} from '../../src/vm/modules/vehicle.js';
import type { Infer } from '../../src/core/codec.js';

// Check digits computed independently (by hand / a separate script) with the ISO 3779 / FMVSS 565 / GB 16735 rule.
const VALID = [
  ['1M8GDM9AXKP042788', 'X'], // the classic FMVSS 565 example: remainder 10 -> X
  ['11111111111111111', '1'],
  ['1HGCM82633A004352', '3'], // Honda Accord
  ['JHMCM56557C404453', '5'], // Honda Accord (Japan)
  ['1G1JC5444R7252367', '4'], // Chevrolet Cavalier
  ['LVSHCAMB1CE054249', '1'], // Chinese WMI (LVS, Changan Ford), GB 16735 check digit
] as const;
const INVALID: [string, RegExp][] = [
  ['LSVAU033512345678', /check digit.*expected 6/], // plausible Chinese VIN with a wrong check digit
  ['1M8GDM9AYKP042788', /check digit/],
  ['1HGCM82643A004352', /check digit/],
  ['1M8GDM9AXKP04278', /17 characters/],
  ['1M8GDM9AXKP0427888', /17 characters/],
  ['', /17 characters/],
  ['1M8GDM9AXKP0427O8', /I, O or Q/],
  ['IM8GDM9AXKP042788', /I, O or Q/],
  ['1M8GDM9AXKP04278Q', /I, O or Q/],
  ['1m8gdm9axkp042788', /upper-case/],
  ['1M8GDM9AXKP04278-', /upper-case/],
];

const VIN = '1HGCM82633A004352';
const VIN2 = 'JHMCM56557C404453';

function reg(vin = VIN, over: Partial<Infer<typeof RegisterArgs>> = {}): Infer<typeof RegisterArgs> {
  return {
    vin,
    make: 'Honda',
    model: 'Accord',
    modelYear: 2026,
    energy: 'fuel',
    use: 'private',
    condition: 'new',
    owner: addr(L.dealer),
    ...over,
  };
}

function chainWithCar(): TestChain {
  const c = new TestChain();
  c.ok(L.maker, 'vehicle', 'register', RegisterArgs, reg());
  return c;
}

describe('VIN validation', () => {
  for (const [vin, digit] of VALID) {
    it(`accepts ${vin} (check digit ${digit})`, () => {
      expect(vinCheckDigit(vin)).toBe(digit);
      expect(validateVin(vin)).toBeNull();
    });
  }
  for (const [vin, why] of INVALID) {
    it(`refuses ${JSON.stringify(vin)}`, () => {
      expect(validateVin(vin)).toMatch(why);
    });
  }
});

describe('vehicle', () => {
  it('computes the UTC calendar year from block time', () => {
    expect(utcYear(GENESIS_TIME_MS)).toBe(2026);
    expect(utcYear(0n)).toBe(1970);
    expect(utcYear(BigInt(Date.UTC(2024, 1, 29, 23, 59)))).toBe(2024);
    expect(utcYear(BigInt(Date.UTC(2000, 0, 1)) - 1n)).toBe(1999);
  });

  it('a manufacturer registers a car; the registry holds every field', () => {
    const c = new TestChain();
    const r = c.ok(L.maker, 'vehicle', 'register', RegisterArgs, reg(VIN, { energy: 'newEnergy', use: 'commercial' }));
    expect(r.events[0]).toMatchObject({
      module: 'vehicle',
      type: 'registered',
      attrs: { vin: VIN, energy: 'newEnergy', use: 'commercial' },
    });
    const v = loadVehicle(c.state, VIN);
    expect(v).toMatchObject({
      vin: VIN,
      make: 'Honda',
      model: 'Accord',
      modelYear: 2026,
      energy: 'newEnergy',
      use: 'commercial',
      condition: 'new',
      status: 'active',
      appraisal: null,
      lien: null,
    });
    expect(v?.owner).toEqual(addr(L.dealer));
    expect(views.getVehicle(c.state, VIN)).toMatchObject({
      vin: VIN,
      owner: Buffer.from(addr(L.dealer)).toString('hex'),
      lien: null,
    });
    expect(views.getVehicle(c.state, VIN2)).toBeNull();
    expect(views.getVehicle(c.state, 'nonsense')).toBeNull();
  });

  it('a registrar registers a used car; a dealer and a registrar appraise', () => {
    const c = new TestChain();
    c.ok(
      L.registrar,
      'vehicle',
      'register',
      RegisterArgs,
      reg(VIN2, { condition: 'used', modelYear: 2007, owner: addr(L.alice) }),
    );
    c.ok(L.dealer, 'vehicle', 'appraise', AppraiseArgs, { vin: VIN2, asset: 'CNY', amount: 45_000_00n });
    expect(loadVehicle(c.state, VIN2)?.appraisal).toEqual({
      asset: 'CNY',
      amount: 45_000_00n,
      by: addr(L.dealer),
      atMs: c.timeMs,
    });
    c.ok(L.registrar, 'vehicle', 'appraise', AppraiseArgs, { vin: VIN2, asset: 'CNY', amount: 44_000_00n });
    expect(loadVehicle(c.state, VIN2)?.appraisal?.amount).toBe(44_000_00n);
  });

  it('the owner transfers ownership; a lien blocks it; releasing the lien unblocks it', () => {
    const c = chainWithCar();
    c.ok(L.dealer, 'vehicle', 'transferOwnership', TransferOwnershipArgs, { vin: VIN, to: addr(L.alice) });
    expect(loadVehicle(c.state, VIN)?.owner).toEqual(addr(L.alice));
    setLien(c.state, VIN, { loanId: 7n, lender: addr(L.lender), registeredAtMs: c.timeMs });
    expectRejected(c, L.alice, VEHICLE_CODES.LIENED, () =>
      c.send(L.alice, 'vehicle', 'transferOwnership', TransferOwnershipArgs, { vin: VIN, to: addr(L.bob) }),
    );
    setLien(c.state, VIN, null);
    c.ok(L.alice, 'vehicle', 'transferOwnership', TransferOwnershipArgs, { vin: VIN, to: addr(L.bob) });
    expect(loadVehicle(c.state, VIN)?.owner).toEqual(addr(L.bob));
  });

  it('setOwner and setVehicleStatus (for the loan module) bypass op checks; pledgeable reports status', () => {
    const c = chainWithCar();
    const v = loadVehicle(c.state, VIN)!;
    expect(pledgeable(v)).toBeNull();
    setOwner(c.state, VIN, addr(L.lender));
    expect(loadVehicle(c.state, VIN)?.owner).toEqual(addr(L.lender));
    for (const s of ['scrapped', 'seized', 'stolen'] as const) {
      setVehicleStatus(c.state, VIN, s);
      expect(pledgeable(loadVehicle(c.state, VIN)!)).toMatch(new RegExp(`is ${s}`));
    }
  });

  it('a registrar changes status (stolen -> active), scrapping is final', () => {
    const c = chainWithCar();
    const r = c.ok(L.registrar, 'vehicle', 'setStatus', SetStatusArgs, { vin: VIN, status: 'stolen' });
    expect(r.events[0]).toMatchObject({ type: 'statusChanged', attrs: { from: 'active', to: 'stolen' } });
    c.ok(L.registrar, 'vehicle', 'setStatus', SetStatusArgs, { vin: VIN, status: 'active' });
    c.ok(L.registrar, 'vehicle', 'setStatus', SetStatusArgs, { vin: VIN, status: 'scrapped' });
    expectRejected(c, L.registrar, VEHICLE_CODES.SCRAPPED, () =>
      c.send(L.registrar, 'vehicle', 'setStatus', SetStatusArgs, { vin: VIN, status: 'active' }),
    );
  });

  const BAD_VIN = 'LSVAU033512345678';
  const cases: {
    name: string;
    code: string;
    label: string;
    setup?: (c: TestChain) => void;
    send: (c: TestChain) => ReturnType<TestChain['send']>;
  }[] = [
    {
      name: 'register by a lender',
      code: VEHICLE_CODES.NOT_REGISTRANT,
      label: L.lender,
      send: (c) => c.send(L.lender, 'vehicle', 'register', RegisterArgs, reg(VIN2)),
    },
    {
      name: 'register by a non-member',
      code: VEHICLE_CODES.NOT_REGISTRANT,
      label: L.outsider,
      send: (c) => c.send(L.outsider, 'vehicle', 'register', RegisterArgs, reg(VIN2)),
    },
    {
      name: 'register with a wrong check digit',
      code: VEHICLE_CODES.BAD_VIN,
      label: L.maker,
      send: (c) => c.send(L.maker, 'vehicle', 'register', RegisterArgs, reg(BAD_VIN)),
    },
    {
      name: 'register with I/O/Q in the VIN',
      code: VEHICLE_CODES.BAD_VIN,
      label: L.maker,
      send: (c) => c.send(L.maker, 'vehicle', 'register', RegisterArgs, reg('1M8GDM9AXKP0427O8')),
    },
    {
      name: 'register with a short VIN',
      code: VEHICLE_CODES.BAD_VIN,
      label: L.maker,
      send: (c) => c.send(L.maker, 'vehicle', 'register', RegisterArgs, reg('1M8GDM9AXKP04278')),
    },
    {
      name: 'register a model year before 1981',
      code: VEHICLE_CODES.BAD_MODEL_YEAR,
      label: L.maker,
      send: (c) => c.send(L.maker, 'vehicle', 'register', RegisterArgs, reg(VIN2, { modelYear: 1980 })),
    },
    {
      name: 'register a model year more than 2 years ahead',
      code: VEHICLE_CODES.BAD_MODEL_YEAR,
      label: L.maker,
      send: (c) => c.send(L.maker, 'vehicle', 'register', RegisterArgs, reg(VIN2, { modelYear: 2029 })),
    },
    {
      name: 'register a VIN twice',
      code: VEHICLE_CODES.EXISTS,
      label: L.registrar,
      send: (c) => c.send(L.registrar, 'vehicle', 'register', RegisterArgs, reg(VIN)),
    },
    {
      name: 'appraise by a lender',
      code: VEHICLE_CODES.NOT_APPRAISER,
      label: L.lender,
      send: (c) => c.send(L.lender, 'vehicle', 'appraise', AppraiseArgs, { vin: VIN, asset: 'CNY', amount: 1n }),
    },
    {
      name: 'appraise a bad VIN',
      code: VEHICLE_CODES.BAD_VIN,
      label: L.dealer,
      send: (c) => c.send(L.dealer, 'vehicle', 'appraise', AppraiseArgs, { vin: BAD_VIN, asset: 'CNY', amount: 1n }),
    },
    {
      name: 'appraise an unregistered car',
      code: VEHICLE_CODES.NOT_FOUND,
      label: L.dealer,
      send: (c) => c.send(L.dealer, 'vehicle', 'appraise', AppraiseArgs, { vin: VIN2, asset: 'CNY', amount: 1n }),
    },
    {
      name: 'appraise in an unknown asset',
      code: VEHICLE_CODES.UNKNOWN_ASSET,
      label: L.dealer,
      send: (c) => c.send(L.dealer, 'vehicle', 'appraise', AppraiseArgs, { vin: VIN, asset: 'EUR', amount: 1n }),
    },
    {
      name: 'appraise at zero',
      code: VEHICLE_CODES.ZERO_AMOUNT,
      label: L.dealer,
      send: (c) => c.send(L.dealer, 'vehicle', 'appraise', AppraiseArgs, { vin: VIN, asset: 'CNY', amount: 0n }),
    },
    {
      name: 'transfer with a bad VIN',
      code: VEHICLE_CODES.BAD_VIN,
      label: L.dealer,
      send: (c) =>
        c.send(L.dealer, 'vehicle', 'transferOwnership', TransferOwnershipArgs, { vin: BAD_VIN, to: addr(L.alice) }),
    },
    {
      name: 'transfer an unregistered car',
      code: VEHICLE_CODES.NOT_FOUND,
      label: L.dealer,
      send: (c) =>
        c.send(L.dealer, 'vehicle', 'transferOwnership', TransferOwnershipArgs, { vin: VIN2, to: addr(L.alice) }),
    },
    {
      name: 'transfer by a non-owner',
      code: VEHICLE_CODES.NOT_OWNER,
      label: L.alice,
      send: (c) =>
        c.send(L.alice, 'vehicle', 'transferOwnership', TransferOwnershipArgs, { vin: VIN, to: addr(L.alice) }),
    },
    {
      name: 'transfer of a liened car',
      code: VEHICLE_CODES.LIENED,
      label: L.dealer,
      setup: (c) => setLien(c.state, VIN, { loanId: 1n, lender: addr(L.lender), registeredAtMs: c.timeMs }),
      send: (c) =>
        c.send(L.dealer, 'vehicle', 'transferOwnership', TransferOwnershipArgs, { vin: VIN, to: addr(L.alice) }),
    },
    {
      name: 'transfer of a stolen car',
      code: VEHICLE_CODES.NOT_ACTIVE,
      label: L.dealer,
      setup: (c) => setVehicleStatus(c.state, VIN, 'stolen'),
      send: (c) =>
        c.send(L.dealer, 'vehicle', 'transferOwnership', TransferOwnershipArgs, { vin: VIN, to: addr(L.alice) }),
    },
    {
      name: 'transfer to the current owner',
      code: VEHICLE_CODES.SAME_OWNER,
      label: L.dealer,
      send: (c) =>
        c.send(L.dealer, 'vehicle', 'transferOwnership', TransferOwnershipArgs, { vin: VIN, to: addr(L.dealer) }),
    },
    {
      name: 'setStatus by a manufacturer',
      code: VEHICLE_CODES.NOT_REGISTRAR,
      label: L.maker,
      send: (c) => c.send(L.maker, 'vehicle', 'setStatus', SetStatusArgs, { vin: VIN, status: 'seized' }),
    },
    {
      name: 'setStatus with a bad VIN',
      code: VEHICLE_CODES.BAD_VIN,
      label: L.registrar,
      send: (c) => c.send(L.registrar, 'vehicle', 'setStatus', SetStatusArgs, { vin: BAD_VIN, status: 'seized' }),
    },
    {
      name: 'setStatus of an unregistered car',
      code: VEHICLE_CODES.NOT_FOUND,
      label: L.registrar,
      send: (c) => c.send(L.registrar, 'vehicle', 'setStatus', SetStatusArgs, { vin: VIN2, status: 'seized' }),
    },
    {
      name: 'setStatus to the same status',
      code: VEHICLE_CODES.SAME_STATUS,
      label: L.registrar,
      send: (c) => c.send(L.registrar, 'vehicle', 'setStatus', SetStatusArgs, { vin: VIN, status: 'active' }),
    },
    {
      name: 'setStatus of a scrapped car',
      code: VEHICLE_CODES.SCRAPPED,
      label: L.registrar,
      setup: (c) => setVehicleStatus(c.state, VIN, 'scrapped'),
      send: (c) => c.send(L.registrar, 'vehicle', 'setStatus', SetStatusArgs, { vin: VIN, status: 'stolen' }),
    },
  ];
  for (const t of cases) {
    it(`rejects ${t.name} with ${t.code}, changing nothing but the nonce`, () => {
      const c = chainWithCar();
      t.setup?.(c);
      expectRejected(c, t.label, t.code, () => t.send(c));
    });
  }

  it('every vehicle error code is covered by the rejection table', () => {
    const covered = new Set(cases.map((t) => t.code));
    for (const code of Object.values(VEHICLE_CODES)) expect(covered.has(code), code).toBe(true);
  });
});

describe('utcYear', () => {
  it('matches the calendar around year and leap boundaries, before and after the epoch', () => {
    for (const [y, m, d] of [
      [1969, 11, 31],
      [1970, 0, 1],
      [1981, 0, 1],
      [2000, 1, 29],
      [2024, 11, 31],
      [2026, 10, 29],
      [2100, 2, 1],
    ] as const) {
      for (const delta of [0, 1, 86_399_999]) {
        const t = Date.UTC(y, m, d) + delta;
        expect(utcYear(BigInt(t)), new Date(t).toISOString()).toBe(new Date(t).getUTCFullYear());
      }
      expect(utcYear(BigInt(Date.UTC(y, m, d)) - 1n)).toBe(new Date(Date.UTC(y, m, d) - 1).getUTCFullYear());
    }
  });
});
