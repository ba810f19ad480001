// Prometheus metrics of the node (prom-client), one registry per Node so two nodes in one process do not collide.
// Names follow autochain_<module>_<name>_<unit>; time in seconds.
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';

export interface MempoolGaugeSource {
  readonly size: number;
  readonly bytes: number;
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly height: Gauge;
  readonly blockInterval: Histogram;
  readonly blockBuild: Histogram;
  readonly blockTxs: Histogram;
  readonly txsCommitted: Counter<'code'>;
  readonly mempoolAdmitted: Counter;
  readonly mempoolRefused: Counter<'reason'>;
  readonly rpcRequests: Counter<'method' | 'transport'>;
  readonly rpcErrors: Counter<'method' | 'code'>;
  readonly rpcConnections: Gauge<'transport'>;
  readonly rpcSubscriptions: Gauge;

  constructor(mempool: () => MempoolGaugeSource, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'autochain_process_' });
    this.height = new Gauge({ name: 'autochain_chain_height_blocks', help: 'Last committed height', registers });
    this.blockInterval = new Histogram({
      name: 'autochain_chain_block_interval_seconds',
      help: 'Time between consecutive committed blocks (wall clock)',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
    this.blockBuild = new Histogram({
      name: 'autochain_chain_block_build_seconds',
      help: 'Time to execute, prepare the state root of, sign and write one block',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers,
    });
    this.blockTxs = new Histogram({
      name: 'autochain_chain_block_txs_count',
      help: 'Txs per committed block',
      buckets: [0, 1, 10, 100, 500, 1000, 2500, 5000, 10000],
      registers,
    });
    this.txsCommitted = new Counter({
      name: 'autochain_chain_txs_committed_total',
      help: 'Committed txs by receipt code',
      labelNames: ['code'],
      registers,
    });
    this.mempoolAdmitted = new Counter({
      name: 'autochain_mempool_admitted_total',
      help: 'Txs admitted to the mempool',
      registers,
    });
    this.mempoolRefused = new Counter({
      name: 'autochain_mempool_refused_total',
      help: 'Txs refused by the mempool, by reason',
      labelNames: ['reason'],
      registers,
    });
    new Gauge({
      name: 'autochain_mempool_size_txs',
      help: 'Txs waiting in the mempool',
      registers,
      collect() {
        this.set(mempool().size);
      },
    });
    new Gauge({
      name: 'autochain_mempool_size_bytes',
      help: 'Bytes of txs waiting in the mempool',
      registers,
      collect() {
        this.set(mempool().bytes);
      },
    });
    this.rpcRequests = new Counter({
      name: 'autochain_rpc_requests_total',
      help: 'JSON-RPC requests by method',
      labelNames: ['method', 'transport'],
      registers,
    });
    this.rpcErrors = new Counter({
      name: 'autochain_rpc_errors_total',
      help: 'JSON-RPC error answers by method and code',
      labelNames: ['method', 'code'],
      registers,
    });
    this.rpcConnections = new Gauge({
      name: 'autochain_rpc_connections_count',
      help: 'Open RPC connections',
      labelNames: ['transport'],
      registers,
    });
    this.rpcSubscriptions = new Gauge({
      name: 'autochain_rpc_subscriptions_count',
      help: 'Live WebSocket subscriptions',
      registers,
    });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
