// Worst-case quotes: what a request could cost at most, held before dispatch (ARCHITECTURE §4).
// Input tokens are counted with the bounded o200k counter (billing/tokens.ts: exact up to its limits, a true upper
// bound beyond), then given a margin because upstream tokenizers differ; output is max_completion_tokens /
// max_tokens or the model's cap; the per-request fee is part of every worst case.
import { tokenCost, type MicroCredits } from '../domain/money.ts';
import type { ChatRequest, EmbeddingsRequest } from '../providers/shared/types.ts';
import type { PricedModel } from './catalogue.ts';
import { TokenCounter, type TokenCount } from './tokens.ts';

/** Per-message framing tokens (role, separators) in OpenAI's chat format. */
const PER_MESSAGE = 4;
const REPLY_PRIMING = 3;
/** Worst case for one image part: a high-detail image at the largest tiling OpenAI documents. */
export const IMAGE_PART_TOKENS = 1_500;
/** Worst case for one audio or file part when its length is unknown before the upstream reads it. */
const OTHER_PART_TOKENS = 4_000;

/** Hands the content's texts to the counter; returns the tokens it counts by rule (media parts). */
function addContent(counter: TokenCounter, content: unknown): number {
  if (typeof content === 'string') counter.add(content);
  else if (!Array.isArray(content)) {
    if (content != null) counter.add(JSON.stringify(content));
  } else {
    let fixed = 0;
    for (const part of content as unknown[]) {
      if (typeof part !== 'object' || part === null) continue;
      const p = part as Record<string, unknown>;
      if (p.type === 'text' && typeof p.text === 'string') counter.add(p.text);
      else if (p.type === 'image_url') fixed += IMAGE_PART_TOKENS;
      else fixed += OTHER_PART_TOKENS;
    }
    return fixed;
  }
  return 0;
}

/** A request's texts in a counter, and the tokens counted by rule (framing, media parts, token arrays). */
interface Input {
  counter: TokenCounter;
  fixed: number;
}

async function total({ counter, fixed }: Input): Promise<TokenCount> {
  const counted = await counter.count();
  return { tokens: fixed + counted.tokens, exact: counted.exact };
}

function chatInput(request: ChatRequest): Input {
  const counter = new TokenCounter();
  let fixed = REPLY_PRIMING;
  for (const message of request.messages as unknown[]) {
    if (typeof message !== 'object' || message === null) continue;
    const m = message as Record<string, unknown>;
    fixed += PER_MESSAGE + addContent(counter, m.content);
    if (typeof m.name === 'string') counter.add(m.name);
    if (m.tool_calls !== undefined) counter.add(JSON.stringify(m.tool_calls));
  }
  if (request.tools !== undefined) counter.add(JSON.stringify(request.tools));
  if (request.response_format !== undefined) counter.add(JSON.stringify(request.response_format));
  return { counter, fixed };
}

/**
 * Tokens of the prompt as OpenAI's tokenizer counts them (no margin), yielding to the event loop while it
 * counts; `exact: false` when part of it was counted by its upper bound (billing/tokens.ts).
 */
export function countChatInput(request: ChatRequest): Promise<TokenCount> {
  return total(chatInput(request));
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

/** `counted`: the prompt's tokens (countChatInput: bounded work), counted once for every model a request may fall back to. */
export function quoteChat(request: ChatRequest, model: PricedModel, counted: number): Quote {
  const maxOut = maxOutputTokens(request, model);
  // Every output token could be a reasoning token (and the reverse): the dearer rate covers both.
  const hold = tokenCost(withMargin(counted), model.worstInputPerMtok) + tokenCost(maxOut, model.worstOutputPerMtok) + model.price.perRequest;
  return { hold, countedInputTokens: counted, maxOutputTokens: maxOut };
}

function embeddingsInput(request: EmbeddingsRequest): Input {
  const counter = new TokenCounter();
  const input: unknown = request.input;
  let fixed = 0;
  if (typeof input === 'string') counter.add(input);
  else if (Array.isArray(input)) {
    for (const item of input as unknown[]) {
      if (typeof item === 'string') counter.add(item);
      else if (typeof item === 'number') fixed += 1;
      else if (Array.isArray(item)) fixed += item.length;
    }
  }
  return { counter, fixed };
}

export function countEmbeddingsInput(request: EmbeddingsRequest): Promise<TokenCount> {
  return total(embeddingsInput(request));
}

/** `counted`: the input's tokens (countEmbeddingsInput: bounded work). */
export function quoteEmbeddings(request: EmbeddingsRequest, model: PricedModel, counted: number): Quote {
  return { hold: tokenCost(withMargin(counted), model.worstInputPerMtok) + model.price.perRequest, countedInputTokens: counted, maxOutputTokens: 0 };
}
