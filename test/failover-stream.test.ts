// Streams and failover (issue 4, items 2, 6 and 8), for each upstream protocol of the broken primary and each
// client protocol (OpenAI chat, OpenAI Responses, Anthropic Messages):
// - a stream that ends (cleanly, or by a reset) before its first content token fails over to the secondary:
//   the client sees only the secondary's stream, charged once at the secondary's usage;
// - when every channel's stream ends before its first token, the client gets a plain error and pays nothing;
// - after the first byte there is no failover: a hang mid-stream (idle timeout), a reset mid-body, a truncated
//   SSE stream or an error event mid-stream ends the client's stream with an explicit error in its own protocol
//   (chat: a final chunk with `error`, then `data: [DONE]`; Messages: `event: error`; Responses:
//   `response.failed` then `error`), and billing follows docs/billing.md: only the output delivered is charged.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredits } from '../src/domain/money.ts';
import {
  ask,
  askFails,
  attemptsOf,
  CLIENTS,
  costOf,
  countedOutput,
  CREDITS,
  deliveredText,
  expectChargedOnce,
  json,
  onlyUsageEvent,
  openAIMockUsage,
  pieces,
  primaryChannel,
  rawStream,
  secondaryChannel,
  startFailoverGateway,
  UPSTREAMS,
  type CaseSpec,
  type ClientProtocol,
  type FailoverGateway,
  type SseEvent,
  type Upstream,
} from './failover-harness.ts';

const REPLY = 'Switched to the secondary';

// The primary's stream stops before its first content token. Counting as the mocks do: OpenAI sends its role
// frame first; Anthropic message_start, content_block_start and ping; Gemini's first chunk already has text.
const BEFORE_FIRST_TOKEN: Record<'clean end' | 'reset', { faults: Record<Upstream, string>; outcome: string }> = {
  'clean end': { faults: { openai: '#truncate:0', anthropic: '#truncate:2', gemini: '#truncate:0' }, outcome: 'upstream_bad_response' },
  reset: { faults: { openai: '#cut:0', anthropic: '#cut:2', gemini: '#cut:0' }, outcome: 'upstream_error' },
};

// The primary's stream breaks after some content: three words (`w1 w2 w3`), or one before an error event.
const AFTER_FIRST_BYTE: Record<string, { faults: Record<Upstream, string>; code: string; delivered: string }> = {
  'hang mid-stream (idle timeout)': { faults: { openai: '#stall:3', anthropic: '#stall:5', gemini: '#stall:3' }, code: 'upstream_timeout', delivered: 'w1 w2 w3' },
  'reset mid-body': { faults: { openai: '#cut:3', anthropic: '#cut:5', gemini: '#cut:3' }, code: 'upstream_error', delivered: 'w1 w2 w3' },
  'truncated SSE (the body ends cleanly, unfinished)': {
    faults: { openai: '#truncate:3', anthropic: '#truncate:5', gemini: '#truncate:3' },
    code: 'upstream_bad_response',
    delivered: 'w1 w2 w3',
  },
  'an error event mid-stream': { faults: { openai: '#error_event', anthropic: '#error_event', gemini: '#error_event' }, code: 'upstream_error', delivered: 'w1' },
};

const slug = (s: string): string => s.replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '');

const beforeFirstToken = Object.entries(BEFORE_FIRST_TOKEN).flatMap(([how, { faults, outcome }]) =>
  UPSTREAMS.flatMap((upstream) =>
    CLIENTS.map((client) => ({
      title: `${client} client: the ${upstream} primary's stream ends before its first token (${how}) → ${outcome}, the secondary streams the answer`,
      client,
      upstream,
      outcome,
      spec: { model: `fs-${upstream}-early-${slug(how)}-${client}`, primary: { upstream, break: { directives: faults[upstream] } } } satisfies CaseSpec,
    })),
  ),
);

