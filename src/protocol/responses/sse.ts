// The one place that writes Responses API SSE frames: `event: <type>` + `data: <json>`, no `[DONE]` at the end
// (a Responses stream ends after its terminal event: response.completed / .incomplete / .failed, or `error`).
// https://platform.openai.com/docs/api-reference/responses-streaming
export interface StreamEvent {
  type: string;
  sequence_number: number;
}

export function responsesEvent(event: StreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** An upstream Responses event passed through as it came. */
export function responsesRawEvent(type: string | undefined, data: string): string {
  return type ? `event: ${type}\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}
