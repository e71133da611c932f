// The channel breaker's state machine (routing/health.ts) on a fake clock, and plan's use of it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HEALTH, loadConfig } from '../src/config/index.ts';
import { GatewayError } from '../src/domain/errors.ts';
import type { Channel } from '../src/routing/channels.ts';
import { healthOutcome } from '../src/routing/dispatch.ts';
import { SEND, SKIP, ChannelHealth, type HealthEvent, type HealthOutcome } from '../src/routing/health.ts';
import { parseHealthMessage } from '../src/routing/health-redis.ts';
import { plan } from '../src/routing/plan.ts';

const FAIL: HealthOutcome = { ok: false, blame: true, code: 'upstream_error' };
const OK: HealthOutcome = { ok: true, ttfbMs: 100 };

function setup(config: Partial<typeof DEFAULT_HEALTH> = {}) {
  const clock = { t: 1_700_000_000_000 };
  const events: HealthEvent[] = [];
  const health = new ChannelHealth(config, { now: () => clock.t });
  health.onEvent((e) => events.push(e));
  const b = health.breaker('p/m');
  return { clock, events, health, b, tick: (ms: number) => (clock.t += ms) };
}

describe('breaker: opening', () => {
  it('opens after 5 blamed failures in a row, not 4; a success in between starts the count again', () => {
    const { b, events } = setup();
    for (let i = 0; i < 4; i++) b.record(FAIL);
    b.record(OK);
    for (let i = 0; i < 4; i++) b.record(FAIL);
    expect(b.state()).toBe('closed');
    expect(b.view().consecutiveFailures).toBe(4);
    b.record(FAIL);
    expect(b.state()).toBe('open');
    expect(b.available()).toBe(false);
    expect(b.view()).toMatchObject({ openReason: 'consecutive_failures', cooldownMs: 5_000 });
    expect(events).toEqual([{ type: 'open', channel: 'p/m', remainingMs: 5_000, cooldownMs: 5_000, reason: 'consecutive_failures' }]);
  });

  it('opens on an error rate ≥ 50 % once the window holds 20 requests', () => {
    const { b, tick } = setup();
    // ok, fail, ok, fail …: never two failures in a row, half of them failures.
    for (let i = 0; i < 19; i++) {
      b.record(i % 2 === 0 ? OK : FAIL);
      tick(100);
    }
    expect(b.view()).toMatchObject({ state: 'closed', requestsInWindow: 19, failuresInWindow: 9 });
    b.record(FAIL); // 20 requests, 10 failures
    expect(b.view()).toMatchObject({ state: 'open', openReason: 'error_rate' });
  });

  it('forgets failures that have left the 60 s window', () => {
    const { b, tick } = setup({ consecutiveFailures: 1000 });
    for (let i = 0; i < 10; i++) b.record(FAIL);
    tick(61_000);
    for (let i = 0; i < 10; i++) b.record(OK);
    b.record(FAIL);
    expect(b.view()).toMatchObject({ state: 'closed', requestsInWindow: 11, failuresInWindow: 1 });
    expect(b.view().errorRate).toBeCloseTo(1 / 11);
  });

  it('does not count failures that are not the channel’s fault (a client’s 400)', () => {
    const { b } = setup();
    const rejected = healthOutcome(new GatewayError('upstream_rejected', 'bad request', { status: 400 }));
    expect(rejected.blame).toBe(false);
    for (let i = 0; i < 50; i++) b.record(rejected);
    expect(b.view()).toMatchObject({ state: 'closed', consecutiveFailures: 0, requestsInWindow: 0, lastError: null });
  });

  it('opens at once on an upstream auth failure (401/403), for the auth cooldown', () => {
    const { b, events } = setup();
    const outcome = healthOutcome(new GatewayError('upstream_auth_failed', 'refused'));
    expect(outcome).toMatchObject({ blame: true, authFailure: true });
    b.record(outcome);
    expect(b.view()).toMatchObject({ state: 'open', openReason: 'auth_failed', cooldownMs: 60_000, lastError: 'upstream_auth_failed' });
    expect(events[0]).toMatchObject({ type: 'open', reason: 'auth_failed', remainingMs: 60_000 });
  });
});

