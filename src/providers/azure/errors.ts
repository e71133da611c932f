// Azure OpenAI errors: OpenAI's shape and classification (../openai-compatible/errors.ts), plus the content
// filter. A prompt the filter blocks is a 400 with `error.code: "content_filter"` and
// `innererror: {code: "ResponsibleAIPolicyViolation", content_filter_result: {<category>: {filtered, severity}}}`:
// https://learn.microsoft.com/azure/ai-services/openai/concepts/content-filter
// A completion the filter cuts short is not an error: `finish_reason: "content_filter"` passes through.
import { GatewayError } from '../../domain/errors.ts';
import { classifyOpenAIError } from '../openai-compatible/errors.ts';
import { summarizeUpstreamError } from '../shared/errors.ts';
import type { UpstreamFailure } from '../shared/types.ts';
import { isObject } from '../shared/usage.ts';

/** The filtered categories (hate, violence…) when the body is a content-filter refusal; undefined otherwise. */
export function contentFilterCategories(body: unknown): string[] | undefined {
  const error = isObject(body) && isObject(body.error) ? body.error : undefined;
  if (!error) return undefined;
  const inner = isObject(error.innererror) ? error.innererror : undefined;
  if (error.code !== 'content_filter' && inner?.code !== 'ResponsibleAIPolicyViolation') return undefined;
  const results = inner && isObject(inner.content_filter_result) ? inner.content_filter_result : {};
  return Object.entries(results)
    .filter(([, r]) => isObject(r) && r.filtered === true)
    .map(([category]) => category);
}

export function classifyAzureError(failure: UpstreamFailure): GatewayError {
  if (failure.kind === 'status' && failure.status === 400) {
    const categories = contentFilterCategories(failure.body);
    if (categories) {
      const which = categories.length > 0 ? ` (${categories.join(', ')})` : '';
      return new GatewayError('upstream_rejected', `Azure OpenAI's content filter blocked the prompt${which}; rephrase it or review the deployment's content filter policy.`, {
        status: 400,
        param: 'messages',
        upstream: summarizeUpstreamError(failure.body, 400),
      });
    }
  }
  return classifyOpenAIError(failure);
}
