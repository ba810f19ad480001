// The RPC server: JSON-RPC 2.0 over HTTP (POST /) and WebSocket (/ws), GET /health and GET /metrics, with every
// limit from the config (body bytes, batch size, connections, subscriptions per client, queued notifications).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { Logger } from 'pino';
import { toHex } from '../core/bytes.js';
import { addressOf } from '../core/keys.js';
import {
  RPC_ERRORS,
  type BlockNotification,
  type EventNotification,
  type JsonValue,
  type NotificationResult,
  type RpcErrorObject,
  type RpcId,
  type SubscriptionFilter,
  type SubscriptionTopic,
  type TxNotification,
} from './api.js';
import type { CommittedBlock, RpcBackend } from './backend.js';
import { RpcFailure, invalidParams, limitExceeded } from './errors.js';
import { eventJson } from './json.js';
import { createMethods, type Handler } from './methods.js';
import { paramsObject, stringParam } from './params.js';

/** The metrics the server reports (a subset of NodeMetrics; null = no metrics). */
export interface RpcMetrics {
  rpcRequests: { inc(labels: { method: string; transport: string }): void };
  rpcErrors: { inc(labels: { method: string; code: string }): void };
  rpcConnections: { inc(labels: { transport: string }): void; dec(labels: { transport: string }): void };
  rpcSubscriptions: { inc(): void; dec(): void };
  text(): Promise<string>;
  readonly contentType: string;
}

export interface RpcServerDeps {
  backend: RpcBackend;
  logger: Logger;
  metrics: RpcMetrics | null;
  /** Health extras (e.g. "stopping"). */
  health?: () => { ok: boolean; [k: string]: unknown };
}

/** The server's limits (the node passes its config's `rpc` section; defaults and docs in src/node/config.ts). */
export interface RpcServerOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  maxBatch: number;
  maxConnections: number;
  maxSubscriptionsPerClient: number;
  maxPageLimit: number;
  submitTimeoutMs: number;
  maxQueuedNotifications: number;
  /** Largest tx accepted in tx_submit (the mempool's maxTxBytes). */
  maxTxBytes: number;
}

interface Subscription {
  id: string;
  topic: SubscriptionTopic;
  filter: SubscriptionFilter;
}

interface WsClient {
  ws: WebSocket;
  subs: Map<string, Subscription>;
  /** Notifications handed to the socket whose send has not completed: bounded by maxQueuedNotifications. */
  pending: number;
}

const TOPICS: readonly SubscriptionTopic[] = ['blocks', 'txs', 'events'];
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

type Transport = 'http' | 'ws';

function errorResponse(id: RpcId, error: RpcErrorObject): { jsonrpc: '2.0'; id: RpcId; error: RpcErrorObject } {
  return { jsonrpc: '2.0', id, error };
}

function stringify(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? toHex(x) : x,
  );
}

export class RpcServer {
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly methods: Record<string, Handler>;
  private readonly closeMethods: () => void;
  private readonly sockets = new Set<Socket>();
  /** Connections refused by the connection cap: any request the HTTP parser still reads from them is ignored. */
  private readonly refused = new WeakSet<Socket>();
  private readonly clients = new Set<WsClient>();
  private nextSubId = 1;
  private offBlock: (() => void) | null = null;
  private stopping = false;

