// OpenAI Chat Completions request → Gemini GenerateContentRequest.
// Wire formats (Gemini):
//   POST {base}/models/{model}:generateContent, POST {base}/models/{model}:streamGenerateContent?alt=sse,
//   header x-goog-api-key, request body (contents, systemInstruction, tools, toolConfig, generationConfig):
//     https://ai.google.dev/api/generate-content
//   GenerationConfig (temperature, topP, topK, maxOutputTokens, stopSequences, candidateCount, seed,
//   presencePenalty, frequencyPenalty, responseLogprobs, logprobs, responseMimeType, responseJsonSchema,
//   thinkingConfig):  https://ai.google.dev/api/generate-content#v1beta.GenerationConfig
//   Tools, toolConfig.functionCallingConfig {mode AUTO|ANY|NONE, allowedFunctionNames}:
//     https://ai.google.dev/gemini-api/docs/function-calling
//   JSON mode and schemas: https://ai.google.dev/gemini-api/docs/structured-output
//   Thinking budgets: https://ai.google.dev/gemini-api/docs/thinking
//   reasoning_effort → budget, as Google's own OpenAI-compatible endpoint maps it:
//     https://ai.google.dev/gemini-api/docs/openai#thinking
// Source format (OpenAI): https://platform.openai.com/docs/api-reference/chat/create
//
// Mappings chosen (messages: see contents.ts; schemas: see schema.ts):
// - max_completion_tokens ?? max_tokens ?? the model's configured output cap → maxOutputTokens: Gemini's own
//   default can be larger than the cap the billing hold was taken on, so the cap is always sent. stop → stopSequences. n → candidateCount (n = 1 is the default and not sent). seed,
//   temperature, top_p → topP, top_k (a knob some clients send) → topK, presence/frequency_penalty →
//   presencePenalty/frequencyPenalty. logprobs → responseLogprobs, top_logprobs → logprobs.
// - response_format json_object → responseMimeType application/json; json_schema → that plus
//   responseJsonSchema (JSON Schema is accepted there, so less is lost than with the OpenAPI responseSchema).
// - reasoning_effort → thinkingConfig.thinkingBudget: none 0 (thinking off), minimal/low 1024, medium 8192,
//   high 24576, xhigh/max 24576 (the largest budget every 2.5 model accepts; a warning says it was capped).
//   With a budget, includeThoughts is set so the thought summaries come back as reasoning_content.
// - tools (function) → one Tool with functionDeclarations; custom tools → warning. tool_choice none → NONE,
//   auto → AUTO, required → ANY, {function: {name}} → ANY + allowedFunctionNames [name]; allowed_tools → the
//   declarations are narrowed to the allowed ones, with AUTO (mode auto) or ANY (mode required).
//   strict: true → warning (Gemini does not promise schema-exact arguments).
// - every other parameter with a non-default value (logit_bias, audio, modalities beyond text, prediction,
//   parallel_tool_calls: false, service_tier, store, metadata, user, web_search_options, functions, …, and any
//   unknown field) → a warning `unsupported_parameter`: nothing is dropped silently.
import type { CallContext, ChatRequest, Encoded, Warning } from '../shared/types.ts';
import { isObject, type Json } from '../shared/usage.ts';
import { convertMessages } from './contents.ts';
import { toOpenApiSchema, toResponseJsonSchema } from './schema.ts';

/** reasoning_effort → thinkingBudget (tokens). */
export const THINKING_BUDGETS: Readonly<Record<string, number>> = {
  none: 0,
  minimal: 1024,
  low: 1024,
  medium: 8192,
  high: 24576,
  xhigh: 24576,
  max: 24576,
};
const CAPPED_EFFORTS = new Set(['xhigh', 'max']);

/** Parameters read by this translator. */
const HANDLED = new Set([
  'model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p',
  'top_k', 'stop', 'n', 'seed', 'presence_penalty', 'frequency_penalty', 'logprobs', 'top_logprobs',
  'response_format', 'reasoning_effort', 'tools', 'tool_choice',
]);

