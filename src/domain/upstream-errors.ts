// What the client and the operator see of an upstream's error (issue 11 finding 4). Pure: no I/O.
//
// - The operator gets a summary: the upstream's status, its error code/type and its message SCRUBBED (below),
//   stored with the request's usage event (GET /admin/v1/requests/{id}).
// - The client gets, for the operator's problems (429 rate limits, 401/403 credentials, 5xx, timeouts,
//   unreadable answers), a FIXED message for the class plus the request id; for its own mistakes
//   (upstream_rejected: 400/404/413/422) the scrubbed upstream message. clientMessage() is called by every
//   encoder of an error body or stream error event (protocol/*), so no path can forget it.
//
// Scrubbing removes what identifies the operator's accounts and network, or may echo the caller's prompt:
// quoted text (but a bare parameter name or path: 'temperature', 'messages[0].role'), URLs, e-mail addresses,
// API keys and key fragments, organization / project ids, UUIDs and long opaque ids, IP addresses and host
// names (a known public or internal suffix, or a port). Real messages it was written against (see the tests):
//   OpenAI    https://platform.openai.com/docs/guides/error-codes — "Rate limit reached for gpt-4o in
//             organization org-… on tokens per min (TPM): …", "Incorrect API key provided: sk-abc***wxyz. You can
//             find your API key at https://platform.openai.com/account/api-keys."
//   Anthropic https://docs.anthropic.com/en/api/errors — "This request would exceed the rate limit for your
//             organization (<uuid>) of 20,000 input tokens per minute. For details, refer to: https://…"
//   Gemini    https://ai.google.dev/gemini-api/docs/troubleshooting — "API key not valid. Please pass a valid
//             API key.", "Invalid JSON payload received. Unknown name \"foo\" at 'generation_config': …"
import type { ErrorCode, GatewayError } from './errors.ts';

/** Metadata only: never a prompt, an output, a credential or a host. */
export interface UpstreamSummary {
  /** The upstream's HTTP status; null for a transport failure or an error event inside a stream. */
  status: number | null;
  /** The upstream's error code or type (e.g. rate_limit_exceeded, INVALID_ARGUMENT), or the transport failure's kind. */
  code: string | null;
  /** The upstream's message, scrubbed; null when it sent none. */
  message: string | null;
}

/** Longest scrubbed message kept, in characters. */
export const MAX_UPSTREAM_MESSAGE = 160;
/** Only the start of a long upstream message is read (bounded regex work). */
const MAX_INPUT = 1_000;

const QUOTED = '[…]';
/** A quoted parameter name or path ('temperature', 'messages[0].content'): no digits, spaces or dashes; kept. */
const PARAM_PATH = /^[A-Za-z_]+(?:\.[A-Za-z_]+|\[\d+\])*$/;
const TLDS = [
  'com', 'net', 'org', 'io', 'ai', 'dev', 'app', 'cloud', 'co', 'me', 'info', 'biz', 'xyz', 'tech', 'site', 'us', 'uk', 'eu',
  'de', 'fr', 'nl', 'se', 'ch', 'jp', 'cn', 'in', 'ru', 'br', 'ca', 'au', 'internal', 'local', 'localdomain', 'lan', 'corp',
  'home', 'intranet', 'svc', 'cluster', 'localhost',
].join('|');