describe('breaker: cooldown and the half-open probe', () => {
  function opened(config: Partial<typeof DEFAULT_HEALTH> = {}) {
    const s = setup(config);
    for (let i = 0; i < 5; i++) s.b.record(FAIL);
    return s;
  }

  it('stays open for the cooldown, then lets exactly one probe through', () => {
    const { b, tick } = opened();
    tick(4_999);
    expect(b.available()).toBe(false);
    expect(b.admit(false)).toBe(SKIP);
    tick(1);
    expect(b.state()).toBe('half_open');
    expect(b.available()).toBe(true);
    const probe = b.admit(false);
    expect(probe).toBeGreaterThan(0);
    // Others skip it while the probe is out.
    expect(b.available()).toBe(false);
    expect(b.admit(false)).toBe(SKIP);
    expect(b.view().probeInFlight).toBe(true);
  });

  it('closes when the probe succeeds (cooldown back to its base, counters fresh)', () => {
    const { b, tick, events } = opened();
    tick(5_000);
    const probe = b.admit(false);
    b.record(OK, probe);
    expect(b.view()).toMatchObject({ state: 'closed', cooldownMs: 5_000, consecutiveFailures: 0, requestsInWindow: 1, failuresInWindow: 0 });
    expect(b.admit(false)).toBe(SEND);
    expect(events.map((e) => e.type)).toEqual(['open', 'close']);
  });

  it('re-opens when the probe fails, the cooldown doubling up to 60 s', () => {
    const { b, tick, events } = opened();
    const cooldowns: number[] = [];
    for (let round = 0; round < 6; round++) {
      tick(b.view().cooldownMs);
      const probe = b.admit(false);
      expect(probe).toBeGreaterThan(0);
      b.record(FAIL, probe);
      expect(b.state()).toBe('open');
      cooldowns.push(b.view().cooldownMs);
    }
    expect(cooldowns).toEqual([10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
    expect(events.filter((e) => e.type === 'open').map((e) => (e.type === 'open' ? e.reason : ''))).toEqual(['consecutive_failures', ...Array<string>(6).fill('probe_failed')]);
  });

  it('frees the probe when its request ended without a verdict (the client left)', () => {
    const { b, tick } = opened();
    tick(5_000);
    const probe = b.admit(false);
    expect(b.available()).toBe(false);
    b.release(probe);
    expect(b.available()).toBe(true);
    expect(b.admit(false)).toBeGreaterThan(probe);
  });

  it('does not let a lost probe block the channel forever (lease)', () => {
    const clock = { t: 0 };
    const health = new ChannelHealth({}, { now: () => clock.t, probeLeaseMs: 30_000 });
    const b = health.breaker('x');
    for (let i = 0; i < 5; i++) b.record(FAIL);
    clock.t += 5_000;
    b.admit(false);
    clock.t += 29_999;
    expect(b.available()).toBe(false);
    clock.t += 1;
    expect(b.available()).toBe(true);
  });

  it('a forced attempt (nothing else to try) goes through an open breaker: success closes, failure changes nothing', () => {
    const { b, tick } = opened();
    tick(1_000);
    expect(b.admit(false)).toBe(SKIP);
    const forced = b.admit(true);
    expect(forced).toBe(SEND);
    b.record(FAIL, forced);
    expect(b.view()).toMatchObject({ state: 'open', cooldownMs: 5_000, openUntil: 1_700_000_000_000 + 5_000 });
    b.record(OK, b.admit(true));
    expect(b.state()).toBe('closed');
  });
});

describe('breaker: Retry-After, latencies, remote events', () => {
  it('skips the channel until Retry-After has passed (capped), without opening the breaker', () => {
    const { b, tick, events } = setup();
    const limited = healthOutcome(new GatewayError('upstream_rate_limited', 'slow down', { retryAfter: 3 }));
    expect(limited.retryAfterS).toBe(3);
    b.record(limited);
    expect(b.state()).toBe('closed');
    expect(b.available()).toBe(false);
    expect(b.admit(false)).toBe(SKIP);
    expect(b.view().retryAfterUntil).toBe(1_700_000_000_000 + 3_000);
    tick(3_000);
    expect(b.available()).toBe(true);
    expect(events).toEqual([{ type: 'retry_after', channel: 'p/m', remainingMs: 3_000 }]);
    b.record({ ...FAIL, retryAfterS: 86_400 });
    expect(b.view().retryAfterUntil).toBe(1_700_000_000_000 + 3_000 + DEFAULT_HEALTH.maxRetryAfterMs);
  });

  it('keeps EWMAs (alpha 0.2) of time to first byte and of total latency', () => {
    const { b } = setup();
    expect(b.view()).toMatchObject({ latencyMs: null, ttfbMs: null });
    b.record({ ok: true, ttfbMs: 100 });
    b.record({ ok: true, ttfbMs: 200 });
    b.recordLatency(1_000);
    b.recordLatency(500);
    expect(b.view().ttfbMs).toBeCloseTo(120);
    expect(b.view().latencyMs).toBeCloseTo(900);
  });

  it('turns a success into a failure when the body broke midway', () => {
    const { b } = setup();
    b.record(OK);
    b.record({ ...FAIL, midStream: true });
    expect(b.view()).toMatchObject({ requestsInWindow: 1, failuresInWindow: 1, consecutiveFailures: 1 });
  });

  it('applies another replica’s open, close and Retry-After without echoing them', () => {
    const { health, b, tick, events } = setup();
    health.applyRemote({ type: 'open', channel: 'p/m', remainingMs: 2_000, cooldownMs: 20_000, reason: 'error_rate' });
    health.applyRemote({ type: 'open', channel: 'unknown/channel', remainingMs: 2_000, cooldownMs: 20_000, reason: 'x' });
    expect(b.view()).toMatchObject({ state: 'open', cooldownMs: 20_000, openReason: 'error_rate' });
    tick(2_000);
    expect(b.state()).toBe('half_open');
    // The next failed probe doubles the shared cooldown.
    b.record(FAIL, b.admit(false));
    expect(b.view().cooldownMs).toBe(40_000);
    health.applyRemote({ type: 'close', channel: 'p/m' });
    expect(b.state()).toBe('closed');
    health.applyRemote({ type: 'retry_after', channel: 'p/m', remainingMs: 1_000 });
    expect(b.available()).toBe(false);
    expect(events.map((e) => e.type)).toEqual(['open']); // only the local probe failure
  });

  it('parses only well-formed wire messages', () => {
    expect(parseHealthMessage('{"v":1,"o":"a","t":"open","c":"p/m","ms":5000,"cd":5000,"r":"auth_failed"}')).toEqual({
      origin: 'a',
      event: { type: 'open', channel: 'p/m', remainingMs: 5000, cooldownMs: 5000, reason: 'auth_failed' },
    });
    expect(parseHealthMessage('{"v":1,"o":"a","t":"close","c":"p/m"}')?.event).toEqual({ type: 'close', channel: 'p/m' });
    for (const bad of ['nope', 'null', '{"v":2,"o":"a","t":"close","c":"p"}', '{"v":1,"o":"a","t":"open","c":"p","ms":-1,"cd":1}', '{"v":1,"o":"a","t":"open","c":"p","ms":1}']) {
      expect(parseHealthMessage(bad)).toBeUndefined();
    }
  });
});

describe('plan with health', () => {
  const health = new ChannelHealth();
  const channel = (id: string, priority: number): Channel => ({ id, priority, weight: 1, breaker: health.breaker(id) }) as Channel;
  const a = channel('a/m', 0);
  const b = channel('b/m', 1);

  it('skips an unavailable channel, and tries all in order when none is available', () => {
    expect(plan([b, a]).map((c) => c.id)).toEqual(['a/m', 'b/m']);
    for (let i = 0; i < 5; i++) a.breaker.record(FAIL);
    expect(plan([b, a]).map((c) => c.id)).toEqual(['b/m']);
    b.breaker.record(healthOutcome(new GatewayError('upstream_auth_failed', 'refused')));
    expect(plan([b, a]).map((c) => c.id)).toEqual(['a/m', 'b/m']);
  });
});

describe('health settings in switchyard.yaml', () => {
  const load = (yamlText: string) => loadConfig({ env: { SWITCHYARD_DATA_DIR: mkdtempSync(join(tmpdir(), 'sy-health-')) }, yamlText });

  it('defaults, and overrides field by field', () => {
    expect(load('providers: []').health).toEqual(DEFAULT_HEALTH);
    expect(load('health: { consecutive_failures: 3, cooldown_ms: 1000, max_cooldown_ms: 8000 }').health).toEqual({
      ...DEFAULT_HEALTH,
      consecutiveFailures: 3,
      cooldownMs: 1_000,
      maxCooldownMs: 8_000,
      authCooldownMs: 8_000,
    });
  });

  it('refuses nonsense, naming the field', () => {
    expect(() => load('health: { error_rate: 1.5 }')).toThrow(/health\.error_rate/);
    expect(() => load('health: { cooldown_ms: 10000, max_cooldown_ms: 5000 }')).toThrow(/health\.cooldown_ms: 10000 is longer than health\.max_cooldown_ms/);
    expect(() => load('health: { breaker: true }')).toThrow(/health/);
  });
});
