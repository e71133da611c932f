// The one token counter (o200k_base, as gpt-tokenizer counts it), with bounded work per text (issue 11).
//
// Byte-level BPE (o200k) is exact but quadratic in a pre-token: 100,000 letters without a break took seconds.
// So the text is cut where o200k's pre-tokenizer provably cuts, and:
//   - every pre-token (or run of short pre-tokens) up to `longPretoken` characters is counted exactly;
//   - a longer pre-token counts as its UTF-8 bytes: o200k's tokens are non-empty byte strings that partition the
//     text's bytes, so tokens ≤ bytes — a true upper bound, never below the exact count;
//   - once a counter has done `budget` units of work, or spent `timeBudgetMs` counting (a backstop: the cost of
//     gpt-tokenizer's merge cache varies ~30x with the text), the rest of its text counts as its UTF-8 bytes.
// The sum is exactly gpt-tokenizer's count when nothing was bounded (`exact: true`), otherwise an upper bound.
// Work is done in slices of a few milliseconds; `count()` yields to the event loop between slices.
//
// Where o200k provably cuts (its split regex, gpt-tokenizer's O200K_TOKEN_SPLIT_REGEX; `\s` as JavaScript's):
//   (a) between a non-space X and a space W that is not \r or \n: no alternative of the regex holds a non-space
//       followed by such a space (letters take only letters/marks/'s after an optional first char; punctuation
//       takes only [\r\n/] after itself; digits only digits; space runs no non-space);
//   (b) between \r or \n and a non-space other than '/': the only alternative that holds a newline followed by a
//       non-space is punctuation's tail `[\r\n/]*`, and that takes only '/'.
// Neither depends on text after the cut, so a stream can be counted as it arrives, exactly as the whole text.
// Between such cuts the regex itself finds the pre-tokens, over windows of `window` characters; a window's
// last pre-tokens may still grow with the text after it, so only cuts between two non-spaces, away from the
// window's end, are taken from it (test/tokens.test.ts checks both against gpt-tokenizer on random texts).
import { countTokens, setMergeCacheSize } from 'gpt-tokenizer';
import { O200K_TOKEN_SPLIT_REGEX } from 'gpt-tokenizer/encodingParams/constants';

export interface TokenCount {
  tokens: number;
  /** False when part of the text was counted by its upper bound (a long pre-token, or the budget spent). */
  exact: boolean;
}

export interface CounterLimits {
  /** Work units (≈ characters of prose) counted exactly; beyond them, UTF-8 bytes. */
  budget: number;
  /** Longest pre-token (UTF-16 units) counted exactly. */
  longPretoken: number;
  /** Characters the pre-tokenizer regex reads at once inside a text without cuts. */
  window: number;
  /** CPU time (ms) a counter may spend counting exactly. */
  timeBudgetMs: number;
}

/**
 * ~2 MB of prose counted exactly (≈0.3 s of CPU on the bench machine, in slices); beyond a pre-token of 256
 * characters BPE costs more than ~0.5 ms, so longer ones are bounded.
 */
export const DEFAULT_LIMITS: Readonly<CounterLimits> = Object.freeze({ budget: 2_000_000, longPretoken: 256, window: 4_096, timeBudgetMs: 1_000 });

/** No token is special: a prompt that contains `<|endoftext|>` is text (gpt-tokenizer throws by default). */
const AS_TEXT = { disallowedSpecial: new Set<string>() };
/** Time the counter works before it lets the event loop run. */
const SLICE_MS = 5;
/** Input is fed in pieces of this many UTF-16 units, so one step stays within a slice. */
const CHUNK = 4_096;
const BATCH_CHARS = 8_192;
const BATCH_WORK = 20_000;
/** What one tokenizer call costs beyond its text (a prompt of a million one-letter messages is not free). */
const CALL_WORK = 32;
/** A cut taken from a window stays this far from the window's end (a contraction is at most 3 characters). */
const WINDOW_MARGIN = 8;

/** JavaScript's `\s` (the regex's notion of a space). */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

const NEWLINE = (c: number): boolean => c === 0x0a || c === 0x0d;

/** A provable pre-token cut between `prev` and `c` (rules (a) and (b) above). */
function isCut(prev: number, c: number): boolean {
  if (prev < 0) return false;
  if (NEWLINE(prev)) return !isSpace(c) && c !== 0x2f;
  return !isSpace(prev) && isSpace(c) && !NEWLINE(c);
}

/** Estimated CPU of counting `n` characters exactly, in units of one character of prose (BPE is quadratic). */
function workOf(n: number): number {
  return n + Math.floor((n * n) / 25);
}

