// A user's own API keys, as the console manages them: create (shown once), rotate with an overlap, revoke.
// Revocation and rotation evict the key from the authentication cache (on every replica once the
// authenticator broadcasts evictions). Ownership is checked here: another user's key is "not found".
import type { Catalogue } from '../billing/catalogue.ts';
import { GatewayError } from '../domain/errors.ts';
import type { ApiKeyRecord, KeyScopesPatch, Store } from '../storage/types.ts';
import type { KeyAuthenticator } from './authenticator.ts';
import { generateApiKey } from './keys.ts';
import type { ConsoleSession } from './service.ts';

export const DEFAULT_ROTATION_OVERLAP_S = 24 * 3600;
export const MAX_ROTATION_OVERLAP_S = 30 * 24 * 3600;

export interface NewKeyInput {
  name: string;
  allowedModels: string[] | null;
  expiresAt: Date | null;
  /** Spend caps and rate limits (accounts/scopes.ts); omitted: none. */
  scopes?: Pick<KeyScopesPatch, 'spendCaps' | 'rateLimits'>;
}

export interface CreatedKey {
  record: ApiKeyRecord;
  /** The secret: shown in this one answer, never again. */
  key: string;
}

export class ApiKeyService {
  constructor(private readonly deps: { store: Store; catalogue: Catalogue; authenticator: KeyAuthenticator }) {}

  /** Creating or rotating a key needs an active account with a verified email. */
  private mayIssue(session: ConsoleSession): void {
    if (session.userStatus !== 'active') throw new GatewayError('account_suspended', 'This account is suspended: it cannot create API keys.');
    if (!session.emailVerified) {
      throw new GatewayError('email_not_verified', 'Verify your email address before creating API keys (POST /console/v1/auth/verify-email/resend sends a new link).');
    }
  }

  async owned(session: ConsoleSession, keyId: string): Promise<ApiKeyRecord> {
    const key = await this.deps.store.keys.get(keyId);
    if (!key || key.userId !== session.userId) throw new GatewayError('not_found', `No API key with id '${keyId}'.`, { param: 'id' });
    return key;
  }

  async create(session: ConsoleSession, input: NewKeyInput): Promise<CreatedKey> {
    this.mayIssue(session);
    input.allowedModels?.forEach((model, i) => {
      if (!this.deps.catalogue.get(model)) throw new GatewayError('invalid_request', `There is no model '${model}'.`, { param: `allowed_models[${i}]` });
    });
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
      throw new GatewayError('invalid_request', 'expires_at must be in the future.', { param: 'expires_at' });
    }
    const generated = generateApiKey();
    const record = await this.deps.store.keys.create({
      userId: session.userId,
      name: input.name,
      hash: generated.hash,
      prefix: generated.prefix,
      allowedModels: input.allowedModels,
      expiresAt: input.expiresAt,
      ...(input.scopes ? { scopes: input.scopes } : {}),
    });
    return { record, key: generated.key };
  }

  /**
   * A new key with the old one's name, models and expiry; the old key keeps working for `overlapSeconds`
   * (0: it stops at once), or until its own earlier expiry.
   */
  async rotate(session: ConsoleSession, keyId: string, overlapSeconds: number): Promise<{ created: CreatedKey; old: ApiKeyRecord }> {
    this.mayIssue(session);
    const old = await this.owned(session, keyId);
    const now = Date.now();
    if (old.revokedAt) throw new GatewayError('conflict', 'This API key is revoked: create a new one instead.', { param: 'id' });
    if (old.expiresAt && old.expiresAt.getTime() <= now) throw new GatewayError('conflict', 'This API key has expired: create a new one instead.', { param: 'id' });
    const created = await this.create(session, {
      name: old.name, allowedModels: old.allowedModels, expiresAt: old.expiresAt,
      scopes: { spendCaps: old.spendCaps, rateLimits: old.rateLimits },
    });
    const overlapEnd = new Date(now + overlapSeconds * 1000);
    const oldEnd = old.expiresAt && old.expiresAt < overlapEnd ? old.expiresAt : overlapEnd;
    await this.deps.store.keys.setExpiry(old.id, oldEnd);
    this.deps.authenticator.evictKey(old.id);
    return { created, old: { ...old, expiresAt: oldEnd } };
  }

  async revoke(session: ConsoleSession, keyId: string): Promise<ApiKeyRecord> {
    const key = await this.owned(session, keyId);
    await this.deps.store.keys.revoke(key.id);
    this.deps.authenticator.evictKey(key.id);
    return (await this.deps.store.keys.get(key.id)) ?? key;
  }
}
