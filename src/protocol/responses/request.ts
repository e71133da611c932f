// Inbound Responses API request → the canonical OpenAI chat request (input items: ./input.ts).
// https://platform.openai.com/docs/api-reference/responses/create
// Authority for the shapes: OpenAI's OpenAPI spec, components.schemas.CreateResponse.
//
// Per field:
//   model, temperature, top_p, parallel_tool_calls, user, safety_identifier, prompt_cache_key, service_tier
//                               → the same chat fields
//   instructions                → a leading system message
//   max_output_tokens           → max_tokens (vendors rename it where needed, e.g. max_completion_tokens)
//   tools (function)            → chat function tools. `strict` is sent only when given: the Responses
//                                 default (strict) is not forced on upstreams whose schemas may not allow it
//   tools (built-in: web_search, file_search, computer, code_interpreter, image_generation, mcp, custom…)
//                               → 400: they run on OpenAI's side and cannot be served from here
//   tool_choice                 → none/auto/required as is; {type:function,name} → chat's named choice;
//                                 allowed_tools → the tools list narrowed to those, with its mode; others → 400
//   text.format                 → response_format (text: nothing; json_object; json_schema), text.verbosity → verbosity
//   reasoning.effort            → reasoning_effort; reasoning.summary → warning (no chat equivalent)
//   stream                      → stream + stream_options.include_usage (usage is always in response.completed)
//   store: true, previous_response_id, conversation, background: true, prompt → 400 (stateless: ./errors.ts)
//   store (missing/false), metadata, truncation: disabled, max_tool_calls (counts built-in tools only, which are
//                                 refused), stream_options.include_obfuscation: false
//                               → nothing to send upstream; metadata is echoed in the Response
//   include, top_logprobs, truncation: auto, include_obfuscation: true, and any other field
//                               → warning (x-switchyard-warnings), not sent
import type { ChatCompletionTool, ChatCompletionToolChoiceOption } from 'openai/resources/chat/completions';
import { z } from 'zod';
import { GatewayError } from '../../domain/errors.ts';
import type { ChatRequest, Warning } from '../../providers/shared/types.ts';
import { isObject } from '../../providers/shared/usage.ts';
import { backgroundRefused, conversationRefused, previousResponseRefused, promptRefused, storeRefused } from './errors.ts';
import { inputMessages } from './input.ts';

const looseType = z.looseObject({ type: z.string() });
const requestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.unknown()).min(1)]),
  instructions: z.string().nullish(),
  max_output_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  tools: z.array(looseType).nullish(),
  tool_choice: z.union([z.enum(['none', 'auto', 'required']), looseType]).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_obfuscation: z.boolean().optional() }).nullish(),
  text: z.looseObject({ format: z.looseObject({ type: z.enum(['text', 'json_object', 'json_schema']) }).optional(), verbosity: z.enum(['low', 'medium', 'high']).nullish() }).nullish(),
  reasoning: z.looseObject({ effort: z.string().nullish(), summary: z.string().nullish(), generate_summary: z.string().nullish() }).nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: z.string().optional(),
  safety_identifier: z.string().nullish(),
  prompt_cache_key: z.string().nullish(),
  service_tier: z.enum(['auto', 'default', 'flex', 'scale', 'priority']).nullish(),
  truncation: z.enum(['auto', 'disabled']).nullish(),
  include: z.array(z.string()).nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  max_tool_calls: z.number().int().nullish(),
});

export type ResponsesRequest = z.infer<typeof requestSchema>;
type Tool = Record<string, unknown>;

/** Fields that are translated, echoed or refused above; any other field is reported as not sent. */
const KNOWN = new Set([
  ...Object.keys(requestSchema.shape),
  'store', 'previous_response_id', 'conversation', 'background', 'prompt',
]);

function paramOf(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

/** Validates the body; the stateless refusals come first because they are the most useful answer. */
export function validateResponsesRequest(body: unknown): ResponsesRequest {
  if (!isObject(body)) throw new GatewayError('invalid_request', 'The request body must be a JSON object.');
  if (body.store === true) throw storeRefused();
  if (body.previous_response_id !== undefined && body.previous_response_id !== null) throw previousResponseRefused();
  if (body.conversation !== undefined && body.conversation !== null) throw conversationRefused();
  if (body.background === true) throw backgroundRefused();
  if (body.prompt !== undefined && body.prompt !== null) throw promptRefused();
  const result = requestSchema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const param = issue ? paramOf(issue.path) : null;
    throw new GatewayError('invalid_request', `Invalid value for '${param || 'body'}': ${issue?.message ?? 'invalid'}`, { param });
  }
  // The original object is kept (not zod's copy), as the other dialects do.
  return body as ResponsesRequest;
}

