// Self-service accounts: sign-up, email verification, login sessions, password change and reset, closing an
// account (docs/decisions/0011). The HTTP layer (src/http/routes/console) parses and answers; this decides.
//
// Rules that hold everywhere below:
// - session ids and emailed tokens are 256-bit random secrets stored only as SHA-256 hashes; each token is
//   single-use and expires; a session has an absolute lifetime and an idle limit;
// - a login creates a new session id (any session the client presented is ended: no fixation), a password
//   change ends every session and issues a new one, a password reset ends every session;
// - no answer tells whether an address is registered, except sign-up's 409 (throttled per IP);
// - mail is queued, never awaited; no secret, password or address reaches a log line.
import type { Logger } from 'pino';
import type { KeyAuthenticator } from './authenticator.ts';
import type { AccountsConfig } from '../config/index.ts';
import { GatewayError } from '../domain/errors.ts';
import type { MicroCredits } from '../domain/money.ts';
import { StorageConflictError, type SessionRecord, type Store, type UserStatus } from '../storage/index.ts';
import { emailHmac, normalizeEmail } from './email.ts';
import type { SubscriptionHook } from './hooks.ts';
import { accountClosedMail, passwordChangedMail, resetMail, verificationMail } from './mail-templates.ts';
import type { Mailer } from './mailer.ts';
import { hashPassword, passwordProblem, prepareDummyHash, verifyPassword } from './passwords.ts';
import { hashPresented, newSecret } from './secrets.ts';
import type { AuthThrottle } from './throttle.ts';

/** A session as the console's routes see it. */
export interface ConsoleSession {
  userId: string;
  /** SHA-256 of the session id (what the store knows it by). */
  hash: string;
  emailVerified: boolean;
  userStatus: UserStatus;
}

/** A new session: `secret` goes into the cookie, never anywhere else. */
export interface IssuedSession {
  secret: string;
  expiresAt: Date;
}

export interface AccountServiceDeps {
  store: Store;
  config: Readonly<AccountsConfig>;
  /** SWITCHYARD_SECRET: keys the HMAC that replaces a closed account's address. */
  secret: string;
  mailer: Mailer;
  throttle: AuthThrottle;
  authenticator: KeyAuthenticator;
  subscriptions: SubscriptionHook;
  logger: Logger;
}

/** A session is touched (last_seen_at) at most this often: one write per five minutes, not per request. */
const TOUCH_EVERY_MS = 5 * 60_000;
export const CLOSE_REASON = 'account closed by its owner: remaining credits forfeited';

const badCredentials = (): GatewayError => new GatewayError('invalid_credentials', 'Incorrect email or password.');

export class AccountService {
  constructor(private readonly deps: AccountServiceDeps) {
    prepareDummyHash().catch(() => undefined); // off the first request's path
  }

  private email(raw: string, param = 'email'): string {
    const email = normalizeEmail(raw);
    if (!email) throw new GatewayError('invalid_request', 'Enter a valid email address.', { param });
    return email;
  }

  private async newPasswordHash(password: string, param: string): Promise<string> {
    const problem = passwordProblem(password);
    if (problem) throw new GatewayError('invalid_request', problem, { param });
    return hashPassword(password);
  }

  private async issueSession(userId: string): Promise<IssuedSession> {
    const { secret, hash } = newSecret();
    const now = new Date();
    const expiresAt = new Date(now.getTime() + this.deps.config.sessionTtlMs);
    await this.deps.store.sessions.create({ hash, userId, now, expiresAt });
    return { secret, expiresAt };
  }

  private async sendVerification(userId: string, email: string): Promise<void> {
    const { secret, hash } = newSecret();
    const now = new Date();
    const ttl = this.deps.config.verifyTokenTtlMs;
    await this.deps.store.tokens.create({ hash, userId, purpose: 'verify_email', now, expiresAt: new Date(now.getTime() + ttl) });
    this.deps.mailer.send(verificationMail(email, this.deps.config.publicUrl, secret, ttl));
  }

