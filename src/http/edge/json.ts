// JSON request bodies with a nesting limit, checked by a linear scan BEFORE parsing: a deeply nested body
// would otherwise parse fine and then overflow the stack of whatever walks it recursively (serialization,
// validation). The scan jumps over strings with indexOf, so text-heavy bodies cost little beyond JSON.parse.
import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../../domain/errors.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** True when `text` opens more than `max` objects/arrays inside one another (outside strings). */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // The closing quote is the next one preceded by an even number of backslashes.
      let end = i;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end === -1) return false; // unterminated: JSON.parse reports it
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
      }
      i = end;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/** Replaces Fastify's application/json parser by the same parser behind the depth check. */
export function installJsonParser(app: FastifyInstance, maxDepth: number): void {
  // Fastify's own defaults: a body with __proto__ or constructor.prototype is refused (prototype poisoning).
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (nestsDeeperThan(text, maxDepth)) {
      done(new GatewayError('invalid_request', `The request body nests JSON objects and arrays deeper than ${maxDepth} levels.`), undefined);
      return;
    }
    parse(request, text, done);
  });
}
