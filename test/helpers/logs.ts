// A logger whose output the test can read (to check warnings, and that nothing of a body was logged).
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.ts';

export function logSink(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { logger: createLogger('debug', sink), text: () => text };
}