const nothingDelivered = CLIENTS.map((client) => ({
  client,
  spec: {
    model: `fs-nothing-${client}`,
    primary: { upstream: 'anthropic', break: { directives: '#truncate:2' } },
    secondary: { upstream: 'gemini', break: { directives: '#truncate:0' } },
  } satisfies CaseSpec,
}));

const afterFirstByte = Object.entries(AFTER_FIRST_BYTE).flatMap(([what, fault]) =>
  UPSTREAMS.flatMap((upstream) =>
    CLIENTS.map((client) => ({
      title: `${client} client: ${what} from the ${upstream} primary → an explicit ${fault.code} error, only the delivered output billed`,
      client,
      upstream,
      fault,
      spec: { model: `fs-${upstream}-late-${slug(what)}-${client}`, primary: { upstream, break: { directives: fault.faults[upstream] } } } satisfies CaseSpec,
    })),
  ),
);

const sdkSurfaces = CLIENTS.map((client) => ({
  client,
  spec: { model: `fs-sdk-${client}`, primary: { upstream: 'openai', break: { directives: '#cut:3' } } } satisfies CaseSpec,
}));

let g: FailoverGateway;
beforeAll(async () => {
  g = await startFailoverGateway([...beforeFirstToken, ...nothingDelivered, ...afterFirstByte, ...sdkSurfaces].map((c) => c.spec));
});
afterAll(async () => {
  await g?.close();
});

describe('a stream that ends before its first content token fails over', () => {
  for (const { title, client, upstream, outcome, spec } of beforeFirstToken) {
    it(title, async () => {
      const { key, userId } = await g.t.newUser(CREDITS);
      const answer = await ask(g.t, key, client, spec.model, `#reply:${REPLY}`, true);
      expect(answer.text).toBe(REPLY);
      const header = answer.headers.get('x-switchyard-attempts');
      expect(attemptsOf(header)).toEqual([
        [primaryChannel(spec), outcome],
        [secondaryChannel(spec), 'ok'],
      ]);
      expect(g.brokenHits(upstream, spec.model)).toBe(1);
      const sent = g.secondaryHits(spec);
      expect(sent).toHaveLength(1);
      const usage = openAIMockUsage(sent[0]?.body, REPLY);
      expect({ input: answer.inputTokens, output: answer.outputTokens }).toEqual(usage);

      const event = await onlyUsageEvent(g.t, userId);
      expect(event).toMatchObject({ status: 'ok', channel: secondaryChannel(spec), attempts: header });
      expect(event.tokens).toMatchObject({ input: usage.input, output: usage.output });
      const cost = costOf(usage.input, usage.output);
      expect(parseCredits(event.cost_credits)).toBe(cost);
      await expectChargedOnce(g.t, userId, cost);
    });
  }
});

describe('when every channel’s stream ends before its first token', () => {
  for (const { client, spec } of nothingDelivered) {
    it(`${client} client: a plain 502 error (not a stream), both attempts listed, nothing charged`, async () => {
      const { key, userId } = await g.t.newUser(CREDITS);
      const failed = await askFails(g.t, key, client, spec.model, `#reply:${REPLY}`, true);
      expect(failed.status).toBe(502);
      const header = failed.headers.get('x-switchyard-attempts');
      expect(attemptsOf(header)).toEqual([
        [primaryChannel(spec), 'upstream_bad_response'],
        [secondaryChannel(spec), 'upstream_bad_response'],
      ]);
      const event = await onlyUsageEvent(g.t, userId);
      expect(event).toMatchObject({ status: 'error', http_status: 502, attempts: header });
      expect(event.tokens.output).toBe(0);
      expect(parseCredits(event.cost_credits)).toBe(0n);
      await expectChargedOnce(g.t, userId, 0n);
    });
  }
});

const ANTHROPIC_ERROR_TYPES = ['invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error', 'rate_limit_error', 'api_error', 'overloaded_error', 'timeout_error'];

