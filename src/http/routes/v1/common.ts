// Small pieces shared by the /v1 routes.
import type { FastifyReply } from 'fastify';
import type { Attempt } from '../../../routing/dispatch.ts';

/** Aborts when the client goes away before the response finished (cancels the upstream call). */
export function cancelOnClientClose(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** `channel;outcome;ms` entries, comma-separated (metadata only). */
export function attemptsHeader(attempts: readonly Attempt[]): string {
  return attempts.map((a) => `${a.channel};${a.outcome};${a.ms}ms`).join(', ');
}
