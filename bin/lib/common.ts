// What every CLI command shares: global options, the client, key files, amounts, output (human or --json) and the
// one-line failure report with a non-zero exit code.
import { type Command, CommanderError } from 'commander';
import { AutochainClient, DEFAULT_RPC_URL } from '../../src/client/client.js';
import { AmountError, formatAmountGrouped, parseAmount } from '../../src/client/amount.js';
import { ClientError, RpcError, TransportError, TxFailedError } from '../../src/client/errors.js';
import { AutochainError, CodecError, CryptoError } from '../../src/core/errors.js';
import { addressOf, loadKeyFile, type KeyPair } from '../../src/core/keys.js';
import { decode } from '../../src/core/codec.js';
import { fromHex, isHex, toHex } from '../../src/core/bytes.js';
import { stateKey } from '../../src/vm/store.js';
import { AssetDefSchema } from '../../src/vm/modules/asset.js';
import type { JsonEvent, JsonReceipt } from '../../src/rpc/api.js';

export interface GlobalOptions {
  rpc: string;
  key?: string;
  json: boolean;
}

/** A mistake in how the command was called: reported in one line, exit code 2. */
export class UsageError extends AutochainError<'USAGE'> {
  constructor(message: string) {
    super('USAGE', message);
  }
}

export function globals(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as { rpc?: string; key?: string; json?: boolean };
  return {
    rpc: o.rpc ?? process.env.AUTOCHAIN_RPC ?? DEFAULT_RPC_URL,
    key: o.key ?? process.env.AUTOCHAIN_KEY,
    json: o.json === true,
  };
}

export function loadKey(path: string | undefined): KeyPair {
  if (path === undefined)
    throw new UsageError(
      'this command signs a tx: pass --key <file> (a key file from `autochain keys new` or the devnet)',
    );
  return loadKeyFile(path);
}

/** A client for the command's --rpc, signing with --key when the command needs one. */
export function clientFor(cmd: Command, opts: { sign: boolean }): AutochainClient {
  const g = globals(cmd);
  return new AutochainClient({ url: g.rpc, ...(opts.sign ? { key: loadKey(g.key) } : {}) });
}

export function parseAddress(value: string, what: string): Uint8Array {
  const v = value.trim();
  if (!isHex(v, 20)) throw new UsageError(`${what} must be an address of 40 hex digits, got "${value}"`);
  return fromHex(v);
}

/** An address, or a key file whose address is meant (so `--borrower keys/borrower.json` works). */
export function addressArg(value: string, what: string): Uint8Array {
  const v: string = value.trim();
  if (v.endsWith('.json')) return addressOf(loadKeyFile(v).publicKey);
  return parseAddress(v, what);
}

