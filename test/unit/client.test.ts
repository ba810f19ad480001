// The typed client against a small real HTTP + WebSocket JSON-RPC server: arg encoding, signing, nonce tracking,
// receipts, error mapping and subscriptions.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { AutochainClient } from '../../src/client/client.js';
import { NonceTracker } from '../../src/client/nonce.js';
import { ClientError, RpcError, TransportError, TxFailedError } from '../../src/client/errors.js';
import { decode } from '../../src/core/codec.js';
import { fromHex, toHex } from '../../src/core/bytes.js';
import { addressHex, keyPairFromLabel } from '../../src/core/keys.js';
import { decodeTx, txHash, verifyTxSignature } from '../../src/core/types.js';
import { TransferArgs } from '../../src/vm/modules/asset.js';
import { RPC_ERRORS, type JsonReceipt } from '../../src/rpc/api.js';

type Handler = (params: Record<string, unknown>) => unknown;

/** A fake node: JSON-RPC over POST / with per-test method handlers, and the request log. */
class FakeNode {
  server: Server;
  wss: WebSocketServer;
  handlers = new Map<string, Handler>();
  calls: { method: string; params: Record<string, unknown> }[] = [];
  rawReply: ((res: ServerResponse) => void) | null = null;
  url = '';

  constructor() {
    this.server = createServer((req, res) => void this.onRequest(req, res));
    this.wss = new WebSocketServer({ server: this.server, path: '/ws' });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.handlers.clear();
    this.calls = [];
    this.rawReply = null;
  }

  answer(method: string, params: Record<string, unknown>, id: unknown): unknown {
    this.calls.push({ method, params });
    const h = this.handlers.get(method);
    if (h === undefined)
      return {
        jsonrpc: '2.0',
        id,
        error: { code: RPC_ERRORS.METHOD_NOT_FOUND, message: `method ${method} not found` },
      };
    try {
      return { jsonrpc: '2.0', id, result: h(params) };
    } catch (e) {
      const err = e as { rpc?: { code: number; message: string; data?: unknown } };
      if (err.rpc) return { jsonrpc: '2.0', id, error: err.rpc };
      throw e;
    }
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    if (this.rawReply) return this.rawReply(res);
    const msg = JSON.parse(body) as { id: unknown; method: string; params: Record<string, unknown> };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(this.answer(msg.method, msg.params, msg.id)));
  }
}

function rpcFail(code: number, message: string, data?: unknown): never {
  throw Object.assign(new Error(message), { rpc: { code, message, data } });
}

const alice = keyPairFromLabel('client-test-alice');
const bob = keyPairFromLabel('client-test-bob');
const CHAIN = 'client-test';
const node = new FakeNode();

function okReceipt(hash: string, code = 'OK', message = ''): JsonReceipt {
  return { txHash: hash, code, message, gasUsed: '1234', events: [{ module: 'asset', type: 'Transfer', attrs: {} }] };
}

/** A fake mempool + chain: checks signature, chain id and nonce like the node, commits at once. */
function installChain(startNonce: bigint): { nonces: bigint[]; args: unknown[] } {
  const seen = { nonces: [] as bigint[], args: [] as unknown[] };
  let next = startNonce;
  node.handlers.set('chain_status', () => ({ chainId: CHAIN, height: '5' }));
  node.handlers.set('account_get', (p) => ({ address: p.address, nonce: next.toString(), balances: [] }));
  node.handlers.set('tx_submit', (p) => {
    const bytes = fromHex(String(p.tx));
    const tx = decodeTx(bytes);
    if (!verifyTxSignature(tx)) rpcFail(RPC_ERRORS.TX_REJECTED, 'bad signature', { reason: 'BAD_SIGNATURE' });
    if (tx.body.chainId !== CHAIN) rpcFail(RPC_ERRORS.TX_REJECTED, 'wrong chain', { reason: 'WRONG_CHAIN' });
    if (tx.body.nonce !== next)
      rpcFail(RPC_ERRORS.TX_REJECTED, `nonce ${tx.body.nonce} is not ${next}`, { reason: 'NONCE_TOO_HIGH' });
    next += 1n;
    seen.nonces.push(tx.body.nonce);
    seen.args.push(decode(TransferArgs, tx.body.args, 1 << 14));
    const hash = toHex(txHash(bytes));
    return p.wait ? { hash, committed: { height: '6', index: 0, receipt: okReceipt(hash) } } : { hash };
  });
  return seen;
}

