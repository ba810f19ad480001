// Bad input through the real RPC (HTTP and WebSocket on 127.0.0.1): each case gets its documented error, and the
// chain's height and state root do not change.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { WebSocket } from 'ws';
import { keyPairFromLabel } from '../../src/core/keys.js';
import { toHex } from '../../src/core/bytes.js';
import { encodeTx, decodeTx } from '../../src/core/types.js';
import { Node, loadNodeOptions } from '../../src/node/node.js';
import { RPC_ERRORS, RPC_METHODS } from '../../src/rpc/api.js';
import { TransferArgs } from '../../src/vm/modules/asset.js';
import { makeHome, post, rpc, call, buildTx, K, addrHex } from './node-helpers.js';

const home = makeHome({
  rpc: { maxBatch: 3, maxBodyBytes: 8192, maxSubscriptionsPerClient: 2, maxPageLimit: 5 },
  mempool: { maxTxBytes: 1024, maxTxs: 4, maxTxsPerSender: 2, nonceWindow: 4 },
});
let node: Node;
let url: string;

const transfer = (amount: bigint) => ({ asset: 'CNY', to: Buffer.from(addrHex(K.bob), 'hex'), amount, memo: '' });

beforeAll(async () => {
  node = new Node(loadNodeOptions(home.home));
  url = (await node.start()).rpcUrl;
});
afterAll(async () => {
  await node.stop();
  home.cleanup();
});

async function chainPoint(): Promise<{ height: string; stateRoot: string }> {
  const s = await call<{ height: string; stateRoot: string }>(url, 'chain_status');
  return { height: s.height, stateRoot: s.stateRoot };
}

/** Runs `fn`, then checks that no block was made and the state root is the same as before. */
async function unchanged(fn: () => Promise<void>): Promise<void> {
  const before = await chainPoint();
  await fn();
  await new Promise((r) => setTimeout(r, 60)); // two block intervals: a wrongly admitted tx would commit
  expect(await chainPoint()).toEqual(before);
}