/** A value that asks for nothing Gemini would have to do: not worth a warning. */
function isDefault(key: string, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  switch (key) {
    case 'store':
      return value === false;
    case 'modalities':
      return Array.isArray(value) && value.every((m) => m === 'text');
    case 'parallel_tool_calls':
      return value === true;
    default:
      return false;
  }
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function setIf(target: Json, key: string, value: unknown): void {
  if (value !== undefined) target[key] = value;
}

function generationConfig(request: Json, call: CallContext, warnings: Warning[]): Json {
  const config: Json = {};
  setIf(config, 'temperature', num(request.temperature));
  setIf(config, 'topP', num(request.top_p));
  setIf(config, 'topK', num(request.top_k));
  const cap = call.maxOutputTokens > 0 ? call.maxOutputTokens : undefined;
  setIf(config, 'maxOutputTokens', num(request.max_completion_tokens) ?? num(request.max_tokens) ?? cap);
  if (typeof request.stop === 'string') config.stopSequences = [request.stop];
  else if (Array.isArray(request.stop) && request.stop.length > 0) config.stopSequences = request.stop;
  const n = num(request.n);
  if (n !== undefined && n !== 1) config.candidateCount = n;
  setIf(config, 'seed', num(request.seed));
  setIf(config, 'presencePenalty', num(request.presence_penalty));
  setIf(config, 'frequencyPenalty', num(request.frequency_penalty));
  if (request.logprobs === true) {
    config.responseLogprobs = true;
    setIf(config, 'logprobs', num(request.top_logprobs));
  } else if (num(request.top_logprobs) !== undefined) {
    warnings.push({ code: 'unsupported_parameter', param: 'top_logprobs', message: 'top_logprobs needs logprobs: true; ignored' });
  }
  const format = request.response_format;
  if (isObject(format) && format.type === 'json_object') config.responseMimeType = 'application/json';
  else if (isObject(format) && format.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    const spec = isObject(format.json_schema) ? format.json_schema : {};
    if (spec.schema !== undefined) {
      config.responseJsonSchema = toResponseJsonSchema(spec.schema, 'response_format.json_schema.schema', warnings);
    }
  }
  const effort = request.reasoning_effort;
  if (typeof effort === 'string') {
    const budget = THINKING_BUDGETS[effort];
    if (budget === undefined) {
      warnings.push({ code: 'unsupported_parameter', param: 'reasoning_effort', message: `reasoning_effort "${effort}" is unknown; ignored` });
    } else {
      config.thinkingConfig = budget === 0 ? { thinkingBudget: 0 } : { thinkingBudget: budget, includeThoughts: true };
      if (CAPPED_EFFORTS.has(effort)) {
        warnings.push({ code: 'parameter_adjusted', param: 'reasoning_effort', message: `reasoning_effort "${effort}" sent as a thinking budget of ${budget} tokens` });
      }
    }
  }
  return config;
}

interface ToolSetup {
  tools: Json[] | undefined;
  toolConfig: Json | undefined;
}

function declarations(tools: unknown, warnings: Warning[]): Json[] {
  if (!Array.isArray(tools)) return [];
  const out: Json[] = [];
  tools.forEach((tool, i) => {
    const fn = isObject(tool) && tool.type === 'function' && isObject(tool.function) ? tool.function : undefined;
    if (!fn || typeof fn.name !== 'string') {
      warnings.push({ code: 'unsupported_parameter', param: `tools[${i}]`, message: 'only function tools can be sent to Gemini; tool dropped' });
      return;
    }
    const declaration: Json = { name: fn.name };
    if (typeof fn.description === 'string') declaration.description = fn.description;
    const parameters = toOpenApiSchema(fn.parameters, `tools[${i}].function.parameters`, warnings);
    if (parameters) declaration.parameters = parameters;
    if (fn.strict === true) {
      warnings.push({ code: 'unsupported_parameter', param: `tools[${i}].function.strict`, message: 'Gemini does not guarantee schema-exact arguments; strict ignored' });
    }
    out.push(declaration);
  });
  return out;
}

function namesOf(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((t) => (isObject(t) && isObject(t.function) && typeof t.function.name === 'string' ? [t.function.name] : []));
}

function toolSetup(request: Json, warnings: Warning[]): ToolSetup {
  let functions = declarations(request.tools, warnings);
  const choice = request.tool_choice;
  let config: Json | undefined;
  if (choice === 'none') config = { mode: 'NONE' };
  else if (choice === 'auto') config = { mode: 'AUTO' };
  else if (choice === 'required') config = { mode: 'ANY' };
  else if (isObject(choice) && choice.type === 'function' && isObject(choice.function) && typeof choice.function.name === 'string') {
    config = { mode: 'ANY', allowedFunctionNames: [choice.function.name] };
  } else if (isObject(choice) && choice.type === 'allowed_tools' && isObject(choice.allowed_tools)) {
    const allowed = new Set(namesOf(choice.allowed_tools.tools));
    functions = functions.filter((d) => allowed.has(String(d.name)));
    config = { mode: choice.allowed_tools.mode === 'required' ? 'ANY' : 'AUTO' };
  } else if (choice !== undefined && choice !== null) {
    warnings.push({ code: 'unsupported_parameter', param: 'tool_choice', message: 'this tool_choice has no Gemini equivalent; ignored' });
  }
  if (functions.length === 0) return { tools: undefined, toolConfig: undefined };
  return { tools: [{ functionDeclarations: functions }], toolConfig: config ? { functionCallingConfig: config } : undefined };
}

function modelPath(model: string): string {
  // A full resource name (models/…, tunedModels/…) is used as is; a bare id goes under models/.
  return model.includes('/') ? model : `models/${model}`;
}

export function encodeChatRequest(request: ChatRequest, call: CallContext): Encoded {
  const warnings: Warning[] = [];
  const body: Json = {};
  const { contents, systemInstruction } = convertMessages(request.messages, warnings);
  body.contents = contents;
  if (systemInstruction) body.systemInstruction = systemInstruction;
  const { tools, toolConfig } = toolSetup(request, warnings);
  if (tools) body.tools = tools;
  if (toolConfig) body.toolConfig = toolConfig;
  const config = generationConfig(request, call, warnings);
  if (Object.keys(config).length > 0) body.generationConfig = config;
  for (const [key, value] of Object.entries(request)) {
    if (HANDLED.has(key) || isDefault(key, value)) continue;
    warnings.push({ code: 'unsupported_parameter', param: key, message: `${key} is not supported by Gemini; ignored` });
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', ...call.settings.headers };
  if (call.settings.apiKey) headers['x-goog-api-key'] = call.settings.apiKey;
  const base = call.settings.baseUrl.replace(/\/+$/, '');
  const method = call.stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
  return {
    upstream: { method: 'POST', url: `${base}/${modelPath(call.upstreamModel)}:${method}`, headers, body: JSON.stringify(body) },
    warnings,
  };
}