beforeAll(async () => {
  await node.start();
});
afterEach(() => node.reset());
afterAll(async () => {
  for (const c of node.wss.clients) c.terminate();
  await new Promise<void>((r) => node.wss.close(() => r()));
  await new Promise<void>((r) => node.server.close(() => r()));
});

describe('NonceTracker', () => {
  it('fetches once and hands out consecutive nonces, also to concurrent callers', async () => {
    let fetches = 0;
    const t = new NonceTracker(async () => {
      fetches++;
      await new Promise((r) => setTimeout(r, 5));
      return 41n;
    });
    const got = await Promise.all([t.take(), t.take(), t.take()]);
    expect(got.sort()).toEqual([41n, 42n, 43n]);
    expect(await t.take()).toBe(44n);
    expect(fetches).toBe(1);
    expect(t.peek()).toBe(45n);
  });

  it('asks the chain again after a reset', async () => {
    let chainNonce = 7n;
    const t = new NonceTracker(async () => chainNonce);
    expect(await t.take()).toBe(7n);
    expect(await t.take()).toBe(8n);
    chainNonce = 8n; // the tx with nonce 8 was refused: the chain still expects 8
    t.reset();
    expect(t.peek()).toBeNull();
    expect(await t.take()).toBe(8n);
  });
});

