// OpenAI Chat Completions request → Anthropic Messages request: `POST {base_url}/messages`.
// Wire formats (Anthropic):
//   Messages API (body, headers x-api-key / anthropic-version): https://docs.anthropic.com/en/api/messages
//   Versions:                                                  https://docs.anthropic.com/en/api/versioning
//   Tools, tool_choice, disable_parallel_tool_use:             https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use
//   Extended thinking (budget_tokens ≥ 1024 and < max_tokens): https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
//   Streaming (`stream: true`):                                https://docs.anthropic.com/en/docs/build-with-claude/streaming
// Source format (OpenAI): https://platform.openai.com/docs/api-reference/chat/create
//
// Mappings chosen (see also messages.ts):
// - max_tokens (required upstream) = max_completion_tokens ?? max_tokens ?? the model's configured output cap.
//   Like OpenAI's max_completion_tokens, Anthropic's max_tokens includes thinking tokens, so it is never raised:
//   the billing hold (taken on max_tokens) stays an upper bound.
// - temperature: OpenAI 0..2, Anthropic 0..1. Values above 1 are clamped to 1 (not rescaled: 0.7 means the
//   same on both) with a warning.
// - reasoning_effort → thinking {type:'enabled', budget_tokens}: minimal/low 1024, medium 4096, high 16384,
//   xhigh/max 32768; 'none' leaves thinking off. A client's own Anthropic-style `thinking` object wins and is
//   sent as given. The budget must stay below max_tokens: when it does not, it is lowered to
//   max(1024, max_tokens / 2); if max_tokens ≤ 1024 thinking is left off. Each adjustment is a warning.
//   With thinking on, Anthropic refuses temperature ≠ 1, top_p < 0.95, top_k and a forced tool: the sampling
//   knobs are dropped (warning); a forced tool_choice keeps the tool call and turns thinking off (warning),
//   because a client that forces a tool depends on getting the call. Thinking derived from reasoning_effort
//   is also left off (warning) when the request continues an assistant turn that called tools (or ends with
//   an assistant prefill): Anthropic wants that turn's signed thinking block back, and OpenAI history has none.
// - response_format json_object / json_schema: Anthropic Messages has no JSON mode that every model honours;
//   the instruction (with the schema) is appended to the system prompt and a warning says it is emulated.
// - n > 1: an error (invalid_request, param 'n'): one answer where several were asked for would be wrong.
// - user (or safety_identifier) → metadata.user_id. top_k (an Anthropic knob some clients send) is passed.
// - stream_options is satisfied as is: the translated stream always ends with a usage chunk.
// - every other parameter with a non-default value becomes a warning `unsupported_parameter`.
import { GatewayError } from '../../domain/errors.ts';
import type { CallContext, ChatRequest, Encoded, Warning } from '../shared/types.ts';
import { isObject, type Json } from '../shared/usage.ts';
import { convertMessages, type AnthropicMessage } from './messages.ts';

export const ANTHROPIC_VERSION = '2023-06-01';
const MIN_THINKING_BUDGET = 1024;

/** reasoning_effort → thinking budget_tokens. */
export const THINKING_BUDGETS: Readonly<Record<string, number>> = {
  minimal: 1024,
  low: 1024,
  medium: 4096,
  high: 16384,
  xhigh: 32768,
  max: 32768,
};

/** Parameters this translator reads; any other one with a non-default value is reported as unsupported. */
const HANDLED = new Set([
  'model', 'messages', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'top_k', 'stop', 'stream',
  'stream_options', 'tools', 'tool_choice', 'parallel_tool_calls', 'user', 'safety_identifier', 'reasoning_effort',
  'thinking', 'response_format', 'n',
]);

/** Values that ask for nothing Anthropic would have to do differently. */
function isDefault(key: string, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  switch (key) {
    case 'logprobs':
    case 'store':
      return value === false;
    case 'presence_penalty':
    case 'frequency_penalty':
    case 'top_logprobs':
      return value === 0;
    case 'modalities':
      return Array.isArray(value) && value.every((m) => m === 'text');
    case 'service_tier':
      return value === 'auto';
    case 'metadata':
      return isObject(value) && Object.keys(value).length === 0;
    default:
      return false;
  }
}

export function headers(call: CallContext): Record<string, string> {
  const out: Record<string, string> = { 'content-type': 'application/json', 'anthropic-version': ANTHROPIC_VERSION, ...call.settings.headers };
  if (call.settings.apiKey) out['x-api-key'] = call.settings.apiKey;
  return out;
}

