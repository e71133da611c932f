// The storage contract for accounts: notifications, the admin audit log, logins, sessions, one-time tokens and
// closing an account. Re-exported by ./types.ts.

import type { MicroCredits } from '../domain/money.ts';
import type { UserRecord, UserStatus } from './types.ts';

export interface NotificationRecord {
  id: string;
  userId: string;
  kind: string;
  subject: string;
  body: string;
  data: Record<string, unknown> | null;
  createdAt: Date;
  readAt: Date | null;
}

export interface NewNotification {
  userId: string;
  kind: string;
  subject: string;
  body: string;
  data?: Record<string, unknown> | null;
  /** With a dedupe key, a second notification with the same (user, key) is skipped. */
  dedupeKey?: string | null;
}

export interface NotificationsRepo {
  /** Inserts each notification unless its (user, dedupe key) exists; returns how many were inserted. */
  create(items: ReadonlyArray<NewNotification>): Promise<number>;
  /** Newest first. */
  list(userId: string, page: { limit: number; unreadOnly?: boolean }): Promise<NotificationRecord[]>;
  /** Marks one of the user's notifications read; false when the user has no such notification. */
  markRead(userId: string, id: string): Promise<boolean>;
  /**
   * Claims up to `limit` notifications not yet mailed, oldest first: each is marked mailed by one conditional
   * update, so with every replica claiming at once each notification is returned exactly once. A notification
   * of a closed account (or one without an address) is claimed and not returned: nothing is mailed for it.
   */
  claimForMail(now: Date, limit: number): Promise<MailableNotification[]>;
  /**
   * A claimed notification whose mail failed: gives the claim back so that a claim at or after `retryAt` takes it
   * again, counting the attempt. After `maxAttempts` failed attempts it stays claimed (given up). Returns the
   * attempts counted so far and whether it will be tried again; null when it is not claimed (nothing changed).
   */
  retryMail(id: string, retryAt: (attempts: number) => Date, maxAttempts: number): Promise<{ attempts: number; retry: boolean } | null>;
}

/** A claimed notification and where to mail it. */
export interface MailableNotification {
  id: string;
  userId: string;
  email: string;
  kind: string;
  subject: string;
  body: string;
}

export interface AuditEntry {
  id: string;
  /** 'admin-token', or the id of the user who acted. */
  actor: string;
  /** e.g. user.create, user.update, credits.adjust, key.create, key.update, key.revoke */
  action: string;
  target: string | null;
  /** What changed; metadata only, never a secret. */
  details: Record<string, unknown> | null;
  ip: string | null;
  createdAt: Date;
  /**
   * pending: written before the change and not completed (the process stopped while the request ran); ok: the
   * change was made (details say what); unchanged: the request succeeded without changing anything; failed:
   * refused or failed, nothing changed (httpStatus says how).
   */
  outcome: AuditOutcome;
  httpStatus: number | null;
}

export type AuditOutcome = 'pending' | 'ok' | 'unchanged' | 'failed';
export type NewAuditEntry = Omit<AuditEntry, 'id' | 'createdAt' | 'outcome' | 'httpStatus'>;

export interface AuditRepo {
  /** A completed entry ('ok'). */
  record(entry: NewAuditEntry): Promise<void>;
  /** Writes an entry 'pending' ahead of a change; returns its id. */
  begin(entry: NewAuditEntry): Promise<string>;
  /** Completes a pending entry (what is given replaces the pending values); false when it was not pending. */
  complete(id: string, done: { outcome: Exclude<AuditOutcome, 'pending'>; httpStatus: number | null; action?: string; target?: string | null; details?: Record<string, unknown> | null }): Promise<boolean>;
  /** Newest first. */
  list(filter: { limit: number; beforeId?: string; actor?: string; action?: string; target?: string }): Promise<AuditEntry[]>;
}

