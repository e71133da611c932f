// What the console's route tables are built from.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyService } from '../../../accounts/api-keys.ts';
import type { AccountService, IssuedSession } from '../../../accounts/service.ts';
import type { Store } from '../../../storage/types.ts';

export const SESSION_COOKIE = 'sy_session';
export const CSRF_COOKIE = 'sy_csrf';
/** Both cookies are sent to the console (its API and, later, its pages) and nowhere else. */
export const COOKIE_PATH = '/console';

export interface ConsoleServices {
  accounts: AccountService;
  keys: ApiKeyService;
  store: Store;
  /** Sets the session cookie (httpOnly, SameSite=Lax, Secure on HTTPS). */
  setSession(request: FastifyRequest, reply: FastifyReply, session: IssuedSession): void;
  clearSession(reply: FastifyReply): void;
}
