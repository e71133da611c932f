// Failover inside one request, before the client has seen a byte (issue 4, items 2 and 8): every model here has
// two channels, a primary (priority 0) broken in one specific way and a healthy secondary (priority 1, the OpenAI
// mock). For each upstream protocol of the primary (OpenAI-compatible, Anthropic, Gemini) and each failure class
// (connection refused, reset before headers, hang before headers, 408, 409, 429 + Retry-After, 500, 503, 529,
// malformed JSON, a JSON body cut off by a reset, 401, 403) the client's official SDK gets a normal answer,
// `x-switchyard-attempts` lists the primary with its failure then the secondary `ok`, and the user was charged
// once, at the secondary's usage. A 429's Retry-After and a 401/403 outlive the request: the next one skips the
// channel (a 401/403 opens it). The request's own faults (upstream 400/404/422) are passed on after one attempt,
// nothing charged, the channel not blamed. Streams that break before their first token, and after it:
// failover-stream.test.ts; the mocks' faults themselves: failover-mocks.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredits } from '../src/domain/money.ts';
import {
  ask,
  askFails,
  attemptMs,
  attemptsOf,
  channelRow,
  CLIENTS,
  costOf,
  CREDITS,
  expectChargedOnce,
  FIRST_BYTE_MS,
  onlyUsageEvent,
  openAIMockUsage,
  primaryChannel,
  secondaryChannel,
  startFailoverGateway,
  UPSTREAMS,
  type Answer,
  type Break,
  type CaseSpec,
  type FailoverGateway,
  type Upstream,
} from './failover-harness.ts';

interface FailureClass {
  id: string;
  label: string;
  fault: Break;
  /** The primary's outcome in the attempt trail (the catalogue code its failure is classified as). */
  outcome: string;
  /** Only for these upstream protocols (529 is Anthropic's). */
  only?: Upstream;
}

const CLASSES: FailureClass[] = [
  { id: 'refused', label: 'connection refused', fault: 'refused', outcome: 'upstream_error' },
  { id: 'reset', label: 'connection reset before headers', fault: { directives: '#reset' }, outcome: 'upstream_error' },
  { id: 'hang', label: 'no headers before the first-byte deadline', fault: { directives: '#hang' }, outcome: 'upstream_timeout' },
  { id: '408', label: '408', fault: { status: 408 }, outcome: 'upstream_error' },
  { id: '409', label: '409', fault: { status: 409 }, outcome: 'upstream_error' },
  { id: '429', label: '429 with Retry-After (the channel is skipped until then)', fault: { status: 429, retryAfter: 30 }, outcome: 'upstream_rate_limited' },
  { id: '500', label: '500', fault: { status: 500 }, outcome: 'upstream_error' },
  { id: '503', label: '503', fault: { status: 503 }, outcome: 'upstream_error' },
  { id: '529', label: '529 overloaded', fault: { status: 529 }, outcome: 'upstream_error', only: 'anthropic' },
  { id: 'badjson', label: 'a 200 whose JSON body is malformed', fault: { directives: '#badjson' }, outcome: 'upstream_bad_response' },
  { id: 'cutjson', label: 'a 200 whose JSON body is cut off by a reset', fault: { directives: '#cut:1' }, outcome: 'upstream_error' },
  { id: '401', label: '401 (the channel key is refused: it opens)', fault: { status: 401 }, outcome: 'upstream_auth_failed' },
  { id: '403', label: '403 (the channel is not allowed: it opens)', fault: { status: 403 }, outcome: 'upstream_auth_failed' },
];

const REPLY = 'Switched to the secondary';
const PROMPT = `#reply:${REPLY}`;

/** Each class × upstream, through the OpenAI chat client, not streamed. */
const grid = UPSTREAMS.flatMap((upstream) =>
  CLASSES.filter((c) => !c.only || c.only === upstream).map((c) => ({
    upstream,
    cls: c,
    spec: { model: `fo-${upstream}-${c.id}`, primary: { upstream, break: c.fault } } satisfies CaseSpec,
  })),
);
/** A 503 before the headers, seen by each client protocol, streamed. */
const streamed = UPSTREAMS.flatMap((upstream) =>
  CLIENTS.map((client) => ({ upstream, client, spec: { model: `fo-${upstream}-503-stream-${client}`, primary: { upstream, break: { status: 503 } } } satisfies CaseSpec })),
);
/** A malformed JSON body, seen by the two other client protocols (the Anthropic one is a pass-through to Anthropic). */
const malformed = UPSTREAMS.flatMap((upstream) =>
  (['messages', 'responses'] as const).map((client) => ({
    upstream,
    client,
    spec: { model: `fo-${upstream}-badjson-${client}`, primary: { upstream, break: { directives: '#badjson' } } } satisfies CaseSpec,
  })),
);
/** The request's own faults: passed on, never retried. */
const rejected = UPSTREAMS.flatMap((upstream) =>
  [400, 404, 422].map((status) => ({ upstream, status, spec: { model: `fo-${upstream}-${status}-rejected`, primary: { upstream, break: { status } } } satisfies CaseSpec })),
);

let g: FailoverGateway;
beforeAll(async () => {
  g = await startFailoverGateway([...grid, ...streamed, ...malformed, ...rejected].map((c) => c.spec));
});
afterAll(async () => {
  await g?.close();
});

/**
 * The answer came from the secondary after the primary failed with `outcome`; the usage the client saw, the usage
 * event and the ledger all carry the secondary's usage, charged once.
 */