describe('JSON-RPC protocol errors', () => {
  it('malformed JSON -> -32700', () =>
    unchanged(async () => {
      const r = await post(url, '{"jsonrpc":"2.0","id":1,"method":');
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: RPC_ERRORS.PARSE_ERROR } });
    }));

  it('not a request object, wrong jsonrpc, empty batch -> -32600', () =>
    unchanged(async () => {
      for (const body of [
        '5',
        '"x"',
        '{"jsonrpc":"1.0","id":1,"method":"chain_status"}',
        '{"jsonrpc":"2.0","id":1,"method":7}',
        '[]',
        '{"jsonrpc":"2.0","id":{},"method":"chain_status"}',
      ]) {
        const r = await post(url, body);
        expect((r.body as { error: { code: number } }).error.code, body).toBe(RPC_ERRORS.INVALID_REQUEST);
      }
    }));

  it('every method of the contract (api.ts RPC_METHODS) is served', () =>
    unchanged(async () => {
      for (const m of RPC_METHODS) {
        const r = await rpc(url, m, { unknownParam: 1 });
        expect(r.error?.code, m).not.toBe(RPC_ERRORS.METHOD_NOT_FOUND);
      }
    }));

  it('unknown method -> -32601 naming it', () =>
    unchanged(async () => {
      const r = await rpc(url, 'chain_explode', {});
      expect(r.error?.code).toBe(RPC_ERRORS.METHOD_NOT_FOUND);
      expect(r.error?.message).toContain('chain_explode');
    }));

  it('wrong param types -> -32602 naming the param', () =>
    unchanged(async () => {
      const cases: [string, unknown, string][] = [
        ['account_get', { address: 5 }, 'address'],
        ['account_get', { address: 'zz' }, 'address'],
        ['account_get', {}, 'address'],
        ['account_get', ['positional'], 'params'],
        ['chain_getBlock', { height: 'tall' }, 'height'],
        ['chain_getBlock', { height: -1 }, 'height'],
        ['chain_getBlock', {}, 'height'],
        ['tx_submit', { tx: 'not hex' }, 'tx'],
        ['tx_submit', { tx: '00', wait: 'yes' }, 'wait'],
        ['tx_submit', { tx: '00', timeoutMs: 0 }, 'timeoutMs'],
        ['tx_get', { hash: 'abcd' }, 'hash'],
        ['member_list', { limit: 0 }, 'limit'],
        ['member_list', { offset: -3 }, 'offset'],
        ['vehicle_get', { vin: 42 }, 'vin'],
        ['state_get', { key: 'xyz' }, 'key'],
        ['chain_status', { verbose: true }, 'verbose'],
      ];
      for (const [method, params, param] of cases) {
        const r = await rpc(url, method, params);
        expect(r.error?.code, `${method} ${JSON.stringify(params)}`).toBe(RPC_ERRORS.INVALID_PARAMS);
        expect(r.error?.message, `${method} ${JSON.stringify(params)}`).toContain(param);
      }
    }));

  it('oversize body -> HTTP 413 and -32004', () =>
    unchanged(async () => {
      const r = await post(
        url,
        JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_status', params: { pad: 'x'.repeat(9000) } }),
      );
      expect(r.status).toBe(413);
      expect(r.body).toMatchObject({
        error: { code: RPC_ERRORS.LIMIT_EXCEEDED, data: { limit: 'rpc.maxBodyBytes', max: 8192 } },
      });
    }));

  it('oversize body without a length (chunked) -> 413 too', () =>
    unchanged(async () => {
      const { request } = await import('node:http');
      const u = new URL(url);
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          {
            host: u.hostname,
            port: u.port,
            method: 'POST',
            path: '/',
            headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
          },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => {
              body += d.toString();
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        for (let i = 0; i < 10; i++) req.write('x'.repeat(1000));
        req.end();
      });
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: RPC_ERRORS.LIMIT_EXCEEDED } });
    }));

  it('batch over the cap -> -32004; a batch within it answers each request', () =>
    unchanged(async () => {
      const req = (id: number) => ({ jsonrpc: '2.0', id, method: 'chain_status' });
      const over = await post(url, JSON.stringify([req(1), req(2), req(3), req(4)]));
      expect(over.body).toMatchObject({
        error: { code: RPC_ERRORS.LIMIT_EXCEEDED, data: { limit: 'rpc.maxBatch', max: 3 } },
      });
      const ok = await post(
        url,
        JSON.stringify([req(1), { jsonrpc: '2.0', id: 2, method: 'nope' }, { jsonrpc: '2.0', method: 'chain_status' }]),
      );
      const answers = ok.body as { id: number; result?: unknown; error?: { code: number } }[];
      expect(answers.length, 'the notification (no id) gets no answer').toBe(2);
      expect(answers.find((a) => a.id === 1)?.result).toBeDefined();
      expect(answers.find((a) => a.id === 2)?.error?.code).toBe(RPC_ERRORS.METHOD_NOT_FOUND);
    }));

  it('subscribe over HTTP -> -32600 pointing at the WebSocket', () =>
    unchanged(async () => {
      const r = await rpc(url, 'subscribe', { topic: 'blocks' });
      expect(r.error?.code).toBe(RPC_ERRORS.INVALID_REQUEST);
      expect(r.error?.message).toContain('WebSocket');
    }));

  it('not found -> -32002', () =>
    unchanged(async () => {
      expect((await rpc(url, 'chain_getBlock', { height: '999' })).error?.code).toBe(RPC_ERRORS.NOT_FOUND);
      expect((await rpc(url, 'tx_get', { hash: '00'.repeat(32) })).error?.code).toBe(RPC_ERRORS.NOT_FOUND);
      expect((await rpc(url, 'vehicle_get', { vin: '1HGCM82633A004352' })).error?.code).toBe(RPC_ERRORS.NOT_FOUND);
    }));

  it('GET /health and GET /metrics', async () => {
    const h = await fetch(`${url}/health`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ ok: true, chainId: 'autochain-itest' });
    const m = await (await fetch(`${url}/metrics`)).text();
    for (const name of [
      'autochain_chain_height_blocks',
      'autochain_chain_block_interval_seconds',
      'autochain_chain_txs_committed_total',
      'autochain_mempool_size_txs',
      'autochain_mempool_size_bytes',
      'autochain_rpc_requests_total',
      'autochain_rpc_errors_total',
    ]) {
      expect(m, name).toContain(name);
    }
    expect(m).toMatch(
      /autochain_rpc_errors_total\{method="chain_explode"|autochain_rpc_errors_total\{method="\(unknown\)"/,
    );
  });
});