  constructor(
    private readonly opts: RpcServerOptions,
    private readonly deps: RpcServerDeps,
  ) {
    const m = createMethods(deps.backend, {
      maxTxBytes: opts.maxTxBytes,
      maxPageLimit: opts.maxPageLimit,
      submitTimeoutMs: opts.submitTimeoutMs,
    });
    this.methods = m.handlers;
    this.closeMethods = () => m.close();
    this.http = createServer(
      { requestTimeout: 60_000, headersTimeout: 10_000 },
      (req, res) => void this.onHttp(req, res),
    );
    this.http.on('connection', (s: Socket) => this.onConnection(s));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxBodyBytes });
    this.http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  async start(): Promise<{ host: string; port: number; url: string }> {
    this.offBlock = this.deps.backend.onBlock((b) => this.publish(b));
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.opts.port, this.opts.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const a = this.http.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    this.deps.logger.info({ host: a.address, port: a.port }, 'rpc listening');
    return { host: a.address, port: a.port, url: `http://${host}:${a.port}` };
  }

  /** Stops accepting, closes WebSockets (1001 going away) and idle HTTP connections, waits for in-flight requests. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.offBlock?.();
    this.closeMethods();
    for (const c of this.clients) c.ws.close(1001, 'node shutting down');
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    const t = setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 2000);
    await closed;
    clearTimeout(t);
    for (const c of this.clients) c.ws.terminate();
    this.wss.close();
  }

  // ------------------------------------------------------------ connections

  private onConnection(socket: Socket): void {
    if (this.sockets.size >= this.opts.maxConnections) {
      const body = stringify(
        errorResponse(
          null,
          limitExceeded(
            'rpc.maxConnections',
            this.opts.maxConnections,
            `too many connections (at most ${this.opts.maxConnections}); retry later`,
          ).toJson(),
        ),
      );
      this.refused.add(socket);
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      socket.destroySoon?.();
      return;
    }
    this.sockets.add(socket);
    this.deps.metrics?.rpcConnections.inc({ transport: 'tcp' });
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.deps.metrics?.rpcConnections.dec({ transport: 'tcp' });
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    if (this.refused.has(socket)) return;
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/ws' || this.stopping) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onWs(ws));
  }

  // ------------------------------------------------------------ HTTP

  private async onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.refused.has(req.socket)) return;
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method === 'GET' && path === '/health') return await this.health(res);
      if (req.method === 'GET' && path === '/metrics') return await this.metricsText(res);
      if (path !== '/')
        return this.send(res, 404, {
          error: `no such path ${path}: JSON-RPC is POST /, WebSocket /ws, GET /health, GET /metrics`,
        });
      if (req.method !== 'POST')
        return this.send(
          res,
          405,
          errorResponse(null, { code: RPC_ERRORS.INVALID_REQUEST, message: 'JSON-RPC requests are sent with POST /' }),
        );
      const body = await this.readBody(req);
      if (body === null) {
        const err = limitExceeded(
          'rpc.maxBodyBytes',
          this.opts.maxBodyBytes,
          `request body larger than ${this.opts.maxBodyBytes} bytes`,
        );
        this.countError('(body)', err.rpcCode);
        res.setHeader('Connection', 'close');
        return this.send(res, 413, errorResponse(null, err.toJson()));
      }
      const answer = await this.handleText(body, 'http');
      if (answer === null) {
        res.statusCode = 204;
        res.end();
        return;
      }
      this.sendRaw(res, 200, answer);
    } catch (e) {
      this.deps.logger.error({ err: e }, 'rpc http handler failed');
      if (!res.headersSent)
        this.send(res, 500, errorResponse(null, { code: RPC_ERRORS.INTERNAL_ERROR, message: 'internal error' }));
    }
  }

  private async health(res: ServerResponse): Promise<void> {
    const extra = this.deps.health?.() ?? { ok: true };
    const b = this.deps.backend;
    this.send(res, extra.ok && !this.stopping ? 200 : 503, {
      ...extra,
      ok: extra.ok && !this.stopping,
      chainId: b.chainId,
      height: b.height().toString(),
    });
  }

  private async metricsText(res: ServerResponse): Promise<void> {
    const m = this.deps.metrics;
    if (!m) return this.send(res, 404, { error: 'metrics are disabled (config metrics.enabled)' });
    res.setHeader('Content-Type', m.contentType);
    res.end(await m.text());
  }

  /** Reads the body up to maxBodyBytes; null when it is larger (the rest is not read). */
  private readBody(req: IncomingMessage): Promise<string | null> {
    const max = this.opts.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > max) {
      req.resume();
      return Promise.resolve(null);
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      let over = false;
      req.on('data', (c: Buffer) => {
        if (over) return;
        n += c.length;
        if (n > max) {
          over = true;
          chunks.length = 0;
          resolve(null);
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (!over) resolve(Buffer.concat(chunks).toString('utf8'));
      });
      req.on('error', reject);
    });
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    this.sendRaw(res, status, stringify(body));
  }

  private sendRaw(res: ServerResponse, status: number, text: string): void {
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json');
    res.end(text);
  }

  // ------------------------------------------------------------ JSON-RPC dispatch

  /** Handles one message (a request or a batch); returns the answer text, or null when nothing is answered. */
  private async handleText(text: string, transport: Transport, client?: WsClient): Promise<string | null> {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      this.countError('(parse)', RPC_ERRORS.PARSE_ERROR);
      return stringify(
        errorResponse(null, { code: RPC_ERRORS.PARSE_ERROR, message: 'parse error: the body is not valid JSON' }),
      );
    }
    if (Array.isArray(msg)) {
      if (msg.length === 0)
        return stringify(
          errorResponse(null, { code: RPC_ERRORS.INVALID_REQUEST, message: 'invalid request: empty batch' }),
        );
      if (msg.length > this.opts.maxBatch) {
        this.countError('(batch)', RPC_ERRORS.LIMIT_EXCEEDED);
        return stringify(
          errorResponse(
            null,
            limitExceeded(
              'rpc.maxBatch',
              this.opts.maxBatch,
              `batch of ${msg.length} requests exceeds the limit of ${this.opts.maxBatch}`,
            ).toJson(),
          ),
        );
      }
      const answers = (await Promise.all(msg.map((m) => this.handleOne(m, transport, client)))).filter(
        (a) => a !== null,
      );
      return answers.length === 0 ? null : stringify(answers);
    }
    const one = await this.handleOne(msg, transport, client);
    return one === null ? null : stringify(one);
  }

  private async handleOne(msg: unknown, transport: Transport, client?: WsClient): Promise<unknown> {
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      return errorResponse(null, {
        code: RPC_ERRORS.INVALID_REQUEST,
        message: 'invalid request: expected a JSON-RPC 2.0 request object',
      });
    }
    const r = msg as Record<string, unknown>;
    const hasId = 'id' in r;
    const idOk =
      !hasId || r.id === null || typeof r.id === 'string' || (typeof r.id === 'number' && Number.isFinite(r.id));
    const id: RpcId = idOk && hasId ? (r.id as RpcId) : null;
    if (r.jsonrpc !== '2.0' || typeof r.method !== 'string' || !idOk) {
      const what =
        r.jsonrpc !== '2.0'
          ? '"jsonrpc" must be "2.0"'
          : typeof r.method !== 'string'
            ? '"method" must be a string'
            : '"id" must be a string, number or null';
      return errorResponse(id, { code: RPC_ERRORS.INVALID_REQUEST, message: `invalid request: ${what}` });
    }
    const method = r.method;
    const label = this.methods[method] || method === 'subscribe' || method === 'unsubscribe' ? method : '(unknown)';
    this.deps.metrics?.rpcRequests.inc({ method: label, transport });
    try {
      const result = await this.call(method, r.params, transport, client);
      return hasId ? { jsonrpc: '2.0', id, result: result as JsonValue } : null;
    } catch (e) {
      let err: RpcErrorObject;
      if (e instanceof RpcFailure) err = e.toJson();
      else {
        this.deps.logger.error({ err: e, method }, 'rpc method failed');
        err = { code: RPC_ERRORS.INTERNAL_ERROR, message: 'internal error (see the node log)' };
      }
      this.countError(label, err.code);
      return hasId ? errorResponse(id, err) : null;
    }
  }

  private countError(method: string, code: number): void {
    this.deps.metrics?.rpcErrors.inc({ method, code: String(code) });
  }

  private async call(method: string, params: unknown, transport: Transport, client?: WsClient): Promise<unknown> {
    if (method === 'subscribe' || method === 'unsubscribe') {
      if (transport !== 'ws' || !client) {
        throw new RpcFailure(
          RPC_ERRORS.INVALID_REQUEST,
          `${method} needs a WebSocket connection (ws://<host>:<port>/ws)`,
        );
      }
      return method === 'subscribe' ? this.subscribe(client, params) : this.unsubscribe(client, params);
    }
    const h = Object.hasOwn(this.methods, method) ? this.methods[method] : undefined;
    if (!h)
      throw new RpcFailure(RPC_ERRORS.METHOD_NOT_FOUND, `method not found: ${method} (see docs/rpc.md for the list)`);
    return h(params);
  }

  // ------------------------------------------------------------ WebSocket and subscriptions

  private onWs(ws: WebSocket): void {
    const client: WsClient = { ws, subs: new Map(), pending: 0 };
    this.clients.add(client);
    this.deps.metrics?.rpcConnections.inc({ transport: 'ws' });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const text = isBinary
        ? null
        : Buffer.isBuffer(data)
          ? data.toString('utf8')
          : Array.isArray(data)
            ? Buffer.concat(data).toString('utf8')
            : Buffer.from(data).toString('utf8');
      if (text === null) {
        ws.send(
          stringify(
            errorResponse(null, {
              code: RPC_ERRORS.INVALID_REQUEST,
              message: 'invalid request: send JSON-RPC as text frames',
            }),
          ),
        );
        return;
      }
      void this.handleText(text, 'ws', client).then((answer) => {
        if (answer !== null && ws.readyState === WebSocket.OPEN) ws.send(answer);
      });
    });
    ws.on('error', (e) => this.deps.logger.debug({ err: e }, 'websocket error'));
    ws.on('close', () => {
      this.clients.delete(client);
      for (let i = 0; i < client.subs.size; i++) this.deps.metrics?.rpcSubscriptions.dec();
      client.subs.clear();
      this.deps.metrics?.rpcConnections.dec({ transport: 'ws' });
    });
  }

  private subscribe(client: WsClient, raw: unknown): string {
    const p = paramsObject(raw, ['topic', 'filter']);
    const topic = p.topic;
    if (typeof topic !== 'string' || !(TOPICS as readonly string[]).includes(topic))
      throw invalidParams('topic', `must be one of ${TOPICS.join(', ')}`);
    const filter: SubscriptionFilter = {};
    if (p.filter !== undefined && p.filter !== null) {
      const f = paramsObject(p.filter, ['module', 'type', 'sender']);
      if (topic === 'blocks' && Object.keys(f).length > 0)
        throw invalidParams('filter', 'is not supported for topic blocks');
      const module = stringParam(f, 'module', { max: 64, pattern: NAME, what: 'a module name', optional: true });
      const type = stringParam(f, 'type', { max: 64, pattern: NAME, what: 'an event type or op name', optional: true });
      const sender = stringParam(f, 'sender', {
        max: 40,
        pattern: /^[0-9a-fA-F]{40}$/,
        what: 'an address (40 hex characters)',
        optional: true,
      });
      if (sender !== undefined && topic !== 'txs') throw invalidParams('filter.sender', 'applies to topic txs only');
      if (module !== undefined) filter.module = module;
      if (type !== undefined) filter.type = type;
      if (sender !== undefined) filter.sender = sender.toLowerCase();
    }
    if (client.subs.size >= this.opts.maxSubscriptionsPerClient) {
      throw limitExceeded(
        'rpc.maxSubscriptionsPerClient',
        this.opts.maxSubscriptionsPerClient,
        `this connection already has ${client.subs.size} subscriptions (the limit)`,
      );
    }
    const id = `s${this.nextSubId++}`;
    client.subs.set(id, { id, topic: topic as SubscriptionTopic, filter });
    this.deps.metrics?.rpcSubscriptions.inc();
    return id;
  }

  private unsubscribe(client: WsClient, raw: unknown): boolean {
    const p = paramsObject(raw, ['subscription']);
    const id = stringParam(p, 'subscription', { max: 64 })!;
    const had = client.subs.delete(id);
    if (had) this.deps.metrics?.rpcSubscriptions.dec();
    return had;
  }

  /** Fans one committed block out to the matching subscriptions. A client too far behind is disconnected. */
  private publish(b: CommittedBlock): void {
    if (this.clients.size === 0) return;
    const height = b.height.toString();
    const blockN: BlockNotification = {
      height,
      hash: toHex(b.hash),
      timeMs: b.block.header.timeMs.toString(),
      txCount: b.txs.length,
      stateRoot: toHex(b.block.header.stateRoot),
      proposer: toHex(b.block.header.proposer),
    };
    const txNs: TxNotification[] = b.txs.map((t) => ({
      hash: toHex(t.hash),
      height,
      index: t.index,
      senderAddress: toHex(addressOf(t.tx.body.sender)),
      module: t.tx.body.module,
      op: t.tx.body.op,
      code: t.receipt.code,
    }));
    const evNs: EventNotification[] = [
      ...b.beginEvents.map((e) => ({ ...eventJson(e), height, phase: 'beginBlock' as const, txHash: null })),
      ...b.txs.flatMap((t) =>
        t.receipt.events.map((e) => ({ ...eventJson(e), height, phase: 'tx' as const, txHash: toHex(t.hash) })),
      ),
      ...b.endEvents.map((e) => ({ ...eventJson(e), height, phase: 'endBlock' as const, txHash: null })),
    ];
    for (const c of this.clients) {
      for (const s of c.subs.values()) {
        if (s.topic === 'blocks') this.notify(c, s, blockN);
        else if (s.topic === 'txs') {
          for (const t of txNs) {
            if (s.filter.module !== undefined && t.module !== s.filter.module) continue;
            if (s.filter.type !== undefined && t.op !== s.filter.type) continue;
            if (s.filter.sender !== undefined && t.senderAddress !== s.filter.sender) continue;
            this.notify(c, s, t);
          }
        } else {
          for (const e of evNs) {
            if (s.filter.module !== undefined && e.module !== s.filter.module) continue;
            if (s.filter.type !== undefined && e.type !== s.filter.type) continue;
            this.notify(c, s, e);
          }
        }
      }
    }
  }

  private notify(c: WsClient, s: Subscription, result: NotificationResult): void {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    if (c.pending >= this.opts.maxQueuedNotifications) {
      this.deps.logger.warn({ subscriptions: c.subs.size }, 'websocket client too slow; disconnecting');
      c.ws.close(
        1008,
        `more than ${this.opts.maxQueuedNotifications} notifications queued (rpc.maxQueuedNotifications)`,
      );
      c.subs.clear();
      return;
    }
    c.pending++;
    c.ws.send(
      stringify({ jsonrpc: '2.0', method: 'subscription', params: { subscription: s.id, topic: s.topic, result } }),
      () => {
        c.pending--;
      },
    );
  }
}
