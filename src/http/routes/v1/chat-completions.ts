// POST /v1/chat/completions — the request path of ARCHITECTURE §1, in order:
// validate → authenticate (preHandler) → quote + hold → plan → dispatch → respond (JSON or SSE) → settle.
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { countTokens } from 'gpt-tokenizer';
import { BillingSession, type Outcome } from '../../../billing/session.ts';
import { quoteChat, type Quote } from '../../../billing/quote.ts';
import { GatewayError } from '../../../domain/errors.ts';
import { formatCredits } from '../../../domain/money.ts';
import type { Usage } from '../../../domain/usage.ts';
import { SSE_DONE, SSE_HEADERS, sseData, sseError } from '../../../protocol/openai/sse.ts';
import { validateChatRequest } from '../../../protocol/openai/validate.ts';
import { sseFrames } from '../../../providers/shared/sse.ts';
import type { CallContext, ChatRequest, ChatResult } from '../../../providers/shared/types.ts';
import { dispatch, readUpstreamJson, type Dispatched } from '../../../routing/dispatch.ts';
import { plan } from '../../../routing/plan.ts';
import { ClientAbortError, toFailure, UpstreamFailureError } from '../../../upstream/client.ts';
import { apiKeyHook } from '../../auth.ts';
import { requireAuth, resolveModel, type AppDeps } from '../../context.ts';
import { StreamWriter } from '../../sse-writer.ts';
import { attemptsHeader, cancelOnClientClose, receiptUsage } from './common.ts';

/** Text the client actually received, gathered only to bill a stream that ended without usage. */
function collectDelivered(chunk: ChatCompletionChunk, into: string[]): void {
  for (const choice of chunk.choices ?? []) {
    const delta = choice.delta;
    if (!delta) continue;
    if (typeof delta.content === 'string' && delta.content) into.push(delta.content);
    if (typeof delta.refusal === 'string' && delta.refusal) into.push(delta.refusal);
    for (const call of delta.tool_calls ?? []) {
      if (call.function?.name) into.push(call.function.name);
      if (call.function?.arguments) into.push(call.function.arguments);
    }
  }
}

/** Billing when the upstream reported no usage: counted prompt + counted delivered output (docs/billing.md). */
function countedUsage(quote: Quote, delivered: string[]): Usage | undefined {
  if (delivered.length === 0) return undefined;
  return { input: quote.countedInputTokens, cachedInput: 0, cacheWrite: 0, output: countTokens(delivered.join('')), reasoning: 0 };
}

function deliveredFromCompletion(result: ChatResult): string[] {
  const out: string[] = [];
  for (const choice of result.response.choices ?? []) {
    const m = choice.message;
    if (typeof m?.content === 'string' && m.content) out.push(m.content);
    for (const call of m?.tool_calls ?? []) if (call.type === 'function') out.push(call.function.name, call.function.arguments);
  }
  return out;
}

async function respondJson(
  reply: FastifyReply,
  session: BillingSession,
  sent: Dispatched,
  call: CallContext,
  quote: Quote,
  signal: AbortSignal,
): Promise<unknown> {
  const chat = sent.channel.adapter.chat;
  if (!chat) throw new GatewayError('internal_error', 'channel cannot serve chat');
  const result = chat.decodeResponse(await readUpstreamJson(sent, signal), call);
  const usage = result.usage ?? countedUsage(quote, deliveredFromCompletion(result));
  const charged = await session.settle(outcome(sent, usage, 'ok', 200, null, sent.headersMs));
  result.response.usage = receiptUsage(result.response.usage, usage, charged);
  void reply.header('x-switchyard-credits-charged', formatCredits(charged));
  return result.response;
}

function outcome(sent: Dispatched, usage: Usage | undefined, status: Outcome['status'], httpStatus: number, errorCode: string | null, ttfbMs: number | null): Outcome {
  return { usage, status, httpStatus, errorCode, provider: sent.channel.provider.id, channel: sent.channel.id, ttfbMs };
}