describe('AutochainClient txs', () => {
  it('encodes args with the module schema, signs for the chain, and tracks the nonce over several txs', async () => {
    const seen = installChain(5n);
    const client = new AutochainClient({ url: node.url, key: alice });
    const to = fromHex(addressHex(bob.publicKey));
    const r1 = await client.tx('asset', 'transfer', { asset: 'CNY', to, amount: 100n, memo: 'one' });
    const r2 = await client.tx('asset', 'transfer', { asset: 'CNY', to, amount: 200n, memo: 'two' });
    const r3 = await client.tx('asset', 'transfer', { asset: 'CNY', to, amount: 300n, memo: 'three' });
    expect([r1.nonce, r2.nonce, r3.nonce]).toEqual([5n, 6n, 7n]);
    expect(seen.nonces).toEqual([5n, 6n, 7n]);
    expect(seen.args[1]).toEqual({ asset: 'CNY', to, amount: 200n, memo: 'two' });
    expect(r3.receipt.code).toBe('OK');
    expect(r3.committed.height).toBe('6');
    // One account_get and one chain_status for three txs: the nonce and chain id are kept locally.
    expect(node.calls.filter((c) => c.method === 'account_get')).toHaveLength(1);
    expect(node.calls.filter((c) => c.method === 'chain_status')).toHaveLength(1);
    expect(node.calls.find((c) => c.method === 'account_get')?.params).toEqual({
      address: addressHex(alice.publicKey),
    });
    expect(node.calls.filter((c) => c.method === 'tx_submit').every((c) => c.params.wait === true)).toBe(true);
  });

  it('submits without waiting when asked, and waitForTx polls tx_get until the tx is there', async () => {
    installChain(0n);
    let polls = 0;
    node.handlers.set('tx_get', (p) => {
      polls++;
      if (polls < 3) rpcFail(RPC_ERRORS.NOT_FOUND, 'no such tx');
      return { hash: p.hash, height: '9', index: 0, receipt: okReceipt(String(p.hash)) };
    });
    const client = new AutochainClient({ url: node.url, key: alice });
    const sent = await client.tx(
      'asset',
      'transfer',
      { asset: 'CNY', to: new Uint8Array(20), amount: 1n, memo: '' },
      { wait: false },
    );
    expect(sent.committed).toBeNull();
    const got = await client.waitForTx(sent.hash, { intervalMs: 5 });
    expect(got.height).toBe('9');
    expect(polls).toBe(3);
  });

  it('refuses args that do not fit the schema before using a nonce or calling the node', async () => {
    installChain(0n);
    const client = new AutochainClient({ url: node.url, key: alice });
    // @ts-expect-error amount must be a bigint, as the schema says
    const bad = client.tx('asset', 'transfer', { asset: 'CNY', to: new Uint8Array(20), amount: 5, memo: '' });
    await expect(bad).rejects.toMatchObject({ name: 'ClientError', code: 'BAD_ARGS' });
    const shortAddress = client.tx('asset', 'transfer', { asset: 'CNY', to: new Uint8Array(19), amount: 5n, memo: '' });
    await expect(shortAddress).rejects.toThrow(/asset\.transfer.*\.to/);
    // @ts-expect-error there is no such op
    await expect(client.tx('asset', 'steal', {})).rejects.toMatchObject({ code: 'UNKNOWN_OP' });
    expect(node.calls).toHaveLength(0);
  });

  it('needs a key to send a tx', async () => {
    const client = new AutochainClient({ url: node.url });
    await expect(client.tx('asset', 'redeem', { asset: 'CNY', amount: 1n })).rejects.toMatchObject({
      code: 'NO_SIGNER',
    });
    expect(client.address).toBeNull();
  });

  it('maps a mempool refusal to RpcError with code and data, and re-reads the nonce for the next tx', async () => {
    installChain(3n);
    const client = new AutochainClient({ url: node.url, key: alice });
    await client.tx('asset', 'transfer', { asset: 'CNY', to: new Uint8Array(20), amount: 1n, memo: '' });
    // Another wallet with the same key used nonce 4 meanwhile: our local 4 is refused.
    const other = new AutochainClient({ url: node.url, key: alice });
    await other.tx('asset', 'transfer', { asset: 'CNY', to: new Uint8Array(20), amount: 1n, memo: '' });
    const refused = await client
      .tx('asset', 'transfer', { asset: 'CNY', to: new Uint8Array(20), amount: 1n, memo: '' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RpcError);
    expect(refused).toMatchObject({
      code: RPC_ERRORS.TX_REJECTED,
      data: { reason: 'NONCE_TOO_HIGH' },
      method: 'tx_submit',
    });
    const again = await client.tx('asset', 'transfer', { asset: 'CNY', to: new Uint8Array(20), amount: 1n, memo: '' });
    expect(again.nonce).toBe(5n); // asked the chain again instead of guessing
    expect(node.calls.filter((c) => c.method === 'account_get')).toHaveLength(3);
  });

  it('throws TxFailedError with the receipt code when the committed operation failed, and keeps the nonce', async () => {
    installChain(0n);
    node.handlers.set('tx_submit', (p) => {
      const hash = toHex(txHash(fromHex(String(p.tx))));
      return {
        hash,
        committed: { height: '2', index: 0, receipt: okReceipt(hash, 'asset.INSUFFICIENT_FUNDS', 'balance 0 < 5') },
      };
    });
    const client = new AutochainClient({ url: node.url, key: alice });
    const err = await client
      .tx('asset', 'transfer', { asset: 'CNY', to: new Uint8Array(20), amount: 5n, memo: '' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TxFailedError);
    expect(err).toMatchObject({ code: 'asset.INSUFFICIENT_FUNDS', message: 'asset.INSUFFICIENT_FUNDS: balance 0 < 5' });
    const second = await client.tx(
      'asset',
      'transfer',
      { asset: 'CNY', to: new Uint8Array(20), amount: 5n, memo: '' },
      { throwOnFailure: false },
    );
    expect(second.nonce).toBe(1n); // a failed tx still used its nonce
    expect(second.receipt.code).toBe('asset.INSUFFICIENT_FUNDS');
  });
});

describe('AutochainClient errors and reads', () => {
  it('passes params through and returns typed results', async () => {
    node.handlers.set('loan_get', (p) => ({ id: p.id, status: 'active' }));
    node.handlers.set('chain_getBlock', (p) => ({ asked: p }));
    const client = new AutochainClient({ url: node.url });
    expect(await client.loan(12n)).toEqual({ id: '12', status: 'active' });
    expect(await client.getBlock({ height: 3n })).toEqual({ asked: { height: '3' } });
    expect(await client.getBlock({ hash: 'ab'.repeat(32) })).toEqual({ asked: { hash: 'ab'.repeat(32) } });
  });

  it('maps a JSON-RPC error object to RpcError', async () => {
    node.handlers.set('loan_get', () => rpcFail(RPC_ERRORS.NOT_FOUND, 'no loan 99', { id: '99' }));
    const client = new AutochainClient({ url: node.url });
    const err = await client.loan(99).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: -32002, message: 'no loan 99', data: { id: '99' }, method: 'loan_get' });
    const unknown = await client.call('validator_list', {}).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: RPC_ERRORS.METHOD_NOT_FOUND });
  });

  it('reports a node that is not running as TransportError UNREACHABLE', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const client = new AutochainClient({ url: `http://127.0.0.1:${port}` });
    const err = await client.status().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ code: 'UNREACHABLE' });
    expect((err as Error).message).toMatch(/is it running\?/);
  });

  it('reports an answer that is not JSON-RPC as TransportError', async () => {
    const client = new AutochainClient({ url: node.url });
    node.rawReply = (res) => {
      res.statusCode = 502;
      res.end('<html>bad gateway</html>');
    };
    await expect(client.status()).rejects.toMatchObject({ name: 'TransportError', code: 'HTTP_STATUS' });
    node.rawReply = (res) => res.end('not json');
    await expect(client.status()).rejects.toMatchObject({ code: 'BAD_RESPONSE' });
    node.rawReply = (res) => res.end('{"jsonrpc":"2.0","id":1}');
    await expect(client.status()).rejects.toMatchObject({ code: 'BAD_RESPONSE' });
  });

  it('times out a request the node does not answer', async () => {
    node.rawReply = () => {}; // never answers
    const client = new AutochainClient({ url: node.url, timeoutMs: 100 });
    await expect(client.status()).rejects.toMatchObject({ name: 'TransportError', code: 'TIMEOUT' });
  });
});

