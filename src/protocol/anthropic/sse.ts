// The one place that writes Anthropic SSE frames: `event: <type>` + `data: <json>`.
// https://docs.claude.com/en/docs/build-with-claude/streaming
export function anthropicEvent(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** An upstream Anthropic frame passed through as it came. */
export function anthropicRawEvent(type: string | undefined, data: string): string {
  return type ? `event: ${type}\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}