async function expectSwitched(spec: CaseSpec, answer: Answer, outcome: string, userId: string): Promise<void> {
  expect(answer.text).toBe(REPLY);
  const header = answer.headers.get('x-switchyard-attempts');
  expect(attemptsOf(header)).toEqual([
    [primaryChannel(spec), outcome],
    [secondaryChannel(spec), 'ok'],
  ]);
  const sent = g.secondaryHits(spec);
  expect(sent).toHaveLength(1);
  const usage = openAIMockUsage(sent[0]?.body, REPLY);
  expect({ input: answer.inputTokens, output: answer.outputTokens }).toEqual(usage);

  const event = await onlyUsageEvent(g.t, userId);
  expect(event).toMatchObject({ status: 'ok', channel: secondaryChannel(spec), error_code: null, attempts: header });
  expect(event.tokens).toMatchObject({ input: usage.input, cached_input: 0, cache_write: 0, output: usage.output });
  const cost = costOf(usage.input, usage.output);
  expect(parseCredits(event.cost_credits)).toBe(cost);
  await expectChargedOnce(g.t, userId, cost);
}

describe('a broken primary fails over to the secondary before the first byte (OpenAI chat client)', () => {
  for (const { upstream, cls, spec } of grid) {
    it(`${upstream} primary: ${cls.label} → ${cls.outcome}, then the secondary answers`, async () => {
      const { key, userId } = await g.t.newUser(CREDITS);
      const answer = await ask(g.t, key, 'chat', spec.model, PROMPT, false);
      await expectSwitched(spec, answer, cls.outcome, userId);
      // The broken upstream was asked exactly once (nothing listens when the connection is refused).
      expect(g.brokenHits(upstream, spec.model)).toBe(cls.fault === 'refused' ? 0 : 1);
      if (cls.id === 'hang') expect(attemptMs(answer.headers.get('x-switchyard-attempts'), 0)).toBeGreaterThanOrEqual(FIRST_BYTE_MS - 50);
      if (['429', '401', '403'].includes(cls.id)) await expectSkippedNext(upstream, cls, spec);
    });
  }
});

/** A Retry-After or an auth failure outlives the request: the channel is skipped by the next one. */
async function expectSkippedNext(upstream: Upstream, cls: FailureClass, spec: CaseSpec): Promise<void> {
  const row = await channelRow(g.t, primaryChannel(spec));
  if (cls.id === '429') {
    // Retry-After: 30 s → the channel is skipped until then, without opening its breaker.
    expect(row.state).toBe('closed');
    expect(Date.parse(row.retry_after_until ?? '')).toBeGreaterThan(Date.now() + 20_000);
  } else {
    // 401/403: the channel is misconfigured → unhealthy (open) at once.
    expect(row).toMatchObject({ state: 'open', open_reason: 'auth_failed', last_error: 'upstream_auth_failed' });
  }
  const { key, userId } = await g.t.newUser(CREDITS);
  const answer = await ask(g.t, key, 'chat', spec.model, PROMPT, false);
  expect(answer.text).toBe(REPLY);
  expect(attemptsOf(answer.headers.get('x-switchyard-attempts'))).toEqual([[secondaryChannel(spec), 'ok']]);
  expect(g.brokenHits(upstream, spec.model)).toBe(1);
  const event = await onlyUsageEvent(g.t, userId);
  expect(event.channel).toBe(secondaryChannel(spec));
  await expectChargedOnce(g.t, userId, parseCredits(event.cost_credits) ?? -1n);
}

describe('every client protocol sees the switch', () => {
  for (const { upstream, client, spec } of streamed) {
    it(`${client} client, streamed: the ${upstream} primary answers 503 → the secondary streams the answer`, async () => {
      const { key, userId } = await g.t.newUser(CREDITS);
      const answer = await ask(g.t, key, client, spec.model, PROMPT, true);
      await expectSwitched(spec, answer, 'upstream_error', userId);
      expect(g.brokenHits(upstream, spec.model)).toBe(1);
    });
  }

  for (const { upstream, client, spec } of malformed) {
    it(`${client} client: the ${upstream} primary sends malformed JSON → the secondary answers`, async () => {
      const { key, userId } = await g.t.newUser(CREDITS);
      const answer = await ask(g.t, key, client, spec.model, PROMPT, false);
      await expectSwitched(spec, answer, 'upstream_bad_response', userId);
      expect(g.brokenHits(upstream, spec.model)).toBe(1);
    });
  }
});

describe('the request’s own faults are returned, not retried', () => {
  for (const { upstream, status, spec } of rejected) {
    it(`the ${upstream} primary answers ${status} → the client gets ${status} after one attempt, nothing charged`, async () => {
      const { key, userId } = await g.t.newUser(CREDITS);
      const failed = await askFails(g.t, key, 'chat', spec.model, PROMPT, false);
      expect(failed.status).toBe(status);
      const header = failed.headers.get('x-switchyard-attempts');
      expect(attemptsOf(header)).toEqual([[primaryChannel(spec), 'upstream_rejected']]);
      expect(g.brokenHits(upstream, spec.model)).toBe(1);
      expect(g.secondaryHits(spec)).toHaveLength(0);

      const event = await onlyUsageEvent(g.t, userId);
      expect(event).toMatchObject({ status: 'error', http_status: status, error_code: 'upstream_rejected', attempts: header });
      expect(parseCredits(event.cost_credits)).toBe(0n);
      await expectChargedOnce(g.t, userId, 0n);
      // Not the channel's fault: its health is untouched.
      expect(await channelRow(g.t, primaryChannel(spec))).toMatchObject({ state: 'closed', consecutive_failures: 0, failures_in_window: 0, last_error: null });
    });
  }
});