describe('AutochainClient subscriptions over WebSocket', () => {
  it('subscribes, delivers notifications to an async iterator and a callback, and unsubscribes', async () => {
    const unsubscribed: string[] = [];
    node.wss.removeAllListeners('connection');
    node.wss.on('connection', (ws) => {
      let n = 0;
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as {
          id: number;
          method: string;
          params: { topic?: string; subscription?: string };
        };
        if (msg.method === 'unsubscribe') {
          unsubscribed.push(String(msg.params.subscription));
          ws.send(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: true }));
          return;
        }
        const id = `sub-${++n}`;
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: id }));
        for (let h = 1; h <= 3; h++) {
          const result =
            msg.params.topic === 'events'
              ? {
                  module: 'loan',
                  type: 'Delinquent',
                  attrs: { loanId: '1', bucket: '1-29' },
                  height: String(h),
                  phase: 'beginBlock',
                  txHash: null,
                }
              : {
                  height: String(h),
                  hash: 'ab'.repeat(32),
                  timeMs: '0',
                  txCount: 0,
                  stateRoot: 'cd'.repeat(32),
                  proposer: 'ee'.repeat(20),
                };
          ws.send(
            JSON.stringify({
              jsonrpc: '2.0',
              method: 'subscription',
              params: { subscription: id, topic: msg.params.topic, result },
            }),
          );
        }
      });
    });
    const client = new AutochainClient({ url: node.url });
    const blocks = await client.subscribe('blocks');
    const heights: string[] = [];
    for await (const b of blocks) {
      heights.push(b.height);
      if (heights.length === 3) break; // leaving the loop unsubscribes
    }
    expect(heights).toEqual(['1', '2', '3']);
    const alerts: string[] = [];
    const events = await client.subscribe('events', { module: 'loan', type: 'Delinquent' }, (e) =>
      alerts.push(`${e.type} ${e.attrs.bucket}`),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(alerts).toEqual(['Delinquent 1-29', 'Delinquent 1-29', 'Delinquent 1-29']);
    await events.close();
    expect(unsubscribed).toEqual([blocks.id, events.id]);
    await client.close();
  });

  it('ends subscriptions with an error when the connection drops', async () => {
    node.wss.removeAllListeners('connection');
    node.wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { id: number };
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: 'sub-x' }));
        setTimeout(() => ws.terminate(), 20);
      });
    });
    const client = new AutochainClient({ url: node.url });
    const sub = await client.subscribe('txs');
    await expect(sub.next()).rejects.toBeInstanceOf(TransportError);
    await client.close();
  });

  it('sends requests over the WebSocket when asked, with the same results and errors', async () => {
    node.wss.removeAllListeners('connection');
    node.wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { id: number; method: string; params: Record<string, unknown> };
        ws.send(JSON.stringify(node.answer(msg.method, msg.params, msg.id)));
      });
    });
    node.handlers.set('loan_get', (p) =>
      p.id === '1' ? { id: '1', status: 'current' } : rpcFail(RPC_ERRORS.NOT_FOUND, `loan ${String(p.id)} not found`),
    );
    const client = new AutochainClient({ url: node.url, useWebSocket: true });
    const [a, b] = await Promise.all([client.loan(1n), client.loan(2n).catch((e: unknown) => e)]);
    expect(a).toEqual({ id: '1', status: 'current' });
    expect(b).toBeInstanceOf(RpcError);
    expect(b).toMatchObject({ code: RPC_ERRORS.NOT_FOUND, message: 'loan 2 not found' });
    await client.close();
  });

  it('cannot reach a WebSocket that is not there', async () => {
    const client = new AutochainClient({ url: node.url, wsUrl: node.url.replace('http', 'ws') + '/nowhere' });
    await expect(client.subscribe('blocks')).rejects.toMatchObject({ code: 'UNREACHABLE' });
    expect(ClientError).toBeDefined();
  });
});
