// The one SSE decoder (ARCHITECTURE §3): bytes from the upstream → frames, via eventsource-parser.
// Spec: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
import { createParser } from 'eventsource-parser';
import type { SseFrame } from './types.ts';

export async function* sseFrames(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let queue: SseFrame[] = [];
  const parser = createParser({
    onEvent(event) {
      queue.push({ event: event.event, data: event.data });
    },
  });
  for await (const chunk of body) {
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    if (queue.length > 0) {
      const ready = queue;
      queue = [];
      for (const frame of ready) yield frame;
    }
  }
  parser.feed(decoder.decode());
  // A final event without its blank line is still dispatched (the stream ended, not the event).
  parser.reset({ consume: true });
  for (const frame of queue) yield frame;
}
