// One WebSocket subscription: notifications are delivered to a callback or read with `for await`, through a
// bounded queue (a reader that falls behind by more than maxQueued notifications gets an error, not unbounded memory).
import type { SubscriptionTopic } from '../rpc/api.js';
import { ClientError } from './errors.js';

export const MAX_QUEUED_NOTIFICATIONS = 10_000;

export class Subscription<T> implements AsyncIterable<T> {
  private readonly queue: T[] = [];
  private readonly waiters: { resolve(r: IteratorResult<T>): void; reject(e: Error): void }[] = [];
  private done = false;
  private error: Error | null = null;

  constructor(
    readonly id: string,
    readonly topic: SubscriptionTopic,
    private readonly unsubscribe: () => Promise<void>,
    private readonly onMessage?: (m: T) => void,
    private readonly maxQueued = MAX_QUEUED_NOTIFICATIONS,
  ) {}

  /** Called by the client for each notification of this subscription. */
  push(message: unknown): void {
    if (this.done) return;
    const m = message as T;
    if (this.onMessage !== undefined) {
      this.onMessage(m);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve({ value: m, done: false });
      return;
    }
    if (this.queue.length >= this.maxQueued) {
      this.fail(
        new ClientError(
          'SUBSCRIPTION_OVERFLOW',
          `subscription ${this.id} fell ${this.maxQueued} notifications behind; read faster or filter`,
        ),
      );
      void this.unsubscribe();
      return;
    }
    this.queue.push(m);
  }

  /** Ends the subscription with an error (connection lost, overflow): readers get it after the queued messages. */
  fail(error: Error): void {
    if (this.done) return;
    this.error = error;
    this.done = true;
    for (const w of this.waiters.splice(0)) w.reject(error);
  }

  /** Ends the subscription quietly (readers finish after the queued messages). */
  end(): void {
    if (this.done) return;
    this.done = true;
    for (const w of this.waiters.splice(0)) w.resolve({ value: undefined, done: true });
  }

  /** Unsubscribes at the node and ends the iteration. */
  async close(): Promise<void> {
    if (this.done && this.error === null) return;
    this.end();
    await this.unsubscribe();
  }

  /** The next notification (for tests and simple loops); rejects when the subscription ended. */
  async next(): Promise<T> {
    const r = await this.read();
    if (r.done) throw new ClientError('SUBSCRIPTION_ENDED', `subscription ${this.id} has ended`);
    return r.value;
  }

  private read(): Promise<IteratorResult<T>> {
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve({ value: m, done: false });
    if (this.error !== null) return Promise.reject(this.error);
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.read(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }
}