/** In order: each rule sees what the previous ones left. */
const RULES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'`<>)\]]*[^\s"'`<>)\].,;:!?]/gi, '[url]'],
  [/\b[\w.+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+\b/gi, '[email]'],
  [/(\bAPI key provided:\s*)\S+?(?=[.,;]?(?:\s|$))/gi, '$1[key]'],
  [/\b(Bearer|Basic)\s+\S+/g, '$1 [key]'],
  [/\b(?:sk|pk|rk)-[\w*.-]{3,}/g, '[key]'],
  [/\bAIza[\w-]{10,}/g, '[key]'],
  [/\borg-[A-Za-z0-9]{3,}\b/g, '[org]'],
  [/\bproj_[A-Za-z0-9]{3,}\b/g, '[project]'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '[id]'],
  // "in organization XXXXXXXX": an id after the word, not a lowercase English word ("of", "settings").
  [/\b([Oo]rgani[sz]ation|[Pp]roject|[Tt]enant|[Aa]ccount)(\s+(?:id\s+|ID\s+)?)(?![a-z]+\b)([\w-]{4,})/g, '$1$2[id]'],
  [/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b/g, '[ip]'],
  // IPv6: four or more groups, or a compressed form with "::".
  [/(?<![\w:])(?:(?:[0-9a-f]{1,4}:){3,7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?)(?![\w:])/gi, '[ip]'],
  [new RegExp(`\\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+(?:${TLDS})\\b(?::\\d{1,5})?`, 'gi'), '[host]'],
  [/\blocalhost(?::\d{1,5})?\b/gi, '[host]'],
  // name:port (a letter in the name, so "12:30" stays).
  [/\b(?=[a-z0-9-]*[a-z])[a-z0-9][a-z0-9-]*:\d{2,5}\b/gi, '[host]'],
  // Long opaque tokens (request ids, unprefixed keys, blobs): letters and digits mixed, 20+ characters.
  [/\b(?=[\w-]*\d)(?=[\w-]*[a-z])[\w-]{20,}\b/gi, '[id]'],
  [/\S{48,}/g, QUOTED],
];

/** Replaces quoted text with […] (a parameter path stays); an unterminated quote drops the rest of the text. */
function dropQuoted(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? '';
    const close = closerOf(text, i);
    if (close === undefined) {
      out += ch;
      i += 1;
      continue;
    }
    const end = findClose(text, i + 1, close);
    if (end === -1) return `${out}${QUOTED}`;
    const inner = text.slice(i + 1, end);
    out += inner.length <= 48 && PARAM_PATH.test(inner) ? `${ch}${inner}${text[end] ?? ''}` : QUOTED;
    i = end + 1;
  }
  return out;
}

/** The closing quote for an opening quote at i, or undefined when text[i] opens nothing (an apostrophe). */
function closerOf(text: string, i: number): string | undefined {
  const ch = text[i];
  if (ch === '"' || ch === '`') return ch;
  if (ch === '“') return '”';
  if (ch === '‘') return '’';
  if (ch === '«') return '»';
  // ' opens only after a non-word character: "OpenAI's" and "users' data" are apostrophes.
  if (ch === "'" && (i === 0 || /[^\p{L}\p{N}_]/u.test(text[i - 1] ?? ''))) return "'";
  return undefined;
}

function findClose(text: string, from: number, close: string): number {
  for (let j = from; j < text.length; j++) {
    if (text[j] === '\\') {
      j += 1;
      continue;
    }
    if (text[j] !== close) continue;
    // ' closes only before a non-word character ("it's" inside a quote goes on).
    if (close === "'" && j + 1 < text.length && /[\p{L}\p{N}_]/u.test(text[j + 1] ?? '')) continue;
    return j;
  }
  return -1;
}

/** The upstream's message with nothing that identifies the operator or echoes the caller; short, one line. */
export function scrubUpstreamMessage(text: string, maxLength = MAX_UPSTREAM_MESSAGE): string {
  // eslint-disable-next-line no-control-regex
  let out = dropQuoted(text.slice(0, MAX_INPUT).replace(/[\u0000-\u001f\u007f]+/g, ' '));
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  out = out.replace(/\s+/g, ' ').trim();
  if (out.length <= maxLength) return out;
  const cut = out.slice(0, maxLength);
  const space = cut.lastIndexOf(' ');
  return `${(space > maxLength * 0.6 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** An upstream error code or type as given, if it looks like one (rate_limit_exceeded, INVALID_ARGUMENT); else null. */
export function upstreamCode(value: unknown): string | null {
  return typeof value === 'string' && /^[A-Za-z][\w.-]{0,63}$/.test(value) ? value : null;
}

/** `upstream returned 429 (rate_limit_exceeded): <scrubbed message>` — the operator's one-line view. */
export function describeUpstream(summary: UpstreamSummary): string {
  const head = `upstream returned ${summary.status ?? 'an error'}${summary.code ? ` (${summary.code})` : ''}`;
  return summary.message ? `${head}: ${summary.message}` : head;
}

/** The client's message for each class that is the operator's problem, not the caller's. */
const FIXED_MESSAGES: Partial<Record<ErrorCode, string>> = {
  upstream_rate_limited: 'The upstream provider is rate limiting this model; retry later',
  upstream_auth_failed: "The upstream provider refused the gateway's credentials for this model; please report it to the gateway's operator",
  upstream_error: 'The upstream provider failed to answer; retry later',
  upstream_timeout: 'The upstream provider did not answer in time; retry later',
  upstream_bad_response: 'The upstream provider sent an answer the gateway could not read; retry later',
};

/**
 * The message a client sees for an error: a fixed one plus the request id for the operator's upstream
 * problems, whatever the error carries; the error's own message otherwise (the gateway's own wording, or the
 * scrubbed upstream summary of an upstream_rejected).
 */
export function clientMessage(error: GatewayError, requestId: string | null): string {
  const fixed = FIXED_MESSAGES[error.code];
  if (fixed === undefined) return error.message;
  return requestId ? `${fixed} (request ${requestId}).` : `${fixed}.`;
}
