// SQLite multi-statement account writes: statements prepared once, each operation one synchronous
// `BEGIN IMMEDIATE` transaction (so it never interleaves with another statement on the shared connection).
// Semantics: AccountsRepo in ../types.ts; the PostgreSQL twin is ../postgres/accounts.ts.

import type BetterSqlite3 from 'better-sqlite3';
import type { CloseAccountInput, CloseAccountOutcome } from '../types.ts';

type Db = BetterSqlite3.Database;

export interface SqliteAccountOps {
  setPassword(input: { userId: string; passwordHash: string; keepSession?: string }): boolean;
  resetPassword(input: { tokenHash: string; passwordHash: string; now: Date }): string | undefined;
  close(input: CloseAccountInput): CloseAccountOutcome | undefined;
}

export function sqliteAccountOps(db: Db): SqliteAccountOps {
  const s = {
    setHash: db.prepare<[string, string], unknown>(`UPDATE users SET password_hash = ? WHERE id = ? AND status <> 'closed'`),
    deleteSessions: db.prepare<[string, string], unknown>(`DELETE FROM sessions WHERE user_id = ? AND hash <> ?`),
    deleteResetTokens: db.prepare<[string], unknown>(
      `DELETE FROM account_tokens WHERE user_id = ? AND purpose = 'reset_password' AND used_at IS NULL`,
    ),
    consumeReset: db.prepare<[number, string, number], { user_id: string }>(
      `UPDATE account_tokens SET used_at = ?
        WHERE hash = ? AND purpose = 'reset_password' AND used_at IS NULL AND expires_at > ? RETURNING user_id`,
    ),
    verifyAt: db.prepare<[number, string], unknown>(
      `UPDATE users SET email_verified_at = coalesce(email_verified_at, ?) WHERE id = ?`,
    ),
    openUser: db.prepare<[string], { balance: bigint }>(`SELECT balance FROM users WHERE id = ? AND status <> 'closed'`),
    revokeKeys: db.prepare<[number, string], { id: string }>(
      `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?), name = '' WHERE user_id = ? RETURNING id`,
    ),
    closeUser: db.prepare<[string, string, number, string], unknown>(
      `UPDATE users SET balance = 0, status = 'closed', email = ?, email_hmac = ?, password_hash = NULL, closed_at = ?
        WHERE id = ?`,
    ),
    insertAdjustment: db.prepare<[string, bigint, string, string, number], unknown>(
      `INSERT INTO ledger (user_id, kind, amount, balance_after, actor, reason, created_at) VALUES (?, 'adjustment', ?, 0, ?, ?, ?)`,
    ),
    deleteAllSessions: db.prepare<[string], unknown>(`DELETE FROM sessions WHERE user_id = ?`),
    deleteAllTokens: db.prepare<[string], unknown>(`DELETE FROM account_tokens WHERE user_id = ?`),
    deleteNotifications: db.prepare<[string], unknown>(`DELETE FROM notifications WHERE user_id = ?`),
  };

  const setPassword = db.transaction((input: { userId: string; passwordHash: string; keepSession?: string }): boolean => {
    if (s.setHash.run(input.passwordHash, input.userId).changes === 0) return false;
    // '' never equals a stored hash (64 hex digits): "keep none".
    s.deleteSessions.run(input.userId, input.keepSession ?? '');
    s.deleteResetTokens.run(input.userId);
    return true;
  });

  const resetPassword = db.transaction((input: { tokenHash: string; passwordHash: string; now: Date }): string | undefined => {
    const at = input.now.getTime();
    const token = s.consumeReset.get(at, input.tokenHash, at);
    if (!token) return undefined;
    if (s.setHash.run(input.passwordHash, token.user_id).changes === 0) return undefined; // closed meanwhile: the token stays used
    s.verifyAt.run(at, token.user_id);
    s.deleteSessions.run(token.user_id, '');
    s.deleteResetTokens.run(token.user_id);
    return token.user_id;
  });

  const close = db.transaction((input: CloseAccountInput): CloseAccountOutcome | undefined => {
    const user = s.openUser.get(input.userId);
    if (!user) return undefined;
    const now = Date.now();
    const revokedKeyIds = s.revokeKeys.all(now, input.userId).map((row) => row.id);
    s.closeUser.run(`closed:${input.userId}`, input.emailHmac, now, input.userId);
    if (user.balance > 0n) s.insertAdjustment.run(input.userId, -user.balance, input.actor, input.reason, now);
    s.deleteAllSessions.run(input.userId);
    s.deleteAllTokens.run(input.userId);
    s.deleteNotifications.run(input.userId);
    return { forfeited: user.balance, revokedKeyIds };
  });

  return {
    setPassword: (input) => setPassword.immediate(input),
    resetPassword: (input) => resetPassword.immediate(input),
    close: (input) => close.immediate(input),
  };
}
