// Values shared by the bench's processes (no side effects: safe to import anywhere).
export const MOCK_API_KEY = 'bench-upstream-key';
export const MODEL = 'gpt-4o-mini';
/** Words in the streamed reply: one SSE frame per word, ~20 chunks like a short real answer. */
export const SSE_WORDS = 20;

export const JSON_BODY = JSON.stringify({
  model: MODEL,
  messages: [{ role: 'user', content: 'Hello, how are you today?' }],
  max_tokens: 64,
});

export const SSE_BODY = JSON.stringify({
  model: MODEL,
  messages: [{ role: 'user', content: `#words:${SSE_WORDS}` }],
  max_tokens: 64,
  stream: true,
  stream_options: { include_usage: true },
});
