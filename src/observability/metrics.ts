// Prometheus metrics (GET /metrics, text exposition format, prom-client).
//
// The hot path pays almost nothing: channel figures (attempts by outcome, hedges started and won, breaker state,
// EWMAs) are plain counters the routing layer keeps anyway (routing/health.ts); they are read only when Prometheus
// scrapes, through collect() callbacks. The one per-request cost is the HTTP counter and latency histogram,
// updated in an onResponse hook through label children cached by route and status.
//
// Metadata only: route templates, status codes, channel and model ids — never a prompt, a key or a user id.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Channel, ChannelTable } from '../routing/channels.ts';
import type { ChannelHealth, ChannelHealthView } from '../routing/health.ts';
import type { BatchStats, LedgerRepo } from '../storage/types.ts';

const STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

export interface Metrics {
  readonly registry: Registry;
  /** Registers the onResponse hook that counts HTTP requests (call on the root instance before routes). */
  instrument(app: FastifyInstance): void;
}

/** Every channel once (a channel may serve several models), with the models it serves. */
function uniqueChannels(table: ChannelTable): Array<{ channel: Channel; models: string[] }> {
  const byId = new Map<string, { channel: Channel; models: string[] }>();
  for (const [model, channels] of table) {
    for (const channel of channels) {
      const entry = byId.get(channel.id);
      if (entry) entry.models.push(model);
      else byId.set(channel.id, { channel, models: [model] });
    }
  }
  return [...byId.values()];
}

export function createMetrics(channels: ChannelTable, health: ChannelHealth, ledger?: LedgerRepo): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchyard_' });
  const served = uniqueChannels(channels);

  const requests = new Counter({
    name: 'switchyard_http_requests_total',
    help: 'HTTP requests answered, by route template, method and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'switchyard_http_request_duration_seconds',
    help: 'Time from the request to the end of the response (a whole stream for SSE), by route template.',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });

  new Counter({
    name: 'switchyard_channel_attempts_total',
    help: 'Upstream attempts per channel by outcome: ok, hedge_cancelled, or the gateway error code of the failure.',
    labelNames: ['channel', 'outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { channel } of served) {
        for (const [outcome, count] of channel.breaker.attempts) this.inc({ channel: channel.id, outcome }, count);
      }
    },
  });
  /** A per-channel counter read from the breaker at scrape time. */
  const channelCounter = (name: string, help: string, value: (channel: Channel) => number): void => {
    new Counter({
      name, help, labelNames: ['channel'] as const, registers: [registry],
      collect() {
        this.reset();
        for (const { channel } of served) this.inc({ channel: channel.id }, value(channel));
      },
    });
  };
  channelCounter('switchyard_channel_hedges_total', 'Hedged requests started because this channel had not produced a byte within the hedge delay.', (c) => c.breaker.hedges);
  channelCounter('switchyard_channel_hedge_wins_total', 'Hedged races this channel won as the hedge (the slow first channel was cancelled, never billed).', (c) => c.breaker.hedgeWins);

  /** A per-channel gauge from the breaker's view at scrape time (null: no sample yet, no series). */
  const channelGauge = (name: string, help: string, value: (view: ChannelHealthView) => number | null, withProvider = false): void => {
    new Gauge({
      name, help, labelNames: withProvider ? (['channel', 'provider'] as const) : (['channel'] as const), registers: [registry],
      collect() {
        this.reset();
        const now = health.now();
        for (const { channel } of served) {
          const v = value(channel.breaker.view(now));
          if (v !== null) this.set(withProvider ? { channel: channel.id, provider: channel.provider.id } : { channel: channel.id }, v);
        }
      },
    });
  };
  channelGauge('switchyard_channel_state', 'Circuit breaker state per channel: 0 closed, 1 half-open, 2 open.', (v) => STATE_VALUE[v.state], true);
  channelGauge('switchyard_channel_error_rate', "Share of failed attempts in the channel's health window (0..1).", (v) => v.errorRate);
  channelGauge('switchyard_channel_latency_ewma_seconds', 'Exponentially weighted moving average of whole-response latency per channel.', (v) => (v.latencyMs === null ? null : v.latencyMs / 1000));
  channelGauge('switchyard_channel_ttfb_ewma_seconds', 'Exponentially weighted moving average of time to first byte (response headers) per channel.', (v) => (v.ttfbMs === null ? null : v.ttfbMs / 1000));

  // PostgreSQL group commit of holds and settles (docs/decisions/0015): read from the batchers at scrape time.
  const batching = ledger?.batching;
  if (batching) {
    const ledgerCounter = (name: string, help: string, value: (s: Readonly<BatchStats>) => number): void => {
      new Counter({
        name, help, labelNames: ['op'] as const, registers: [registry],
        collect() {
          this.reset();
          const now = batching();
          this.inc({ op: 'hold' }, value(now.hold));
          this.inc({ op: 'settle' }, value(now.settle));
        },
      });
    };
    ledgerCounter('switchyard_ledger_batches_total', 'Group-committed ledger calls (many holds or settles in one statement).', (s) => s.batches);
    ledgerCounter('switchyard_ledger_batched_operations_total', 'Holds and settles that went through a group-committed call.', (s) => s.batchedOps);
    ledgerCounter('switchyard_ledger_single_operations_total', 'Holds and settles that went alone (nothing else was waiting).', (s) => s.single);
    ledgerCounter('switchyard_ledger_batch_fallbacks_total', 'Group-committed calls that failed whole and were re-run one operation at a time.', (s) => s.fallbacks);
  }

  type Children = { count: ReturnType<typeof requests.labels>; time: ReturnType<typeof duration.labels> };
  const children = new Map<string, Children>();
  const childrenFor = (route: string, method: string, status: number): Children => {
    const key = `${method} ${route} ${status}`;
    let entry = children.get(key);
    if (!entry) {
      entry = { count: requests.labels(route, method, String(status)), time: duration.labels(route) };
      children.set(key, entry);
    }
    return entry;
  };

  return {
    registry,
    instrument(app: FastifyInstance): void {
      app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
        // Unmatched URLs share one label value: a scanner cannot blow up the series count.
        const route = request.routeOptions.url ?? 'unmatched';
        const entry = childrenFor(route, request.method, reply.statusCode);
        entry.count.inc();
        entry.time.observe(reply.elapsedTime / 1000);
      });
    },
  };
}
