// OpenAI Responses API pass-through (POST {base_url}/responses) for vendors that serve it: the client's own
// body goes upstream unchanged but for the model; the upstream's events come back unchanged while this tap
// reads the usage from response.completed / response.incomplete.
// https://platform.openai.com/docs/api-reference/responses/create
// https://platform.openai.com/docs/api-reference/responses-streaming
import type { Usage } from '../../domain/usage.ts';
import type { NativeCodec, NativeFrame, SseFrame } from '../shared/types.ts';
import { summarizeUpstreamError, upstreamError } from '../shared/errors.ts';
import { int, isObject } from '../shared/usage.ts';
import { upstreamHeaders } from './request.ts';
import type { Vendor } from './vendor.ts';

/** Responses usage: input_tokens includes the cached ones; output_tokens includes reasoning. */
export function usageFromResponses(usage: unknown): Usage | undefined {
  if (!isObject(usage)) return undefined;
  const input = int(usage.input_tokens);
  const cached = Math.min(isObject(usage.input_tokens_details) ? int(usage.input_tokens_details.cached_tokens) : 0, input);
  const reasoning = isObject(usage.output_tokens_details) ? int(usage.output_tokens_details.reasoning_tokens) : 0;
  return { input: input - cached, cachedInput: cached, cacheWrite: 0, output: int(usage.output_tokens), reasoning };
}

function deliveredFromOutput(output: unknown): string[] {
  if (!Array.isArray(output)) return [];
  const out: string[] = [];
  for (const item of output as unknown[]) {
    if (!isObject(item)) continue;
    if (item.type === 'function_call') out.push(String(item.name ?? ''), String(item.arguments ?? ''));
    for (const part of Array.isArray(item.content) ? (item.content as unknown[]) : []) {
      if (isObject(part) && typeof part.text === 'string') out.push(part.text);
    }
  }
  return out;
}

async function* tap(frames: AsyncIterable<SseFrame>): AsyncGenerator<NativeFrame> {
  for await (const frame of frames) {
    let event: unknown;
    try {
      event = JSON.parse(frame.data);
    } catch {
      yield { frame };
      continue;
    }
    const type = isObject(event) ? event.type : undefined;
    if (!isObject(event)) yield { frame };
    else if (type === 'response.output_text.delta' || type === 'response.function_call_arguments.delta' || type === 'response.refusal.delta') {
      yield typeof event.delta === 'string' ? { frame, delivered: event.delta } : { frame };
    } else if (type === 'response.completed' || type === 'response.incomplete') {
      const usage = isObject(event.response) ? usageFromResponses(event.response.usage) : undefined;
      yield usage ? { frame, usage, done: true } : { frame, done: true };
    } else if (type === 'response.failed' || type === 'error') {
      const source = type === 'error' ? event : isObject(event.response) ? { error: event.response.error } : event;
      yield { frame, error: upstreamError('upstream_error', summarizeUpstreamError(source, undefined)) };
    } else yield { frame };
  }
}

export function responsesNative(vendor: Vendor): NativeCodec {
  return {
    protocol: 'openai-responses',
    encodeRequest(original, call) {
      const body = JSON.stringify({ ...original, model: call.upstreamModel });
      return { upstream: { method: 'POST', url: `${call.settings.baseUrl}/responses`, headers: upstreamHeaders(call, vendor.auth), body }, warnings: [] };
    },
    usageFromBody: (body) => (isObject(body) ? usageFromResponses(body.usage) : undefined),
    deliveredFromBody: (body) => (isObject(body) ? deliveredFromOutput(body.output) : []),
    tap,
  };
}
