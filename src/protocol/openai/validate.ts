// Inbound OpenAI requests: validated for the fields the gateway relies on; everything else (unknown fields
// included) is left for the upstream to judge and forwarded unchanged.
// https://platform.openai.com/docs/api-reference/chat/create
// https://platform.openai.com/docs/api-reference/embeddings/create
import { z } from 'zod';
import { GatewayError } from '../../domain/errors.ts';
import type { ChatRequest, EmbeddingsRequest } from '../../providers/shared/types.ts';

const positiveInt = z.number().int().min(1);

const contentPart = z.looseObject({ type: z.string() });
const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
  name: z.string().optional(),
});

const chatSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: positiveInt.nullish(),
  max_completion_tokens: positiveInt.nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  tools: z.array(z.looseObject({ type: z.string() })).optional(),
  tool_choice: z.union([z.string(), z.looseObject({ type: z.string() })]).optional(),
  response_format: z.looseObject({ type: z.string() }).optional(),
  models: z.array(z.string().min(1)).max(10).optional(),
});

const embeddingsSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int()).min(1)).min(1),
  ]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: positiveInt.optional(),
});

function paramOf(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

function check<T>(schema: z.ZodType, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'The request body must be a JSON object.');
  }
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const param = issue ? paramOf(issue.path) : null;
    const message = issue ? `Invalid value for '${param || 'body'}': ${issue.message}` : 'Invalid request body.';
    throw new GatewayError('invalid_request', message, { param });
  }
  // The original object is kept (not zod's copy) so unknown fields pass through untouched.
  return body as T;
}

export function validateChatRequest(body: unknown): ChatRequest {
  return check<ChatRequest>(chatSchema, body);
}

export function validateEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  return check<EmbeddingsRequest>(embeddingsSchema, body);
}