/** What login needs, found by the normalized email in one lookup. */
export interface LoginRecord {
  userId: string;
  status: UserStatus;
  /** null: no password set yet (e.g. a user created by an admin: the password-reset flow sets one). */
  passwordHash: string | null;
}

export interface AccountRecord {
  user: UserRecord;
  emailVerifiedAt: Date | null;
  hasPassword: boolean;
  closedAt: Date | null;
}

export interface CloseAccountInput {
  userId: string;
  /** HMAC-SHA-256 of the normalized address: replaces it (recognisable, not recoverable). */
  emailHmac: string;
  actor: string;
  reason: string;
}

export interface CloseAccountOutcome {
  /** The balance zeroed by the `adjustment` entry (0 when there was none: no entry written). */
  forfeited: MicroCredits;
  /** The keys revoked by the closure (to evict from authentication caches). */
  revokedKeyIds: string[];
}

export interface AccountsRepo {
  /** A new active user with a password; StorageConflictError when the email is taken. */
  create(input: { email: string; passwordHash: string }): Promise<UserRecord>;
  findLogin(email: string): Promise<LoginRecord | undefined>;
  get(userId: string): Promise<AccountRecord | undefined>;
  passwordHash(userId: string): Promise<string | null | undefined>;
  /** Sets email_verified_at once; false when no such (open) user or already verified. */
  markEmailVerified(userId: string, at: Date): Promise<boolean>;
  /**
   * Replaces the password hash and deletes every session of the user except `keepSession` (a session hash),
   * and every unused password-reset token. One transaction. False when no such open user.
   */
  setPassword(input: { userId: string; passwordHash: string; keepSession?: string }): Promise<boolean>;
  /**
   * Password reset: consumes the unused, unexpired reset token, sets the password, marks the email verified
   * (the mail was received), deletes every session and the other reset tokens. One transaction. The user id,
   * or undefined when the token is unknown, used, expired or its user closed.
   */
  resetPassword(input: { tokenHash: string; passwordHash: string; now: Date }): Promise<string | undefined>;
  /**
   * Closes the account in one transaction: revokes every key (and blanks their names), zeroes the balance with
   * an `adjustment` entry (actor, reason), replaces the email by `closed:<user id>` and stores its HMAC, clears
   * the password, status 'closed', deletes sessions, tokens and notifications. Undefined when no such open user.
   */
  close(input: CloseAccountInput): Promise<CloseAccountOutcome | undefined>;
  /** How many closed accounts had this address (by its HMAC). */
  closedWithEmailHmac(emailHmac: string): Promise<number>;
}

/** A session as the console's authentication needs it: one indexed lookup joined with its user. */
export interface SessionRecord {
  userId: string;
  userStatus: UserStatus;
  emailVerified: boolean;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

export interface SessionsRepo {
  create(input: { hash: string; userId: string; now: Date; expiresAt: Date }): Promise<void>;
  find(hash: string): Promise<SessionRecord | undefined>;
  touch(hash: string, at: Date): Promise<void>;
  /** Deletes one session; false when it did not exist. */
  delete(hash: string): Promise<boolean>;
  /** Deletes sessions whose absolute expiry passed or that were idle since before `idleBefore`. */
  deleteExpired(now: Date, idleBefore: Date): Promise<number>;
}

export type TokenPurpose = 'verify_email' | 'reset_password';

export interface TokensRepo {
  create(input: { hash: string; userId: string; purpose: TokenPurpose; now: Date; expiresAt: Date }): Promise<void>;
  /** Marks an unused, unexpired token used (single use, atomic) and returns its user id. */
  consume(hash: string, purpose: TokenPurpose, now: Date): Promise<string | undefined>;
  /** The token's user and expiry when it is unused and unexpired; nothing changes. */
  peek(hash: string, purpose: TokenPurpose, now: Date): Promise<{ userId: string; expiresAt: Date } | undefined>;
  /** Deletes tokens expired before `now` (used ones included). */
  deleteExpired(now: Date): Promise<number>;
}
