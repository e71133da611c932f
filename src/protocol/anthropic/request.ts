// Inbound Anthropic Messages request → the canonical OpenAI chat request.
// https://docs.claude.com/en/api/messages (request body, content blocks, tools, tool_choice)
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { z } from 'zod';
import { GatewayError } from '../../domain/errors.ts';
import type { ChatRequest, Warning } from '../../providers/shared/types.ts';

const block = z.looseObject({ type: z.string() });
const messagesSchema = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().min(1),
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']), content: z.union([z.string(), z.array(block)]) })).min(1),
  system: z.union([z.string(), z.array(block)]).optional(),
  stream: z.boolean().optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  tools: z.array(z.looseObject({ name: z.string().min(1) })).optional(),
  tool_choice: z.looseObject({ type: z.enum(['auto', 'any', 'tool', 'none']), name: z.string().optional() }).optional(),
  metadata: z.looseObject({ user_id: z.string().optional() }).optional(),
});

export type AnthropicRequest = z.infer<typeof messagesSchema>;
type Block = Record<string, unknown>;

function paramOf(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

export function validateMessagesRequest(body: unknown): AnthropicRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'The request body must be a JSON object.');
  }
  const result = messagesSchema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const param = issue ? paramOf(issue.path) : null;
    throw new GatewayError('invalid_request', `${param || 'body'}: ${issue?.message ?? 'invalid'}`, { param });
  }
  return body as AnthropicRequest;
}

const blocksOf = (content: string | Block[]): Block[] => (typeof content === 'string' ? [{ type: 'text', text: content }] : content);
const text = (b: Block): string => (typeof b.text === 'string' ? b.text : '');

function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return content === undefined ? '' : JSON.stringify(content);
  return (content as Block[]).map((b) => (b.type === 'text' ? text(b) : JSON.stringify(b))).join('\n');
}

function imagePart(b: Block): { type: 'image_url'; image_url: { url: string } } | undefined {
  const source = b.source as Block | undefined;
  if (source?.type === 'base64' && typeof source.media_type === 'string' && typeof source.data === 'string') {
    return { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } };
  }
  if (source?.type === 'url' && typeof source.url === 'string') return { type: 'image_url', image_url: { url: source.url } };
  return undefined;
}

function userMessages(blocks: Block[], warnings: Warning[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  const parts: Array<{ type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } }> = [];
  for (const b of blocks) {
    if (b.type === 'tool_result') {
      const content = toolResultText(b.content);
      out.push({ role: 'tool', tool_call_id: String(b.tool_use_id), content: b.is_error === true ? `Error: ${content}` : content });
    } else if (b.type === 'text') parts.push({ type: 'text', text: text(b) });
    else if (b.type === 'image') {
      const image = imagePart(b);
      if (image) parts.push(image);
      else warnings.push({ code: 'unsupported_content', message: 'An image source other than base64 or url was dropped.', param: 'messages' });
    } else warnings.push({ code: 'unsupported_content', message: `A "${String(b.type)}" content block cannot be sent to this upstream and was dropped.`, param: 'messages' });
  }
  if (parts.length > 0) {
    const onlyText = parts.every((p) => p.type === 'text');
    out.push({ role: 'user', content: onlyText ? parts.map((p) => (p.type === 'text' ? p.text : '')).join('\n') : parts });
  }
  return out;
}

function assistantMessage(blocks: Block[]): ChatCompletionMessageParam {
  const texts = blocks.filter((b) => b.type === 'text').map(text);
  const calls = blocks
    .filter((b) => b.type === 'tool_use')
    .map((b) => ({ id: String(b.id), type: 'function' as const, function: { name: String(b.name), arguments: JSON.stringify(b.input ?? {}) } }));
  // Earlier turns' thinking blocks only mean something to Anthropic models; they are not carried over.
  return { role: 'assistant', content: texts.length > 0 ? texts.join('') : null, ...(calls.length > 0 ? { tool_calls: calls } : {}) };
}

/** Translates to the canonical request; what cannot be carried over is reported in `warnings`. */
export function toCanonical(request: AnthropicRequest, warnings: Warning[]): ChatRequest {
  const messages: ChatCompletionMessageParam[] = [];
  if (request.system !== undefined) {
    const system = typeof request.system === 'string' ? request.system : request.system.map(text).join('\n');
    if (system) messages.push({ role: 'system', content: system });
  }
  for (const m of request.messages) {
    const blocks = blocksOf(m.content as string | Block[]);
    if (m.role === 'user') messages.push(...userMessages(blocks, warnings));
    else messages.push(assistantMessage(blocks));
  }
  const canonical: ChatRequest = { model: request.model, messages, max_tokens: request.max_tokens } as ChatRequest;
  if (request.stream) {
    canonical.stream = true;
    canonical.stream_options = { include_usage: true };
  }
  if (request.temperature !== undefined) canonical.temperature = request.temperature;
  if (request.top_p !== undefined) canonical.top_p = request.top_p;
  if (request.stop_sequences?.length) canonical.stop = request.stop_sequences;
  if (request.metadata?.user_id) canonical.user = request.metadata.user_id;
  if (request.tools?.length) {
    canonical.tools = request.tools.map((t) => ({
      type: 'function' as const,
      function: { name: t.name, ...(typeof t.description === 'string' ? { description: t.description } : {}), parameters: (t.input_schema ?? { type: 'object' }) as Record<string, unknown> },
    }));
  }
  const choice = request.tool_choice;
  if (choice) {
    canonical.tool_choice =
      choice.type === 'any' ? 'required' : choice.type === 'tool' && choice.name ? { type: 'function', function: { name: choice.name } } : choice.type === 'none' ? 'none' : 'auto';
    if (choice.disable_parallel_tool_use === true) canonical.parallel_tool_calls = false;
  }
  if (request.top_k !== undefined) warnings.push({ code: 'unsupported_parameter', message: 'top_k has no equivalent on this upstream and was not sent.', param: 'top_k' });
  if (request.thinking !== undefined) warnings.push({ code: 'unsupported_parameter', message: 'thinking is only honoured by Anthropic upstreams and was not sent.', param: 'thinking' });
  return canonical;
}