export function parseIntArg(value: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${what} must be a whole number, got "${value}"`);
  const n = Number(value.trim());
  if (n < min || n > max) throw new UsageError(`${what} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function parseBigIntArg(value: string, what: string): bigint {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${what} must be a whole number, got "${value}"`);
  return BigInt(value.trim());
}

export function parseChoice<const V extends string>(value: string, choices: readonly V[], what: string): V {
  const found = choices.find((c) => c.toLowerCase() === value.trim().toLowerCase());
  if (found === undefined) throw new UsageError(`${what} must be one of ${choices.join(', ')}, got "${value}"`);
  return found;
}

/** Percent with up to two decimals ("6", "6.5", "0.25") as basis points, exactly: "6.5" -> 650. */
export function parsePercentBps(value: string, what: string): number {
  try {
    const bps = parseAmount(value.replace(/%$/, ''), 2);
    if (bps > 1_000_000n) throw new UsageError(`${what} is too large: ${value}`);
    return Number(bps);
  } catch (e) {
    if (e instanceof AmountError)
      throw new UsageError(`${what}: ${e.message.replace('for this asset', '(at most 2 decimals)')}`);
    throw e;
  }
}

export function formatBps(bps: number | string): string {
  const s = formatAmountGrouped(BigInt(bps), 2).replace(/\.?0+$/, '');
  return `${s === '' ? '0' : s}%`;
}

const decimalsCache = new Map<string, number>();

/** An asset's decimals, read from the chain's own asset definition (state key asset/def/<code>). */
export async function assetDecimals(client: AutochainClient, asset: string): Promise<number> {
  const cached = decimalsCache.get(`${client.url} ${asset}`);
  if (cached !== undefined) return cached;
  const res = await client.stateGet(stateKey('asset', 'def', asset));
  if (res.value === null) throw new UsageError(`the chain has no asset ${asset}`);
  const def = decode(AssetDefSchema, fromHex(res.value), 64);
  decimalsCache.set(`${client.url} ${asset}`, def.decimals);
  return def.decimals;
}

/** "3042.19" CNY -> 304219n fen, exactly. */
export async function amountArg(client: AutochainClient, asset: string, value: string, what: string): Promise<bigint> {
  const decimals = await assetDecimals(client, asset);
  try {
    return parseAmount(value, decimals);
  } catch (e) {
    if (e instanceof AmountError) throw new UsageError(`${what}: ${e.message}`);
    throw e;
  }
}

export async function showAmount(client: AutochainClient, asset: string, minor: bigint | string): Promise<string> {
  return `${formatAmountGrouped(minor, await assetDecimals(client, asset))} ${asset}`;
}

/** Prints the result: a JSON document with --json, otherwise the lines for people. */
export function output(cmd: Command, json: unknown, human: string | string[]): void {
  if (globals(cmd).json) {
    process.stdout.write(JSON.stringify(json, jsonReplacer, 2) + '\n');
  } else {
    const lines = Array.isArray(human) ? human : [human];
    process.stdout.write(lines.join('\n') + '\n');
  }
}

export function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return toHex(v);
  return v;
}

export function findEvent(receipt: JsonReceipt, module: string, type?: string): JsonEvent | undefined {
  return receipt.events.find((e) => e.module === module && (type === undefined || e.type === type));
}

export function short(hex: string): string {
  return hex.length > 16 ? `${hex.slice(0, 8)}…${hex.slice(-6)}` : hex;
}

export function txLine(hash: string, height: string, gasUsed: string): string {
  return `  tx ${hash}  (block ${height}, gas ${gasUsed})`;
}

/** Exit codes: 1 the node or chain refused or failed, 2 the command was called wrongly, 3 the node is unreachable. */
export function reportError(e: unknown, json: boolean): number {
  const described = describeError(e);
  const { code, exit } = described;
  // One line, always: a message that carries newlines is joined.
  const message = described.message.replace(/\s*\n\s*/g, ' ').trim();
  if (json) process.stdout.write(JSON.stringify({ error: { code, message } }) + '\n');
  process.stderr.write(`error: ${message}\n`);
  if (exit === 70 && process.env.AUTOCHAIN_DEBUG) process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  return exit;
}

function describeError(e: unknown): { code: string | number; message: string; exit: number } {
  if (e instanceof TxFailedError) return { code: e.code, message: `tx ${e.hash} failed: ${e.message}`, exit: 1 };
  if (e instanceof RpcError) {
    const reason =
      typeof e.data === 'object' && e.data !== null && 'reason' in e.data
        ? ` (${String((e.data as { reason: unknown }).reason)})`
        : '';
    return { code: e.code, message: `${e.message}${reason}`, exit: 1 };
  }
  if (e instanceof TransportError) return { code: e.code, message: e.message, exit: 3 };
  if (e instanceof UsageError || e instanceof AmountError) return { code: e.code, message: e.message, exit: 2 };
  if (e instanceof ClientError || e instanceof CodecError || e instanceof CryptoError)
    return { code: e.code, message: e.message, exit: 2 };
  if (e instanceof AutochainError) return { code: e.code, message: e.message, exit: 1 };
  if (e instanceof CommanderError)
    return { code: e.code, message: `${e.message.replace(/^error: /, '')} (see --help)`, exit: 2 };
  const err = e as { code?: string; message?: string };
  if (typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code))
    return { code: err.code, message: err.message ?? String(e), exit: 1 };
  // Not a user error: a bug. One line still, the stack with AUTOCHAIN_DEBUG=1.
  return {
    code: 'INTERNAL',
    message: `internal error: ${err.message ?? String(e)} (run with AUTOCHAIN_DEBUG=1 for details)`,
    exit: 70,
  };
}

/** Adds the "Example:" section every command's --help shows. */
export function example(cmd: Command, ...lines: string[]): Command {
  return cmd.addHelpText('after', `\nExample:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}
