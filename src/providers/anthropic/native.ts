// Anthropic → Anthropic pass-through (ARCHITECTURE §3 fast path): the client's own Messages body goes
// upstream unchanged but for the model; the upstream's frames come back unchanged while this tap reads usage.
// https://docs.claude.com/en/api/messages , https://docs.claude.com/en/docs/build-with-claude/streaming
import type { NativeCodec, NativeFrame, SseFrame } from '../shared/types.ts';
import { isObject } from '../shared/usage.ts';
import { streamError } from './errors.ts';
import { headers } from './request.ts';
import { EMPTY_ANTHROPIC_USAGE, normalizedUsage, readUsage } from './response.ts';

function textOfBlocks(content: unknown): string[] {
  if (!Array.isArray(content)) return [];
  const out: string[] = [];
  for (const block of content as unknown[]) {
    if (!isObject(block)) continue;
    if (typeof block.text === 'string') out.push(block.text);
    if (typeof block.thinking === 'string') out.push(block.thinking);
    if (block.type === 'tool_use') out.push(String(block.name), JSON.stringify(block.input ?? {}));
  }
  return out;
}

function deltaText(delta: unknown): string | undefined {
  if (!isObject(delta)) return undefined;
  if (typeof delta.text === 'string') return delta.text;
  if (typeof delta.partial_json === 'string') return delta.partial_json;
  if (typeof delta.thinking === 'string') return delta.thinking;
  return undefined;
}

async function* tap(frames: AsyncIterable<SseFrame>): AsyncGenerator<NativeFrame> {
  let usage = EMPTY_ANTHROPIC_USAGE;
  for await (const frame of frames) {
    let event: unknown;
    try {
      event = JSON.parse(frame.data);
    } catch {
      yield { frame };
      continue;
    }
    if (!isObject(event)) {
      yield { frame };
      continue;
    }
    switch (event.type) {
      case 'message_start':
        usage = readUsage(isObject(event.message) ? event.message.usage : undefined, usage);
        yield { frame };
        break;
      case 'content_block_delta': {
        const delivered = deltaText(event.delta);
        yield delivered ? { frame, delivered } : { frame };
        break;
      }
      case 'message_delta':
        // Usage in message_delta is cumulative: with it, the report is complete.
        usage = readUsage(event.usage, usage);
        yield { frame, usage: normalizedUsage(usage) };
        break;
      case 'message_stop':
        yield { frame, done: true };
        break;
      case 'error':
        yield { frame, error: streamError(event) };
        break;
      default:
        yield { frame };
    }
  }
}

export const anthropicNative: NativeCodec = {
  protocol: 'anthropic',
  encodeRequest(original, call) {
    const body = { ...original, model: call.upstreamModel };
    const url = `${call.settings.baseUrl.replace(/\/+$/, '')}/messages`;
    return { upstream: { method: 'POST', url, headers: headers(call), body: JSON.stringify(body) }, warnings: [] };
  },
  usageFromBody(body) {
    return isObject(body) && isObject(body.usage) ? normalizedUsage(readUsage(body.usage)) : undefined;
  },
  deliveredFromBody(body) {
    return isObject(body) ? textOfBlocks(body.content) : [];
  },
  tap,
};