  async signup(input: { email: string; password: string; ip: string; presentedSession?: string | undefined }): Promise<{ userId: string; session: IssuedSession }> {
    const email = this.email(input.email);
    await this.deps.throttle.beforeSignup(input.ip);
    const passwordHash = await this.newPasswordHash(input.password, 'password');
    let userId: string;
    try {
      userId = (await this.deps.store.accounts.create({ email, passwordHash })).id;
    } catch (error) {
      if (error instanceof StorageConflictError) {
        throw new GatewayError('conflict', 'An account with this email address already exists. Sign in or reset the password.', { param: 'email' });
      }
      throw error;
    }
    const previouslyClosed = await this.deps.store.accounts.closedWithEmailHmac(emailHmac(this.deps.secret, email));
    // Metadata only: which new account, and whether its address belonged to closed accounts (abuse review).
    this.deps.logger.info({ userId, previouslyClosed }, 'account signed up');
    await this.sendVerification(userId, email);
    await this.endPresented(input.presentedSession);
    return { userId, session: await this.issueSession(userId) };
  }

  /** A client that signs in (or up) arrives with a fresh session id: whatever session it had ends. */
  private async endPresented(presented: string | undefined): Promise<void> {
    const previous = hashPresented(presented);
    if (previous) await this.deps.store.sessions.delete(previous);
  }

  async resendVerification(userId: string): Promise<void> {
    const account = await this.deps.store.accounts.get(userId);
    if (!account || account.user.status === 'closed') throw new GatewayError('session_required', 'Sign in first.');
    if (account.emailVerifiedAt) throw new GatewayError('conflict', 'This email address is already verified.');
    await this.deps.throttle.beforeReset(`user:${userId}`, account.user.email);
    await this.sendVerification(userId, account.user.email);
  }

  async verifyEmail(token: string): Promise<void> {
    const hash = hashPresented(token);
    const now = new Date();
    const userId = hash && (await this.deps.store.tokens.consume(hash, 'verify_email', now));
    if (!userId) throw new GatewayError('invalid_token', 'This verification link is invalid, used or expired. Ask for a new one.', { param: 'token' });
    await this.deps.store.accounts.markEmailVerified(userId, now);
  }

  async login(input: { email: string; password: string; ip: string; presentedSession?: string | undefined }): Promise<{ userId: string; session: IssuedSession }> {
    const email = this.email(input.email);
    await this.deps.throttle.beforeLogin(input.ip, email);
    const record = await this.deps.store.accounts.findLogin(email);
    const ok = await verifyPassword(record?.passwordHash, input.password);
    if (!ok || !record || record.status === 'closed') {
      await this.deps.throttle.loginFailed(email);
      throw badCredentials();
    }
    await this.deps.throttle.loginSucceeded(email);
    await this.endPresented(input.presentedSession);
    return { userId: record.userId, session: await this.issueSession(record.userId) };
  }

  async logout(session: ConsoleSession): Promise<void> {
    await this.deps.store.sessions.delete(session.hash);
  }

  /** The session a cookie value names, if it is live; an expired or idle one is deleted on sight. */
  async authenticate(presented: string | undefined): Promise<ConsoleSession | undefined> {
    const hash = hashPresented(presented);
    if (!hash) return undefined;
    const record = await this.deps.store.sessions.find(hash);
    if (!record) return undefined;
    const now = Date.now();
    if (!this.live(record, now)) {
      await this.deps.store.sessions.delete(hash);
      return undefined;
    }
    if (now - record.lastSeenAt.getTime() >= TOUCH_EVERY_MS) await this.deps.store.sessions.touch(hash, new Date(now));
    return { userId: record.userId, hash, emailVerified: record.emailVerified, userStatus: record.userStatus };
  }

  private live(record: SessionRecord, now: number): boolean {
    return record.userStatus !== 'closed' && record.expiresAt.getTime() > now && record.lastSeenAt.getTime() + this.deps.config.sessionIdleMs > now;
  }

  /** Always answers the same way: whether a mail goes out depends on the account, which the caller never learns. */
  async requestPasswordReset(input: { email: string; ip: string }): Promise<void> {
    const email = this.email(input.email);
    await this.deps.throttle.beforeReset(input.ip, email);
    const record = await this.deps.store.accounts.findLogin(email);
    if (!record || record.status === 'closed') return;
    const { secret, hash } = newSecret();
    const now = new Date();
    const ttl = this.deps.config.resetTokenTtlMs;
    await this.deps.store.tokens.create({ hash, userId: record.userId, purpose: 'reset_password', now, expiresAt: new Date(now.getTime() + ttl) });
    this.deps.mailer.send(resetMail(email, this.deps.config.publicUrl, secret, ttl));
  }

