// API-key authentication for /v1 (Authorization: Bearer …, or x-api-key as Anthropic clients send it).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { KeyAuthenticator } from '../accounts/authenticator.ts';

export function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header);
  return match?.[1]?.trim();
}

export function apiKeyHook(authenticator: KeyAuthenticator) {
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const header = request.headers['x-api-key'];
    const presented = bearer(request.headers.authorization) ?? (typeof header === 'string' ? header : undefined);
    request.auth = await authenticator.authenticate(presented);
  };
}