function encodeTools(tools: unknown, warnings: Warning[]): Json[] {
  if (!Array.isArray(tools)) return [];
  const out: Json[] = [];
  tools.forEach((tool: unknown, i) => {
    const fn = isObject(tool) && tool.type === 'function' && isObject(tool.function) ? tool.function : undefined;
    if (!fn || typeof fn.name !== 'string') {
      warnings.push({ code: 'unsupported_parameter', param: `tools[${i}]`, message: 'only function tools are supported by Anthropic; this tool was not sent' });
      return;
    }
    const encoded: Json = { name: fn.name };
    if (typeof fn.description === 'string') encoded.description = fn.description;
    encoded.input_schema = isObject(fn.parameters) ? fn.parameters : { type: 'object', properties: {} };
    if (fn.strict === true) encoded.strict = true;
    out.push(encoded);
  });
  return out;
}

function encodeToolChoice(choice: unknown, warnings: Warning[]): Json | undefined {
  if (choice === undefined || choice === null || choice === 'auto') return choice === 'auto' ? { type: 'auto' } : undefined;
  if (choice === 'required') return { type: 'any' };
  if (choice === 'none') return { type: 'none' };
  if (isObject(choice) && choice.type === 'function' && isObject(choice.function) && typeof choice.function.name === 'string') {
    return { type: 'tool', name: choice.function.name };
  }
  warnings.push({ code: 'unsupported_parameter', param: 'tool_choice', message: 'this tool_choice is not supported by Anthropic; the model chooses (auto)' });
  return undefined;
}

function thinkingFrom(request: ChatRequest, maxTokens: number, warnings: Warning[]): Json | undefined {
  if (isObject(request.thinking) && typeof request.thinking.type === 'string') return request.thinking;
  const effort = request.reasoning_effort;
  if (effort === undefined || effort === null || effort === 'none') return undefined;
  let budget = THINKING_BUDGETS[effort];
  if (budget === undefined) {
    warnings.push({ code: 'unsupported_parameter', param: 'reasoning_effort', message: `reasoning_effort '${String(effort)}' is not known; thinking stays off` });
    return undefined;
  }
  if (budget >= maxTokens) {
    budget = Math.max(MIN_THINKING_BUDGET, Math.floor(maxTokens / 2));
    if (budget >= maxTokens) {
      warnings.push({ code: 'thinking_disabled', param: 'reasoning_effort', message: `max_tokens ${maxTokens} leaves no room for thinking (at least ${MIN_THINKING_BUDGET} tokens); thinking stays off` });
      return undefined;
    }
    warnings.push({ code: 'thinking_budget_reduced', param: 'reasoning_effort', message: `the thinking budget was lowered to ${budget} tokens to stay below max_tokens ${maxTokens}` });
  }
  return { type: 'enabled', budget_tokens: budget };
}

function jsonInstruction(format: unknown, warnings: Warning[]): string | undefined {
  if (!isObject(format) || format.type === 'text') return undefined;
  if (format.type === 'json_object') {
    warnings.push({ code: 'response_format_emulated', param: 'response_format', message: 'JSON mode is emulated with a system-prompt instruction on Anthropic' });
    return 'Respond only with a single valid JSON object, with no text before or after it.';
  }
  if (format.type === 'json_schema' && isObject(format.json_schema)) {
    warnings.push({ code: 'response_format_emulated', param: 'response_format', message: 'json_schema is emulated with a system-prompt instruction on Anthropic; the output is not validated' });
    const schema = JSON.stringify(format.json_schema.schema ?? {});
    return `Respond only with a single valid JSON value that conforms to this JSON Schema, with no text before or after it:\n${schema}`;
  }
  warnings.push({ code: 'unsupported_parameter', param: 'response_format', message: 'this response_format is not supported by Anthropic and was ignored' });
  return undefined;
}

/**
 * With thinking on, Anthropic wants the assistant turn being continued (a tool-use turn whose results follow,
 * or a final assistant prefill) to start with its signed thinking block. OpenAI-format history has none.
 */
function needsSignedThinking(messages: AnthropicMessage[]): boolean {
  const last = messages.at(-1);
  if (last?.role === 'assistant') return true;
  const previous = messages.at(-2);
  return previous?.role === 'assistant' && previous.content.some((block) => block.type === 'tool_use');
}

