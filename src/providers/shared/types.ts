// The provider-adapter contract (ARCHITECTURE §3). An adapter translates; it never sends.
// Adapters import only domain/ and providers/shared/: no Fastify, no database, no network, no env.
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
} from 'openai/resources/chat/completions';
import type { CreateEmbeddingResponse, EmbeddingCreateParams } from 'openai/resources/embeddings';
import type { GatewayError } from '../../domain/errors.ts';
import type { Usage } from '../../domain/usage.ts';

/** The canonical chat request: OpenAI Chat Completions, with any unknown fields kept for pass-through. */
export type ChatRequest = ChatCompletionCreateParams & Record<string, unknown>;
export type EmbeddingsRequest = EmbeddingCreateParams & Record<string, unknown>;

/** `openai-responses`: OpenAI's Responses API, a protocol of its own beside OpenAI chat. */
export type WireProtocol = 'openai' | 'openai-responses' | 'anthropic' | 'gemini';

export interface UpstreamRequest {
  method: 'POST' | 'GET';
  /** Absolute URL. */
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** A channel's settings as the adapter sees them (secrets already decrypted by the core). */
export interface ChannelSettings {
  baseUrl: string;
  apiKey: string | undefined;
  headers: Readonly<Record<string, string>>;
  /** The provider's `api_version` (Azure OpenAI); undefined when not configured. */
  apiVersion?: string | undefined;
}

export interface CallContext {
  settings: ChannelSettings;
  /** The model name the upstream knows. */
  upstreamModel: string;
  stream: boolean;
  /** The model's configured output cap: what to send when the upstream requires max_tokens and the client set none. */
  maxOutputTokens: number;
}

export interface Warning {
  code: string;
  message: string;
  param?: string;
}

export interface Encoded {
  upstream: UpstreamRequest;
  warnings: Warning[];
}

export interface ChatResult {
  response: ChatCompletion;
  /** Undefined when the upstream reported none. */
  usage: Usage | undefined;
  /** The provider's own usage object, kept for audit. */
  rawUsage: unknown;
}

export interface SseFrame {
  event: string | undefined;
  data: string;
}

export type ChatStreamEvent =
  | {
      type: 'chunk';
      chunk: ChatCompletionChunk;
      /** The upstream's JSON text when the chunk is forwarded unchanged (same-protocol fast path). */
      raw: string | undefined;
      /** Present on the chunk that reports usage. */
      usage: Usage | undefined;
    }
  | { type: 'done' }
  | { type: 'error'; error: GatewayError };

export interface EmbeddingsResult {
  response: CreateEmbeddingResponse;
  usage: Usage | undefined;
}

export interface Codec<Req, Res> {
  encodeRequest(request: Req, call: CallContext): Encoded;
  decodeResponse(body: unknown, call: CallContext): Res;
}

/** What the transport saw go wrong; the adapter decides what it means. */
export interface UpstreamFailure {
  kind: 'connect' | 'connect_timeout' | 'first_byte_timeout' | 'idle_timeout' | 'reset' | 'status' | 'bad_response';
  status?: number;
  headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed error body when it was JSON; used for a short summary only, never logged or stored. */
  body?: unknown;
  message: string;
}

/** One of the upstream's own stream frames, read (never changed) for what billing needs. */
export interface NativeFrame {
  frame: SseFrame;
  /** Set when this frame completes the usage report. */
  usage?: Usage;
  /** Text of output in this frame (counted only when the upstream reports no usage). */
  delivered?: string;
  /** The upstream's normal end of stream. */
  done?: boolean;
  /** The upstream reported an error in the stream. */
  error?: GatewayError;
}

/**
 * Same-protocol pass-through (ARCHITECTURE §3 fast path): the client's own body goes upstream unchanged but
 * for the model name, and the upstream's bytes come back unchanged while a tap reads usage.
 */
export interface NativeCodec {
  /** The client protocol this codec passes through (a dialect of the same protocol uses it). */
  protocol: WireProtocol;
  encodeRequest(original: Record<string, unknown>, call: CallContext): Encoded;
  usageFromBody(body: unknown): Usage | undefined;
  /** Text of the output in a JSON response (for billing when no usage was reported). */
  deliveredFromBody(body: unknown): string[];
  tap(frames: AsyncIterable<SseFrame>): AsyncIterable<NativeFrame>;
}

/** How an upstream takes the API key: `Authorization: Bearer <key>`, not at all, or in a named header. */
export type AuthStyle = 'bearer' | 'none' | { header: string };

/**
 * Streamed usage: `include_usage` = reported only when asked with `stream_options.include_usage`; `always` =
 * reported without being asked; `never` = not reported (the gateway bills by counting).
 */
export type StreamUsagePolicy = 'include_usage' | 'always' | 'never';

export interface ProviderCapabilities {
  chat: boolean;
  embeddings: boolean;
  tools: boolean;
  vision: boolean;
  jsonSchema: boolean;
  /** Serves OpenAI's Responses API (POST /responses): /v1/responses is passed through to it. */
  responses?: boolean;
}

/** What a provider type is and does, for start-up defaults and the generated docs/providers.md. */
export interface ProviderDescription {
  name: string;
  /** The provider's own documentation of its API (or of its OpenAI compatibility). */
  docsUrl: string;
  /** Used when the provider's config omits `base_url`. */
  defaultBaseUrl?: string;
  auth: AuthStyle;
  streamUsage?: StreamUsagePolicy;
  /** Request parameters always removed (each one reported as a warning). */
  unsupportedParams?: readonly string[];
  /** Other quirks, human-readable: per-model removals, renamed or limited parameters, notes. */
  quirks?: readonly string[];
  capabilities?: ProviderCapabilities;
  /** Provider config fields beyond the common ones that this type reads (e.g. `api_version`). */
  configFields?: readonly string[];
}

export interface ProviderAdapter {
  id: string;
  protocol: WireProtocol;
  /** Optional metadata: the default base URL and what docs/providers.md says about the type. */
  describe?: ProviderDescription;
  /** Present when the adapter can pass its own protocol through untouched. */
  native?: NativeCodec;
  chat?: {
    encodeRequest(request: ChatRequest, call: CallContext): Encoded;
    decodeResponse(body: unknown, call: CallContext): ChatResult;
    decodeStream(frames: AsyncIterable<SseFrame>, call: CallContext): AsyncIterable<ChatStreamEvent>;
  };
  embeddings?: Codec<EmbeddingsRequest, EmbeddingsResult>;
  classifyError(failure: UpstreamFailure): GatewayError;
}
