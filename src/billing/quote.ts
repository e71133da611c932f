// Worst-case quotes: what a request could cost at most, held before dispatch (ARCHITECTURE §4).
// Input tokens are counted with a real tokenizer (o200k_base via gpt-tokenizer), then given a margin
// because upstream tokenizers differ; output is max_completion_tokens / max_tokens or the model's cap; the
// per-request fee is part of every worst case.
import { countTokens } from 'gpt-tokenizer';
import { tokenCost, type MicroCredits } from '../domain/money.ts';
import type { ChatRequest, EmbeddingsRequest } from '../providers/shared/types.ts';
import type { PricedModel } from './catalogue.ts';

/** Per-message framing tokens (role, separators) in OpenAI's chat format. */
const PER_MESSAGE = 4;
const REPLY_PRIMING = 3;
/** Worst case for one image part: a high-detail image at the largest tiling OpenAI documents. */
export const IMAGE_PART_TOKENS = 1_500;
/** Worst case for one audio or file part when its length is unknown before the upstream reads it. */
const OTHER_PART_TOKENS = 4_000;

function contentTokens(content: unknown): number {
  if (typeof content === 'string') return countTokens(content);
  if (!Array.isArray(content)) return content == null ? 0 : countTokens(JSON.stringify(content));
  let total = 0;
  for (const part of content as unknown[]) {
    if (typeof part !== 'object' || part === null) continue;
    const p = part as Record<string, unknown>;
    if (p.type === 'text' && typeof p.text === 'string') total += countTokens(p.text);
    else if (p.type === 'image_url') total += IMAGE_PART_TOKENS;
    else total += OTHER_PART_TOKENS;
  }
  return total;
}

/** Tokens of the prompt as OpenAI's tokenizer counts them (no margin). */
export function countChatInputTokens(request: ChatRequest): number {
  let total = REPLY_PRIMING;
  for (const message of request.messages as unknown[]) {
    if (typeof message !== 'object' || message === null) continue;
    const m = message as Record<string, unknown>;
    total += PER_MESSAGE + contentTokens(m.content);
    if (typeof m.name === 'string') total += countTokens(m.name);
    if (m.tool_calls !== undefined) total += countTokens(JSON.stringify(m.tool_calls));
  }
  if (request.tools !== undefined) total += countTokens(JSON.stringify(request.tools));
  if (request.response_format !== undefined) total += countTokens(JSON.stringify(request.response_format));
  return total;
}

/** Counted tokens plus a margin for tokenizers that count more: +25 % + 16. */
export function withMargin(tokens: number): number {
  return tokens + Math.ceil(tokens / 4) + 16;
}

export interface Quote {
  hold: MicroCredits;
  countedInputTokens: number;
  maxOutputTokens: number;
}

export function maxOutputTokens(request: ChatRequest, model: PricedModel): number {
  const asked = request.max_completion_tokens ?? request.max_tokens;
  const perChoice = typeof asked === 'number' && asked > 0 ? Math.floor(asked) : model.config.maxOutputTokens;
  const n = typeof request.n === 'number' && request.n > 1 ? Math.floor(request.n) : 1;
  return perChoice * n;
}

export function quoteChat(request: ChatRequest, model: PricedModel): Quote {
  const counted = countChatInputTokens(request);
  const maxOut = maxOutputTokens(request, model);
  // Every output token could be a reasoning token (and the reverse): the dearer rate covers both.
  const hold = tokenCost(withMargin(counted), model.worstInputPerMtok) + tokenCost(maxOut, model.worstOutputPerMtok) + model.price.perRequest;
  return { hold, countedInputTokens: counted, maxOutputTokens: maxOut };
}

export function countEmbeddingsInputTokens(request: EmbeddingsRequest): number {
  const input: unknown = request.input;
  if (typeof input === 'string') return countTokens(input);
  if (!Array.isArray(input)) return 0;
  let total = 0;
  for (const item of input as unknown[]) {
    if (typeof item === 'string') total += countTokens(item);
    else if (typeof item === 'number') total += 1;
    else if (Array.isArray(item)) total += item.length;
  }
  return total;
}

export function quoteEmbeddings(request: EmbeddingsRequest, model: PricedModel): Quote {
  const counted = countEmbeddingsInputTokens(request);
  return { hold: tokenCost(withMargin(counted), model.worstInputPerMtok) + model.price.perRequest, countedInputTokens: counted, maxOutputTokens: 0 };
}
