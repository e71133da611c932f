// A client dialect: how one inbound protocol (OpenAI chat, Anthropic messages, OpenAI responses) is read
// into the canonical request and how the canonical result is written back. The request path itself
// (quote, hold, dispatch, settle) is the same for every dialect (http/pipeline.ts).
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { GatewayError } from '../domain/errors.ts';
import type { MicroCredits } from '../domain/money.ts';
import type { Usage } from '../domain/usage.ts';
import type { ChatRequest, SseFrame, Warning, WireProtocol } from '../providers/shared/types.ts';

/** What the request was billed: the usage the charge was computed from and the charge itself. */
export interface Receipt {
  usage: Usage | undefined;
  cost: MicroCredits;
}

export interface DecodedChat {
  /** The canonical (OpenAI chat) request used for quoting and for translating to other protocols. */
  canonical: ChatRequest;
  /** The client's own body, forwarded unchanged (but for the model) to an upstream of the same protocol. */
  original: Record<string, unknown>;
  stream: boolean;
  /** The client asked for usage in the stream (OpenAI: stream_options.include_usage). */
  wantsStreamUsage: boolean;
  /** What the translation to the canonical request could not carry (reported in x-switchyard-warnings). */
  warnings: Warning[];
  /** Models to fall back to, in order, when every channel of the requested one fails (OpenRouter's `models`). */
  fallbackModels?: string[];
}

export interface DialectContext {
  requestId: string;
  /** The public model id the client asked for. */
  model: string;
  wantsStreamUsage: boolean;
  /** The prompt as the gateway counted it (for protocols that announce input tokens before usage arrives). */
  countedInputTokens: number;
  /** The client's own (validated) body: for protocols whose response echoes request fields. */
  original: Record<string, unknown>;
  /** When the request arrived, in Unix seconds. */
  createdAt: number;
}

export interface ChatStreamEncoder {
  /**
   * SSE text for one canonical chunk ('' sends nothing). `raw` is the upstream's JSON when it spoke this
   * dialect; `receipt` is set on the chunk that carries the usage.
   */
  chunk(chunk: ChatCompletionChunk, raw: string | undefined, receipt: Receipt | undefined): string;
  /** The normal end of the stream (the receipt when usage was known). */
  end(receipt: Receipt | undefined): string;
  /** After the first byte, a failure ends the stream explicitly: never a silent truncation. */
  error(error: GatewayError): string;
}

export interface ChatDialect {
  /** The wire protocol this dialect speaks: an upstream of the same protocol may be passed through. */
  protocol: WireProtocol;
  /** The usage event's endpoint name. */
  endpoint: string;
  decode(body: unknown): DecodedChat;
  encodeResponse(response: ChatCompletion, receipt: Receipt, context: DialectContext): unknown;
  streamEncoder(context: DialectContext): ChatStreamEncoder;
  errorBody(error: GatewayError, requestId: string | null): unknown;
  /** Same-protocol pass-through of the upstream's own body and frames (with the receipt added). */
  passThrough?: {
    encodeResponse(body: unknown, receipt: Receipt): unknown;
    /** SSE text for one of the upstream's own frames; `receipt` when the frame reported the usage. */
    frame(frame: SseFrame, receipt: Receipt | undefined): string;
    /**
     * A bare error event (the stream's opening events were the upstream's and have been sent), also in place of
     * an error event the upstream sent: the client never gets the upstream's own words.
     */
    error(error: GatewayError, requestId: string): string;
  };
}
