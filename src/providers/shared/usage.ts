// Helpers shared by adapters for reading provider JSON safely (no `any`).
export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function int(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** A short, content-free summary of an upstream error body: its code/type and a bounded message. */
export function summarizeUpstreamError(body: unknown, status: number | undefined): string {
  const err = isObject(body) && isObject(body.error) ? body.error : isObject(body) ? body : undefined;
  const code = err && (typeof err.code === 'string' ? err.code : typeof err.type === 'string' ? err.type : undefined);
  const message = err && typeof err.message === 'string' ? err.message : undefined;
  const head = `upstream returned ${status ?? 'an error'}${code ? ` (${code})` : ''}`;
  if (!message) return head;
  const short = message.length > 200 ? `${message.slice(0, 200)}…` : message;
  return `${head}: ${short}`;
}
