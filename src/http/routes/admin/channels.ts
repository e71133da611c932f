// GET /admin/v1/channels — every configured channel with its health: breaker state, error rate over the window,
// latency and time-to-first-byte EWMAs (routing/health.ts). Registered inside the admin scope (token checked).
import type { FastifyInstance } from 'fastify';
import type { Channel } from '../../../routing/channels.ts';
import type { AppDeps } from '../../context.ts';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const tenths = (ms: number | null): number | null => (ms === null ? null : Math.round(ms * 10) / 10);

export function channelRoutes(admin: FastifyInstance, deps: AppDeps): void {
  // Channel id → the channel and the public models it serves (a channel id may serve several models).
  const served = new Map<string, { channel: Channel; models: string[] }>();
  for (const [model, channels] of deps.channels) {
    for (const channel of channels) {
      const entry = served.get(channel.id);
      if (entry) entry.models.push(model);
      else served.set(channel.id, { channel, models: [model] });
    }
  }

  admin.get('/channels', async () => {
    const now = deps.health.now();
    const data = [...served.values()].map(({ channel, models }) => {
      const h = channel.breaker.view(now);
      return {
        id: channel.id,
        provider: channel.provider.id,
        provider_type: channel.provider.type,
        upstream_model: channel.upstreamModel,
        models,
        priority: channel.priority,
        weight: channel.weight,
        state: h.state,
        open_until: iso(h.openUntil),
        open_reason: h.openReason,
        cooldown_ms: h.cooldownMs,
        probe_in_flight: h.probeInFlight,
        consecutive_failures: h.consecutiveFailures,
        error_rate: Math.round(h.errorRate * 10_000) / 10_000,
        requests_in_window: h.requestsInWindow,
        failures_in_window: h.failuresInWindow,
        latency_ewma_ms: tenths(h.latencyMs),
        ttfb_ewma_ms: tenths(h.ttfbMs),
        retry_after_until: iso(h.retryAfterUntil),
        last_error: h.lastError,
        last_error_at: iso(h.lastErrorAt),
        hedges: h.hedges,
        hedge_wins: h.hedgeWins,
      };
    });
    const sharing = deps.health.sharing();
    return { object: 'list', window_ms: deps.health.config.windowMs, sharing: { backend: sharing.backend, connected: sharing.connected }, data };
  });
}