/** The stream ends with the explicit error of the client's protocol, never a silent truncation. */
function expectExplicitError(client: ClientProtocol, events: readonly SseEvent[], code: string): void {
  const last = events.at(-1);
  const beforeLast = events.at(-2);
  if (client === 'chat') {
    expect(last?.data).toBe('[DONE]');
    expect(events.filter((e) => e.data === '[DONE]')).toHaveLength(1);
    const error = json(beforeLast?.data ?? '{}').error;
    expect(error).toMatchObject({ code, type: expect.any(String), message: expect.any(String) });
    // Never a normal end: no finish_reason was sent.
    const finished = events.filter((e) => e.data.includes('"finish_reason":"stop"'));
    expect(finished).toHaveLength(0);
  } else if (client === 'messages') {
    expect(events[0]?.event).toBe('message_start');
    expect(last?.event).toBe('error');
    const body = json(last?.data ?? '{}');
    expect(body.type).toBe('error');
    expect(ANTHROPIC_ERROR_TYPES).toContain((body.error as { type?: unknown } | undefined)?.type);
    expect(events.filter((e) => e.event === 'message_stop')).toHaveLength(0);
  } else {
    expect(events[0]?.event).toBe('response.created');
    expect(beforeLast?.event).toBe('response.failed');
    expect(json(beforeLast?.data ?? '{}').response).toMatchObject({ status: 'failed', error: { code: expect.any(String) } });
    expect(last?.event).toBe('error');
    expect(json(last?.data ?? '{}')).toMatchObject({ type: 'error', code });
    expect(events.filter((e) => e.event === 'response.completed')).toHaveLength(0);
  }
}

describe('after the first byte: an explicit error in the client’s protocol, only the delivered output billed', () => {
  for (const { title, client, upstream, fault, spec } of afterFirstByte) {
    it(title, async () => {
      const { key, userId } = await g.t.newUser(CREDITS);
      const stream = await rawStream(g.t, key, client, spec.model, '#words:30');
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      // Committed to the primary once its first token arrived: no failover afterwards.
      expect(attemptsOf(stream.headers.get('x-switchyard-attempts'))).toEqual([[primaryChannel(spec), 'ok']]);
      expect(g.brokenHits(upstream, spec.model)).toBe(1);
      expect(g.secondaryHits(spec)).toHaveLength(0);
      const text = deliveredText(client, stream.events);
      expect(text).toBe(fault.delivered);
      expectExplicitError(client, stream.events, fault.code);

      // docs/billing.md: reported usage if the upstream sent any, otherwise the prompt and the output delivered
      // (counted with o200k); never the error's text. The mocks report usage only at the end of a stream, but
      // Gemini's chunks carry running totals, so for Gemini its running count of the delivered output is fair too.
      const event = await onlyUsageEvent(g.t, userId);
      expect(event).toMatchObject({ status: 'error', channel: primaryChannel(spec), error_code: fault.code });
      expect(event.tokens.input).toBeGreaterThan(0);
      if (upstream === 'gemini') expect([countedOutput(text), pieces(text)]).toContain(event.tokens.output);
      else expect(event.tokens.output).toBe(countedOutput(text));
      const cost = costOf(event.tokens.input, event.tokens.output);
      expect(parseCredits(event.cost_credits)).toBe(cost);
      await expectChargedOnce(g.t, userId, cost);
    });
  }
});

describe('the official SDKs surface the error after the first byte (never a quietly short answer)', () => {
  for (const { client, spec } of sdkSurfaces) {
    it(`${client} client: a reset mid-body makes the SDK throw while reading the stream`, async () => {
      const { key } = await g.t.newUser(CREDITS);
      const error = await ask(g.t, key, client, spec.model, '#words:30', true).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(client === 'messages' ? Anthropic.APIError : OpenAI.APIError);
      expect(g.secondaryHits(spec)).toHaveLength(0);
    });
  }
});