  /** Whether a reset link is still good (it is not used up by looking: mail scanners open links). */
  async checkResetToken(token: string): Promise<Date> {
    const hash = hashPresented(token);
    const found = hash && (await this.deps.store.tokens.peek(hash, 'reset_password', new Date()));
    if (!found) throw invalidResetToken();
    return found.expiresAt;
  }

  async confirmPasswordReset(input: { token: string; password: string }): Promise<void> {
    const hash = hashPresented(input.token);
    if (!hash) throw invalidResetToken();
    const passwordHash = await this.newPasswordHash(input.password, 'password');
    const userId = await this.deps.store.accounts.resetPassword({ tokenHash: hash, passwordHash, now: new Date() });
    if (!userId) throw invalidResetToken();
    const account = await this.deps.store.accounts.get(userId);
    if (account) await this.deps.throttle.loginSucceeded(account.user.email);
  }

  /** Checks the account's password for a sensitive action, counting failures like logins do. */
  private async confirmPassword(userId: string, password: string): Promise<string> {
    const account = await this.deps.store.accounts.get(userId);
    if (!account || account.user.status === 'closed') throw new GatewayError('session_required', 'Sign in first.');
    const email = account.user.email;
    await this.deps.throttle.beforeLogin(`user:${userId}`, email);
    const hash = await this.deps.store.accounts.passwordHash(userId);
    if (!(await verifyPassword(hash, password))) {
      await this.deps.throttle.loginFailed(email);
      throw new GatewayError('invalid_credentials', 'The password is not correct.', { param: 'password' });
    }
    return email;
  }

  /** Changes the password, ends every session (this one included) and returns the caller's new session. */
  async changePassword(session: ConsoleSession, input: { currentPassword: string; newPassword: string }): Promise<IssuedSession> {
    const email = await this.confirmPassword(session.userId, input.currentPassword);
    const passwordHash = await this.newPasswordHash(input.newPassword, 'new_password');
    if (!(await this.deps.store.accounts.setPassword({ userId: session.userId, passwordHash }))) {
      throw new GatewayError('session_required', 'Sign in first.');
    }
    this.deps.mailer.send(passwordChangedMail(email));
    return this.issueSession(session.userId);
  }

  /**
   * Closes the account (docs/decisions/0012): password checked, subscription cancelled, then one transaction
   * revokes every key, forfeits the balance, erases the address and the sessions. The confirmation goes to the
   * address read just before it was erased, held in memory only.
   */
  async close(session: ConsoleSession, password: string): Promise<{ forfeited: MicroCredits }> {
    const email = await this.confirmPassword(session.userId, password);
    await this.deps.subscriptions.cancelFor(session.userId);
    const outcome = await this.deps.store.accounts.close({
      userId: session.userId,
      emailHmac: emailHmac(this.deps.secret, normalizeEmail(email) ?? email),
      actor: `user:${session.userId}`,
      reason: CLOSE_REASON,
    });
    if (!outcome) throw new GatewayError('session_required', 'Sign in first.');
    for (const keyId of outcome.revokedKeyIds) this.deps.authenticator.evictKey(keyId);
    this.deps.authenticator.evictUser(session.userId);
    this.deps.mailer.send(accountClosedMail(email, outcome.forfeited));
    this.deps.logger.info({ userId: session.userId, revokedKeys: outcome.revokedKeyIds.length }, 'account closed');
    return { forfeited: outcome.forfeited };
  }

  /** Deletes expired sessions and tokens (a periodic sweep; safe on every replica). */
  async sweep(now = new Date()): Promise<void> {
    await this.deps.store.sessions.deleteExpired(now, new Date(now.getTime() - this.deps.config.sessionIdleMs));
    await this.deps.store.tokens.deleteExpired(now);
  }
}

function invalidResetToken(): GatewayError {
  return new GatewayError('invalid_token', 'This password-reset link is invalid, used or expired. Ask for a new one.', { param: 'token' });
}