function functionTool(tool: Tool, i: number): ChatCompletionTool {
  if (tool.type !== 'function') {
    throw new GatewayError('invalid_request', `The '${String(tool.type)}' tool runs on OpenAI's platform and cannot be served through Switchyard: only function tools are supported.`, { param: `tools[${i}]` });
  }
  if (typeof tool.name !== 'string' || !tool.name) throw new GatewayError('invalid_request', `Invalid value for 'tools[${i}].name': expected a string.`, { param: `tools[${i}].name` });
  return {
    type: 'function',
    function: {
      name: tool.name,
      ...(typeof tool.description === 'string' ? { description: tool.description } : {}),
      ...(isObject(tool.parameters) ? { parameters: tool.parameters } : {}),
      ...(typeof tool.strict === 'boolean' ? { strict: tool.strict } : {}),
    },
  };
}

function namedFunction(choice: Record<string, unknown>, param: string): string {
  if (choice.type !== 'function' || typeof choice.name !== 'string') {
    throw new GatewayError('invalid_request', `The tool_choice type '${String(choice.type)}' refers to a tool Switchyard cannot serve: only function tools are supported.`, { param });
  }
  return choice.name;
}

function applyToolChoice(canonical: ChatRequest, choice: NonNullable<ResponsesRequest['tool_choice']>): void {
  if (typeof choice === 'string') {
    canonical.tool_choice = choice;
    return;
  }
  if (choice.type !== 'allowed_tools') {
    canonical.tool_choice = { type: 'function', function: { name: namedFunction(choice, 'tool_choice') } } satisfies ChatCompletionToolChoiceOption;
    return;
  }
  const listed = Array.isArray(choice.tools) ? (choice.tools as unknown[]) : [];
  const allowed = new Set(listed.map((t, i) => namedFunction(isObject(t) ? t : {}, `tool_choice.tools[${i}]`)));
  canonical.tools = (canonical.tools ?? []).filter((t) => t.type === 'function' && allowed.has(t.function.name));
  canonical.tool_choice = choice.mode === 'required' ? 'required' : 'auto';
}

function warn(warnings: Warning[], param: string, message: string): void {
  warnings.push({ code: 'unsupported_parameter', message, param });
}

function unsupported(request: ResponsesRequest, warnings: Warning[]): void {
  if (request.reasoning?.summary || request.reasoning?.generate_summary) warn(warnings, 'reasoning.summary', 'reasoning summaries have no chat equivalent and were not requested.');
  if (request.include?.length) warn(warnings, 'include', `include (${request.include.join(', ')}) cannot be served by a translated upstream and was ignored.`);
  if (request.top_logprobs) warn(warnings, 'top_logprobs', 'top_logprobs is not translated and was not sent.');
  if (request.truncation === 'auto') warn(warnings, 'truncation', "truncation 'auto' is not supported: an input longer than the context window fails instead of being truncated.");
  if (request.stream_options?.include_obfuscation === true) warn(warnings, 'stream_options.include_obfuscation', 'stream obfuscation is not produced by Switchyard.');
  for (const key of Object.keys(request)) {
    if (!KNOWN.has(key)) warn(warnings, key, `${key} is not translated by Switchyard's Responses endpoint and was not sent.`);
  }
}

/** Translates to the canonical request; what cannot be carried over is reported in `warnings`. */
export function toCanonical(request: ResponsesRequest, warnings: Warning[]): ChatRequest {
  const messages = inputMessages(request.input, warnings);
  if (request.instructions) messages.unshift({ role: 'system', content: request.instructions });
  const canonical: ChatRequest = { model: request.model, messages } as ChatRequest;
  if (request.stream) {
    canonical.stream = true;
    canonical.stream_options = { include_usage: true };
  }
  if (typeof request.max_output_tokens === 'number') canonical.max_tokens = request.max_output_tokens;
  if (typeof request.temperature === 'number') canonical.temperature = request.temperature;
  if (typeof request.top_p === 'number') canonical.top_p = request.top_p;
  if (typeof request.parallel_tool_calls === 'boolean') canonical.parallel_tool_calls = request.parallel_tool_calls;
  if (request.user) canonical.user = request.user;
  if (request.safety_identifier) canonical.safety_identifier = request.safety_identifier;
  if (request.prompt_cache_key) canonical.prompt_cache_key = request.prompt_cache_key;
  if (request.service_tier) canonical.service_tier = request.service_tier;
  if (request.tools?.length) canonical.tools = request.tools.map((t, i) => functionTool(t, i));
  if (request.tool_choice) applyToolChoice(canonical, request.tool_choice);
  const format = request.text?.format;
  if (format?.type === 'json_object') canonical.response_format = { type: 'json_object' };
  if (format?.type === 'json_schema') {
    if (typeof format.name !== 'string' || !isObject(format.schema)) {
      throw new GatewayError('invalid_request', "A json_schema text format needs a 'name' and a 'schema' object.", { param: 'text.format' });
    }
    canonical.response_format = {
      type: 'json_schema',
      json_schema: {
        name: format.name,
        schema: format.schema,
        ...(typeof format.description === 'string' ? { description: format.description } : {}),
        ...(typeof format.strict === 'boolean' ? { strict: format.strict } : {}),
      },
    };
  }
  if (request.text?.verbosity) canonical.verbosity = request.text.verbosity;
  if (request.reasoning?.effort) canonical.reasoning_effort = request.reasoning.effort as ChatRequest['reasoning_effort'];
  unsupported(request, warnings);
  return canonical;
}
