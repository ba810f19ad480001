// JSON-RPC 2.0 transports: one request per HTTP POST, or many requests and subscription notifications over one
// WebSocket. Both turn an error object into RpcError and a missing answer into TransportError.
import { RpcError, TransportError } from './errors.js';

export interface Transport {
  request(method: string, params: unknown, opts?: { timeoutMs?: number }): Promise<unknown>;
  close(): Promise<void>;
}

interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: number | string | null;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** Checks the shape of a JSON-RPC response and returns its result, or throws the error it carries. */
export function unwrapResponse(body: unknown, method: string): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TransportError('BAD_RESPONSE', `the node's answer to ${method} is not a JSON-RPC response`);
  }
  const r = body as Partial<JsonRpcResponse>;
  if (r.error !== undefined && r.error !== null) {
    const e = r.error;
    const code = typeof e.code === 'number' ? e.code : -32603;
    const message = typeof e.message === 'string' ? e.message : 'unknown error';
    throw new RpcError(code, message, e.data, method);
  }
  if (!('result' in r))
    throw new TransportError('BAD_RESPONSE', `the node's answer to ${method} has neither result nor error`);
  return r.result;
}

/** The WebSocket URL that belongs to an HTTP RPC URL: http://host:port -> ws://host:port/ws. */
export function wsUrlOf(httpUrl: string): string {
  const u = new URL(httpUrl);
  if (u.protocol === 'ws:' || u.protocol === 'wss:') return u.toString();
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = u.pathname.replace(/\/+$/, '') + '/ws';
  return u.toString();
}

export interface HttpTransportOptions {
  url: string;
  /** Per-request timeout; a tx_submit that waits for its commit gets its own wait time on top. */
  timeoutMs?: number;
}

export class HttpTransport implements Transport {
  private nextId = 1;
  private readonly url: string;
  private readonly timeoutMs: number;

  constructor(opts: HttpTransportOptions) {
    this.url = opts.url;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async request(method: string, params: unknown, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw transportFailure(e, this.url, method, timeoutMs);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw transportFailure(e, this.url, method, timeoutMs);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      if (!res.ok)
        throw new TransportError('HTTP_STATUS', `${this.url} answered HTTP ${res.status} to ${method}`, {
          status: res.status,
        });
      throw new TransportError('BAD_RESPONSE', `${this.url} answered ${method} with something that is not JSON`);
    }
    // A JSON-RPC error may come with a 4xx/5xx status; the error object says more than the status.
    return unwrapResponse(body, method);
  }

  async close(): Promise<void> {
    // fetch keeps no connection state that needs closing.
  }
}

function transportFailure(e: unknown, url: string, method: string, timeoutMs: number): TransportError {
  const err = e as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') {
    return new TransportError('TIMEOUT', `no answer from ${url} to ${method} within ${timeoutMs} ms`);
  }
  const why = err.cause?.code ?? err.cause?.message ?? err.message ?? 'unknown reason';
  return new TransportError('UNREACHABLE', `cannot reach the node at ${url} (${why}); is it running?`);
}

type Pending = { resolve(v: unknown): void; reject(e: Error): void; method: string; timer: NodeJS.Timeout };
export type NotificationHandler = (subscription: string, result: unknown) => void;

/**
 * One WebSocket carrying requests (matched to answers by id) and subscription notifications. Notifications are
 * handed to `onNotification`; the client routes them to subscriptions.
 */
export class WsTransport implements Transport {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private socket: WebSocket | null = null;
  private opening: Promise<WebSocket> | null = null;
  private closed = false;
  private readonly timeoutMs: number;
  onNotification: NotificationHandler = () => {};
  onClose: (reason: string) => void = () => {};

  constructor(
    readonly url: string,
    opts: { timeoutMs?: number } = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  private open(): Promise<WebSocket> {
    if (this.socket !== null) return Promise.resolve(this.socket);
    if (this.closed) return Promise.reject(new TransportError('CLOSED', 'the WebSocket connection was closed'));
    if (this.opening !== null) return this.opening;
    this.opening = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.url);
      const onError = (): void => {
        this.opening = null;
        reject(new TransportError('UNREACHABLE', `cannot open a WebSocket to ${this.url}; is the node running?`));
      };
      ws.addEventListener('error', onError, { once: true });
      ws.addEventListener(
        'open',
        () => {
          ws.removeEventListener('error', onError);
          this.socket = ws;
          this.opening = null;
          resolve(ws);
        },
        { once: true },
      );
      ws.addEventListener('message', (ev) => this.onMessage(ev.data));
      ws.addEventListener('close', (ev) =>
        this.onSocketClose(`closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`),
      );
    });
    return this.opening;
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'string') return; // the node sends text frames only
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    const messages = Array.isArray(msg) ? msg : [msg];
    for (const m of messages) this.dispatch(m);
  }

  private dispatch(m: unknown): void {
    if (typeof m !== 'object' || m === null) return;
    const r = m as { id?: unknown; method?: unknown; params?: { subscription?: unknown; result?: unknown } };
    if (r.method === 'subscription' && r.params !== undefined) {
      const sub = r.params.subscription;
      if (typeof sub === 'string' || typeof sub === 'number') this.onNotification(String(sub), r.params.result);
      return;
    }
    if (typeof r.id !== 'number') return;
    const p = this.pending.get(r.id);
    if (p === undefined) return;
    this.pending.delete(r.id);
    clearTimeout(p.timer);
    try {
      p.resolve(unwrapResponse(m, p.method));
    } catch (e) {
      p.reject(e as Error);
    }
  }

  private onSocketClose(reason: string): void {
    this.socket = null;
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new TransportError('CLOSED', `the WebSocket to ${this.url} ${reason} before ${p.method} was answered`));
      this.pending.delete(id);
    }
    this.onClose(reason);
  }

  async request(method: string, params: unknown, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    const ws = await this.open();
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TransportError('TIMEOUT', `no answer from ${this.url} to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, method, timer });
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  async close(): Promise<void> {
    const ws = this.socket;
    this.closed = true;
    if (ws === null) return;
    await new Promise<void>((resolve) => {
      ws.addEventListener('close', () => resolve(), { once: true });
      ws.close(1000, 'client closed');
      setTimeout(resolve, 1_000).unref();
    });
  }
}