describe('tx admission errors', () => {
  function expectRejected(r: Awaited<ReturnType<typeof rpc>>, code: number, reason: string): void {
    expect(r.error?.code, JSON.stringify(r.error)).toBe(code);
    expect(r.error?.data?.reason).toBe(reason);
    expect(r.error?.message.length).toBeGreaterThan(15);
  }

  it('bad signature', () =>
    unchanged(async () => {
      const t = buildTx(K.alice, 0n, 'asset', 'transfer', TransferArgs, transfer(1n));
      const tx = decodeTx(t.bytes);
      tx.signature[0]! ^= 0xff;
      expectRejected(await rpc(url, 'tx_submit', { tx: toHex(encodeTx(tx)) }), RPC_ERRORS.TX_REJECTED, 'BAD_SIGNATURE');
    }));

  it('wrong chain id', () =>
    unchanged(async () => {
      const t = buildTx(K.alice, 0n, 'asset', 'transfer', TransferArgs, transfer(1n), { chainId: 'another-chain' });
      expectRejected(await rpc(url, 'tx_submit', { tx: t.hex }), RPC_ERRORS.TX_REJECTED, 'WRONG_CHAIN');
    }));

  it('malformed tx bytes and a tx over the size limit', () =>
    unchanged(async () => {
      expectRejected(await rpc(url, 'tx_submit', { tx: 'c0ffee' }), RPC_ERRORS.TX_REJECTED, 'MALFORMED');
      const big = await rpc(url, 'tx_submit', { tx: '00'.repeat(1025) });
      expect(big.error?.code).toBe(RPC_ERRORS.INVALID_PARAMS);
      expect(big.error?.message).toContain('1024 bytes');
    }));

  it('nonce gap beyond the window', () =>
    unchanged(async () => {
      const t = buildTx(K.alice, 4n, 'asset', 'transfer', TransferArgs, transfer(1n));
      expectRejected(await rpc(url, 'tx_submit', { tx: t.hex }), RPC_ERRORS.TX_REJECTED, 'NONCE_TOO_HIGH');
    }));

  it('replayed tx: refused after it committed, and the state root stays', async () => {
    const t = buildTx(K.alice, 0n, 'asset', 'transfer', TransferArgs, transfer(10n));
    const first = await call<{ committed: { receipt: { code: string } } }>(url, 'tx_submit', {
      tx: t.hex,
      wait: true,
      timeoutMs: 10_000,
    });
    expect(first.committed.receipt.code).toBe('OK');
    await unchanged(async () => {
      expectRejected(await rpc(url, 'tx_submit', { tx: t.hex }), RPC_ERRORS.TX_REJECTED, 'ALREADY_COMMITTED');
    });
  });

  it('mempool full -> -32001 (total cap), sender cap -> -32001 SENDER_FULL', () =>
    unchanged(async () => {
      // Txs with a nonce gap (account nonce 0, tx nonce 1) wait and are never reaped, so they hold the pool.
      const keys = [1, 2, 3, 4].map((i) => keyPairFromLabel(`itest-filler-${i}`));
      const hashes: string[] = [];
      const submit = async (kp: typeof K.alice, nonce: bigint) => {
        const r = await call<{ hash: string }>(url, 'tx_submit', {
          tx: buildTx(kp, nonce, 'asset', 'transfer', TransferArgs, transfer(1n)).hex,
        });
        hashes.push(r.hash);
      };
      await submit(keys[0]!, 1n);
      await submit(keys[0]!, 2n);
      const senderFull = await rpc(url, 'tx_submit', {
        tx: buildTx(keys[0]!, 3n, 'asset', 'transfer', TransferArgs, transfer(1n)).hex,
      });
      expectRejected(senderFull, RPC_ERRORS.MEMPOOL_FULL, 'SENDER_FULL');
      await submit(keys[1]!, 1n);
      await submit(keys[2]!, 1n);
      const full = await rpc(url, 'tx_submit', {
        tx: buildTx(keys[3]!, 1n, 'asset', 'transfer', TransferArgs, transfer(1n)).hex,
      });
      expectRejected(full, RPC_ERRORS.MEMPOOL_FULL, 'MEMPOOL_FULL');
      expect(full.error?.message).toContain('mempool full');
      const status = await call<{ mempool: { size: number } }>(url, 'chain_status');
      expect(status.mempool.size).toBe(4);
      const pending = await rpc(url, 'tx_get', { hash: hashes[0] });
      expect(pending.error?.code).toBe(RPC_ERRORS.NOT_FOUND);
      expect(pending.error?.data?.pending).toBe(true);
    }));
});