/** The thinking config to send (reasoning_effort or the client's own object), after Anthropic's constraints. */
function resolveThinking(request: ChatRequest, maxTokens: number, toolChoice: Json | undefined, messages: AnthropicMessage[], warnings: Warning[]): Json | undefined {
  const thinking = thinkingFrom(request, maxTokens, warnings);
  if (request.thinking !== undefined) {
    if (thinking !== undefined && request.reasoning_effort !== undefined && request.reasoning_effort !== null) {
      warnings.push({ code: 'unsupported_parameter', param: 'reasoning_effort', message: 'the thinking object was used; reasoning_effort was ignored' });
    }
    return thinking;
  }
  if (thinking === undefined) return undefined;
  const forced = toolChoice?.type === 'any' || toolChoice?.type === 'tool';
  if (!forced && !needsSignedThinking(messages)) return thinking;
  const why = forced
    ? 'Anthropic cannot think while a tool is forced; the forced tool was kept and thinking left off'
    : 'Anthropic needs the signed thinking of the assistant turn being continued, which OpenAI-format history does not carry; thinking left off';
  warnings.push({ code: 'thinking_disabled', param: 'reasoning_effort', message: why });
  return undefined;
}

/** temperature (clamped to Anthropic's 0..1), top_p, top_k; with thinking on, what Anthropic refuses is left out. */
function encodeSampling(request: ChatRequest, thinking: boolean, body: Json, warnings: Warning[]): void {
  const refused = (param: string, rule: string): void => {
    warnings.push({ code: 'ignored_with_thinking', param, message: `Anthropic ${rule} with thinking; it was not sent` });
  };
  const temperature = request.temperature;
  if (typeof temperature === 'number') {
    if (thinking && temperature !== 1) refused('temperature', 'does not accept temperature');
    else if (temperature > 1) {
      warnings.push({ code: 'temperature_clamped', param: 'temperature', message: `temperature ${temperature} was clamped to 1 (Anthropic's range is 0 to 1)` });
      body.temperature = 1;
    } else body.temperature = temperature;
  }
  if (typeof request.top_p === 'number') {
    if (thinking && request.top_p < 0.95) refused('top_p', 'accepts only top_p ≥ 0.95');
    else body.top_p = request.top_p;
  }
  if (typeof request.top_k === 'number') {
    if (thinking) refused('top_k', 'does not accept top_k');
    else body.top_k = request.top_k;
  }
}

export function encodeAnthropicRequest(request: ChatRequest, call: CallContext): Encoded {
  const warnings: Warning[] = [];
  if (typeof request.n === 'number' && request.n > 1) {
    throw new GatewayError('invalid_request', 'n > 1 is not supported by this model’s upstream (Anthropic returns one choice)', { param: 'n' });
  }
  const { system, messages } = convertMessages(request.messages, warnings);
  const maxTokens = request.max_completion_tokens ?? request.max_tokens ?? call.maxOutputTokens;
  const body: Json = { model: call.upstreamModel };

  const instruction = jsonInstruction(request.response_format, warnings);
  if (instruction !== undefined) system.push(instruction);
  if (system.length === 1) body.system = system[0];
  else if (system.length > 1) body.system = system.map((text) => ({ type: 'text', text }));
  body.messages = messages;
  body.max_tokens = maxTokens;

  const tools = encodeTools(request.tools, warnings);
  let toolChoice = tools.length > 0 ? encodeToolChoice(request.tool_choice, warnings) : undefined;
  if (tools.length > 0 && request.parallel_tool_calls === false && toolChoice?.type !== 'none') {
    toolChoice = { ...(toolChoice ?? { type: 'auto' }), disable_parallel_tool_use: true };
  }

  const thinking = resolveThinking(request, maxTokens, toolChoice, messages, warnings);
  encodeSampling(request, thinking !== undefined && thinking.type !== 'disabled', body, warnings);
  const stop = request.stop;
  if (typeof stop === 'string') body.stop_sequences = [stop];
  else if (Array.isArray(stop) && stop.length > 0) body.stop_sequences = stop;
  if (tools.length > 0) body.tools = tools;
  if (toolChoice !== undefined) body.tool_choice = toolChoice;
  if (thinking !== undefined) body.thinking = thinking;
  const userId = request.safety_identifier ?? request.user;
  if (typeof userId === 'string' && userId !== '') body.metadata = { user_id: userId };
  if (call.stream) body.stream = true;

  for (const [key, value] of Object.entries(request)) {
    if (HANDLED.has(key) || isDefault(key, value)) continue;
    warnings.push({ code: 'unsupported_parameter', param: key, message: `'${key}' is not supported by Anthropic and was ignored` });
  }
  const url = `${call.settings.baseUrl.replace(/\/+$/, '')}/messages`;
  return { upstream: { method: 'POST', url, headers: headers(call), body: JSON.stringify(body) }, warnings };
}