async function respondStream(
  reply: FastifyReply,
  session: BillingSession,
  sent: Dispatched,
  call: CallContext,
  request: ChatRequest,
  quote: Quote,
  signal: AbortSignal,
): Promise<void> {
  const chat = sent.channel.adapter.chat;
  if (!chat) throw new GatewayError('internal_error', 'channel cannot serve chat');
  const wantsUsage = request.stream_options?.include_usage === true;
  reply.hijack();
  const res = reply.raw;
  const headers: OutgoingHttpHeaders = { ...SSE_HEADERS };
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
  res.writeHead(200, headers);
  const writer = new StreamWriter(res);
  const delivered: string[] = [];
  let usage: Usage | undefined;
  let completed = false;
  let failure: GatewayError | undefined;
  let ttfbMs: number | null = null;
  try {
    for await (const event of chat.decodeStream(sseFrames(sent.response.body), call)) {
      if (event.type === 'done') {
        completed = true;
        continue; // keep reading to the end of the body so the upstream connection is reused
      }
      if (event.type === 'error') {
        failure = event.error;
        break;
      }
      if (completed) continue;
      ttfbMs ??= Math.round(performance.now() - session.info.startedAt);
      const chunk = event.chunk;
      collectDelivered(chunk, delivered);
      if (event.usage) {
        usage = event.usage;
        if (!wantsUsage && (chunk.choices?.length ?? 0) === 0) continue; // the client did not ask for it
        if (wantsUsage) {
          chunk.usage = receiptUsage(chunk.usage, usage, session.chargeFor(usage));
          await writer.write(sseData(JSON.stringify(chunk)));
          continue;
        }
      }
      await writer.write(sseData(event.raw ?? JSON.stringify(chunk)));
    }
  } catch (error) {
    const mapped = toFailure(error, signal);
    if (!(mapped instanceof ClientAbortError)) {
      failure = mapped instanceof UpstreamFailureError ? sent.channel.adapter.classifyError(mapped.failure) : new GatewayError('internal_error', 'The stream failed.');
    }
  } finally {
    if (!sent.response.body.destroyed && !completed) sent.response.body.destroy();
  }
  const clientGone = signal.aborted || writer.closed;
  if (!completed && !failure && !clientGone) {
    failure = new GatewayError('upstream_bad_response', 'The upstream ended the stream before it was complete.');
  }
  const billed = usage ?? countedUsage(quote, delivered);
  if (clientGone) {
    await session.settle(outcome(sent, billed, 'client_closed', 499, 'client_closed', ttfbMs));
    return;
  }
  if (failure) {
    writer.end(sseError(failure));
    await session.settle(outcome(sent, billed, 'error', failure.status, failure.code, ttfbMs));
    return;
  }
  writer.end(SSE_DONE);
  await session.settle(outcome(sent, billed, 'ok', 200, null, ttfbMs));
}

export function chatCompletionsRoute(app: FastifyInstance, deps: AppDeps): void {
  app.post('/v1/chat/completions', { preHandler: apiKeyHook(deps.authenticator) }, async (request, reply) => {
    const startedAt = performance.now();
    const body = validateChatRequest(request.body);
    const auth = requireAuth(request.auth);
    const model = resolveModel(deps, auth, body.model, 'chat');
    const stream = body.stream === true;
    const quote = quoteChat(body, model);
    const session = new BillingSession(
      deps.store.ledger,
      { requestId: request.id, userId: auth.userId, keyId: auth.keyId, model, endpoint: 'chat.completions', stream, startedAt },
      deps.config.holdTtlMs,
    );
    await session.hold(quote.hold);
    const signal = cancelOnClientClose(reply);
    let sent: Dispatched | undefined;
    try {
      const channels = plan(deps.channels.get(model.config.id) ?? []);
      sent = await dispatch(deps.upstream, channels, (ch) => {
        const chat = ch.adapter.chat;
        if (!chat) throw new GatewayError('internal_error', 'channel cannot serve chat');
        return chat.encodeRequest(body, { settings: ch.settings, upstreamModel: ch.upstreamModel, stream, maxOutputTokens: model.config.maxOutputTokens });
      }, signal);
      void reply.header('x-switchyard-attempts', attemptsHeader(sent.attempts));
      if (sent.warnings.length > 0) void reply.header('x-switchyard-warnings', JSON.stringify(sent.warnings));
      const call: CallContext = { settings: sent.channel.settings, upstreamModel: sent.channel.upstreamModel, stream, maxOutputTokens: model.config.maxOutputTokens };
      if (stream) {
        await respondStream(reply, session, sent, call, body, quote, signal);
        return reply;
      }
      return await respondJson(reply, session, sent, call, quote, signal);
    } catch (error) {
      await session.release(signal.aborted ? new ClientAbortError('client closed') : error, sent?.channel.provider.id ?? null, sent?.channel.id ?? null);
      throw error;
    }
  });
}