describe('WebSocket limits', () => {
  function open(): Promise<WebSocket> {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  }
  function ask(
    ws: WebSocket,
    msg: unknown,
  ): Promise<{ id: number; result?: unknown; error?: { code: number; message: string } }> {
    return new Promise((resolve) => {
      ws.once('message', (d) => resolve(JSON.parse(String(d))));
      ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
    });
  }

  it('subscriptions per client are capped; unsubscribe frees a slot; bad topic and filter are refused', async () => {
    const ws = await open();
    try {
      const a = await ask(ws, { jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topic: 'blocks' } });
      const b = await ask(ws, {
        jsonrpc: '2.0',
        id: 2,
        method: 'subscribe',
        params: { topic: 'events', filter: { module: 'loan' } },
      });
      expect(typeof a.result).toBe('string');
      expect(typeof b.result).toBe('string');
      const c = await ask(ws, { jsonrpc: '2.0', id: 3, method: 'subscribe', params: { topic: 'txs' } });
      expect(c.error?.code).toBe(RPC_ERRORS.LIMIT_EXCEEDED);
      expect(
        (await ask(ws, { jsonrpc: '2.0', id: 4, method: 'unsubscribe', params: { subscription: a.result } })).result,
      ).toBe(true);
      expect(
        (await ask(ws, { jsonrpc: '2.0', id: 5, method: 'unsubscribe', params: { subscription: a.result } })).result,
      ).toBe(false);
      expect(
        (await ask(ws, { jsonrpc: '2.0', id: 6, method: 'subscribe', params: { topic: 'txs' } })).result,
      ).toBeDefined();
      const badTopic = await ask(ws, { jsonrpc: '2.0', id: 7, method: 'subscribe', params: { topic: 'gossip' } });
      expect(badTopic.error?.code).toBe(RPC_ERRORS.INVALID_PARAMS);
      expect(badTopic.error?.message).toContain('topic');
      const badFilter = await ask(ws, {
        jsonrpc: '2.0',
        id: 8,
        method: 'subscribe',
        params: { topic: 'events', filter: { colour: 'red' } },
      });
      expect(badFilter.error?.code).toBe(RPC_ERRORS.INVALID_PARAMS);
      const parse = await ask(ws, 'not json');
      expect(parse.error?.code).toBe(RPC_ERRORS.PARSE_ERROR);
      const status = await ask(ws, { jsonrpc: '2.0', id: 9, method: 'chain_status' });
      expect((status.result as { chainId: string }).chainId).toBe('autochain-itest');
    } finally {
      ws.close();
    }
  });
});

describe('WebSocket message size', () => {
  it('a message over rpc.maxBodyBytes closes the socket with 1009 and changes nothing', () =>
    unchanged(async () => {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_status', params: { pad: 'x'.repeat(9000) } }));
      expect(await closed).toBe(1009);
    }));
});

describe('connection cap', () => {
  it('refuses connections over rpc.maxConnections with 503 and -32004', async () => {
    const h = makeHome({ rpc: { maxConnections: 2 } });
    const n = new Node(loadNodeOptions(h.home));
    const u = (await n.start()).rpcUrl;
    const sockets: WebSocket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const ws = new WebSocket(`${u.replace('http', 'ws')}/ws`);
        await new Promise((resolve, reject) => {
          ws.once('open', resolve);
          ws.once('error', reject);
        });
        sockets.push(ws);
      }
      const r = await fetch(`${u}/`, { method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"chain_status"}' });
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({
        error: { code: RPC_ERRORS.LIMIT_EXCEEDED, data: { limit: 'rpc.maxConnections' } },
      });
    } finally {
      for (const s of sockets) s.close();
      await n.stop();
      h.cleanup();
    }
  });
});

describe('tx_submit with wait', () => {
  it('answers -32003 when the tx is accepted but does not commit in time, and the tx stays pending', async () => {
    const h = makeHome();
    const n = new Node(loadNodeOptions(h.home));
    const u = (await n.start()).rpcUrl;
    try {
      const before = await call<{ height: string; stateRoot: string }>(u, 'chain_status');
      // Nonce 1 while the account is at 0: admitted (inside the window) but never executable.
      const t = buildTx(K.alice, 1n, 'asset', 'transfer', TransferArgs, transfer(1n));
      const r = await rpc(u, 'tx_submit', { tx: t.hex, wait: true, timeoutMs: 150 });
      expect(r.error?.code).toBe(RPC_ERRORS.TIMEOUT);
      expect(r.error?.data?.hash).toBe(t.hash);
      expect((await rpc(u, 'tx_get', { hash: t.hash })).error?.data?.pending).toBe(true);
      const after = await call<{ height: string; stateRoot: string }>(u, 'chain_status');
      expect({ height: after.height, stateRoot: after.stateRoot }).toEqual({
        height: before.height,
        stateRoot: before.stateRoot,
      });
    } finally {
      await n.stop();
      h.cleanup();
    }
  });
});
