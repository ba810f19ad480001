// Param validation for RPC methods: each check throws -32602 with a message naming the bad param.
import { isHex, fromHex } from '../core/bytes.js';
import { parseDec, type JsonValue } from './api.js';
import { invalidParams } from './errors.js';

export type Params = Record<string, JsonValue | undefined>;

/** Params must be an object (by-name) or absent; `allowed` lists the known names (others are refused). */
export function paramsObject(raw: unknown, allowed: readonly string[]): Params {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidParams('params', 'must be an object of named params');
  const p = raw as Params;
  for (const k of Object.keys(p))
    if (!allowed.includes(k))
      throw invalidParams(k, `is not a param of this method (known: ${allowed.join(', ') || 'none'})`);
  return p;
}

export function hexParam(
  p: Params,
  name: string,
  opts: { bytes?: number; maxBytes?: number; optional?: false },
): Uint8Array;
export function hexParam(
  p: Params,
  name: string,
  opts: { bytes?: number; maxBytes?: number; optional: true },
): Uint8Array | undefined;
export function hexParam(
  p: Params,
  name: string,
  opts: { bytes?: number; maxBytes?: number; optional?: boolean },
): Uint8Array | undefined {
  const v = p[name];
  if (v === undefined && opts.optional) return undefined;
  if (v === undefined) throw invalidParams(name, 'is required');
  const what = opts.bytes !== undefined ? `${opts.bytes * 2} hex characters` : 'a hex string';
  if (typeof v !== 'string' || !isHex(v, opts.bytes)) throw invalidParams(name, `must be ${what}`);
  const b = fromHex(v);
  if (opts.maxBytes !== undefined && b.length > opts.maxBytes)
    throw invalidParams(name, `must be at most ${opts.maxBytes} bytes`);
  return b;
}

export function addressParam(p: Params, name: string, optional = false): Uint8Array | undefined {
  return optional ? hexParam(p, name, { bytes: 20, optional: true }) : hexParam(p, name, { bytes: 20 });
}

/** A u64 given as a decimal string or a non-negative safe integer. */
export function u64Param(p: Params, name: string): bigint {
  const v = p[name];
  if (v === undefined) throw invalidParams(name, 'is required');
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  const n = parseDec(v);
  if (n === null || n >= 1n << 64n) throw invalidParams(name, 'must be a decimal string (or a non-negative integer)');
  return n;
}

export function intParam(p: Params, name: string, min: number, max: number, dflt?: number): number {
  const v = p[name];
  if (v === undefined) {
    if (dflt === undefined) throw invalidParams(name, 'is required');
    return dflt;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalidParams(name, `must be an integer from ${min} to ${max}`);
  return v;
}

export function boolParam(p: Params, name: string, dflt: boolean): boolean {
  const v = p[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw invalidParams(name, 'must be true or false');
  return v;
}

export function stringParam(
  p: Params,
  name: string,
  opts: { max: number; pattern?: RegExp; what?: string; optional?: boolean },
): string | undefined {
  const v = p[name];
  if (v === undefined) {
    if (opts.optional) return undefined;
    throw invalidParams(name, 'is required');
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > opts.max || (opts.pattern && !opts.pattern.test(v))) {
    throw invalidParams(name, `must be ${opts.what ?? `a string of at most ${opts.max} characters`}`);
  }
  return v;
}

/** offset/limit of a paged list: limit defaults to min(50, max) and is clamped to maxLimit. */
export function pageParams(p: Params, maxLimit: number): { offset: number; limit: number } {
  const offset = intParam(p, 'offset', 0, 1_000_000_000, 0);
  const limit = Math.min(intParam(p, 'limit', 1, 1_000_000, Math.min(50, maxLimit)), maxLimit);
  return { offset, limit };
}