/**
 * gpt-tokenizer's merge cache (an LRU of 100,000 pre-tokens by default) evicts by deleting a Map's oldest key, which
 * V8 finds by skipping every earlier deletion: once full of unique pre-tokens (random letters, identifiers) every
 * count in the process slows down ~10x (measured: 100 KB of random letters 1.5 s, 1 MB of prose and code 410 ms).
 * At 10,000 entries: 260 ms and 175 ms.
 */
setMergeCacheSize(10_000);

const END = Symbol('end of text');
const splitter = new RegExp(O200K_TOKEN_SPLIT_REGEX.source, 'gu');
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Counts the tokens of one or more texts, as separate `countTokens` calls would, within a work budget.
 * `push` appends to the current text (a stream's deltas), `endText` ends it; `count` waits for the total.
 */
export class TokenCounter {
  private readonly limits: CounterLimits;
  private tokens = 0;
  private exact = true;
  private work = 0;
  private elapsedMs = 0;
  private readonly queue: Array<string | typeof END> = [];
  private head = 0;
  private draining: Promise<void> | undefined;
  // The current text: `piece` is its uncommitted tail, which starts at a cut.
  private piece = '';
  private prev = -1;
  /** Inside a piece whose rest is bounded by its bytes (no safe cut found in a whole window). */
  private bounding = false;
  private batch = '';
  private batchWork = 0;

  constructor(limits: Partial<CounterLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  push(text: string): void {
    for (let at = 0; at < text.length; ) {
      let end = Math.min(text.length, at + CHUNK);
      // Never split a surrogate pair between two steps.
      if (end < text.length && (text.charCodeAt(end - 1) & 0xfc00) === 0xd800) end += 1;
      this.queue.push(at === 0 && end === text.length ? text : text.slice(at, end));
      at = end;
    }
  }

  endText(): void {
    this.queue.push(END);
  }

  /** Counts one whole text. */
  add(text: string): void {
    this.push(text);
    this.endText();
  }

  /** The total of every text pushed so far (the current one ended), yielding to the event loop as it works. */
  async count(): Promise<TokenCount> {
    this.endText();
    while (this.head < this.queue.length) await this.drain();
    return { tokens: this.tokens, exact: this.exact };
  }

  /** The same, without yielding: for small texts and tests only (the request path awaits `count`). */
  countNow(): TokenCount {
    this.endText();
    while (this.head < this.queue.length) this.step();
    return { tokens: this.tokens, exact: this.exact };
  }

  /** One worker per counter: callers that wait at the same time share it. */
  private drain(): Promise<void> {
    this.draining ??= this.runSlices().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private async runSlices(): Promise<void> {
    let sliceStart = performance.now();
    while (this.head < this.queue.length) {
      this.step();
      if (performance.now() - sliceStart > SLICE_MS) {
        await tick();
        sliceStart = performance.now();
      }
    }
  }

  private step(): void {
    const started = performance.now();
    const item = this.queue[this.head];
    this.queue[this.head++] = '';
    if (this.head > 1_024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (item === END) this.finishText();
    else if (item !== undefined) this.feed(item);
    this.elapsedMs += performance.now() - started;
  }

  private get spent(): boolean {
    return this.work >= this.limits.budget || this.elapsedMs >= this.limits.timeBudgetMs;
  }

  private feed(text: string): void {
    if (this.spent) {
      this.piece = this.boundAllButSurrogate(this.piece + text);
      this.prev = text.charCodeAt(text.length - 1);
      return;
    }
    const long = this.limits.longPretoken;
    let from = 0;
    // Short pieces that lie wholly in `text` are handed on as one slice (the common case: words of prose).
    let run = -1;
    let runWork = 0;
    let prev = this.prev;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (isCut(prev, c)) {
        if (this.bounding) {
          this.bound(this.piece + text.slice(from, i));
          this.bounding = false;
          this.piece = '';
        } else if (this.piece.length === 0 && i - from <= long) {
          if (run < 0) run = from;
          runWork += workOf(i - from);
          if (runWork >= BATCH_WORK) {
            this.exactly(text.slice(run, i), runWork);
            run = -1;
            runWork = 0;
          }
        } else {
          if (run >= 0) this.exactly(text.slice(run, from), runWork);
          run = -1;
          runWork = 0;
          this.completePiece(this.piece + text.slice(from, i));
          this.piece = '';
        }
        from = i;
      }
      prev = c;
    }
    this.prev = prev;
    if (run >= 0) this.exactly(text.slice(run, from), runWork);
    this.piece += text.slice(from);
    if (this.bounding) this.piece = this.boundAllButSurrogate(this.piece);
    else if (this.piece.length > this.limits.window) {
      this.piece = this.refine(this.piece, false);
    }
  }

  private finishText(): void {
    if (this.bounding || this.spent) this.bound(this.piece);
    else this.completePiece(this.piece);
    this.flush();
    this.piece = '';
    this.prev = -1;
    this.bounding = false;
  }

  /** A piece between two cuts. */
  private completePiece(piece: string): void {
    if (piece.length === 0) return;
    if (piece.length <= this.limits.longPretoken) this.exactly(piece);
    else this.refine(piece, true);
  }

  /**
   * Finds the pre-tokens of `text` (which starts at a cut) with the regex, a window at a time; counts those that
   * are final and returns the rest (empty when `complete`: the text ends at a cut). A window without any safe cut
   * means a pre-token of thousands of characters: the rest of the piece is bounded by its bytes.
   */
  private refine(text: string, complete: boolean): string {
    let start = 0;
    for (;;) {
      if (this.spent) return this.boundRest(text.slice(start), complete);
      const rest = text.length - start;
      if (rest <= this.limits.window) {
        if (!complete) return text.slice(start);
        this.commit(text.slice(start), Number.POSITIVE_INFINITY);
        return '';
      }
      const window = text.slice(start, start + this.limits.window);
      const cut = this.commit(window, window.length - WINDOW_MARGIN);
      if (cut === 0) return this.boundRest(text.slice(start), complete);
      start += cut;
    }
  }

  /**
   * Counts the pre-tokens of `text` up to its last safe cut at or before `limit` (all of them when `limit` is
   * infinite) and returns where it stopped. A safe cut lies between two non-spaces and before the last pre-token.
   */
  private commit(text: string, limit: number): number {
    this.work += Math.ceil(text.length / 2);
    const bounds: number[] = [0];
    splitter.lastIndex = 0;
    for (let m = splitter.exec(text); m !== null; m = splitter.exec(text)) bounds.push(splitter.lastIndex);
    let last = bounds.length - 1;
    if (limit !== Number.POSITIVE_INFINITY) {
      last = -1;
      for (let k = bounds.length - 3; k >= 1; k--) {
        const at = bounds[k] ?? 0;
        if (at <= limit && !isSpace(text.charCodeAt(at - 1)) && !isSpace(text.charCodeAt(at))) {
          last = k;
          break;
        }
      }
      if (last < 0) return 0;
    }
    for (let k = 0; k < last; k++) {
      const pretoken = text.slice(bounds[k], bounds[k + 1]);
      if (pretoken.length > this.limits.longPretoken) this.bound(pretoken);
      else this.exactly(pretoken);
    }
    return bounds[last] ?? 0;
  }

  /** Text that starts and ends at cuts, counted exactly with the text before it in the batch. */
  private exactly(text: string, work = workOf(text.length)): void {
    if (this.spent) {
      this.bound(text);
      return;
    }
    this.batch += text;
    this.batchWork += work;
    if (this.batch.length >= BATCH_CHARS || this.batchWork >= BATCH_WORK) this.flush();
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    this.tokens += countTokens(this.batch, AS_TEXT);
    this.work += this.batchWork + CALL_WORK;
    this.batch = '';
    this.batchWork = 0;
  }

  /** Bounds the rest of a piece; one still growing is bounded on up to its next cut. */
  private boundRest(text: string, complete: boolean): string {
    this.bounding = !complete;
    if (!complete) return this.boundAllButSurrogate(text);
    this.bound(text);
    return '';
  }

  /** Bounds `text` but a trailing half of a surrogate pair, which is returned (its other half comes next). */
  private boundAllButSurrogate(text: string): string {
    const keep = (text.charCodeAt(text.length - 1) & 0xfc00) === 0xd800 ? 1 : 0;
    this.bound(text.slice(0, text.length - keep));
    return text.slice(text.length - keep);
  }

  /** The upper bound: one token per UTF-8 byte. */
  private bound(text: string): void {
    this.flush();
    if (text.length === 0) return;
    this.tokens += Buffer.byteLength(text, 'utf8');
    this.exact = false;
  }
}

/** One text's count, without yielding (small texts, tests). */
export function countTextNow(text: string, limits?: Partial<CounterLimits>): TokenCount {
  const counter = new TokenCounter(limits);
  counter.add(text);
  return counter.countNow();
}
