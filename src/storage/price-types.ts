// The storage contract for price versions (billing/prices.ts holds the rules). Re-exported by ./types.ts.

import type { ModelPrice, PriceRates } from '../domain/usage.ts';

/** Where a price version came from: the config file or the admin API. */
export type PriceSource = 'config' | 'admin';

/** A stored price version: its rates, when it applies, who scheduled it and why. */
export interface PriceVersion extends ModelPrice {
  model: string;
  source: PriceSource;
  /** 'config', or who called the admin API. */
  actor: string | null;
  /** Required when a change was forced with less than 14 days' notice. */
  reason: string | null;
  createdAt: Date;
  /** A cancelled version never applies (only a version not yet in effect can be cancelled). */
  cancelledAt: Date | null;
  cancelledBy: string | null;
  cancelReason: string | null;
  /** When the model's recent users were notified (null: not yet). */
  announcedAt: Date | null;
}

export interface NewPriceVersion {
  model: string;
  rates: PriceRates;
  effectiveFrom: Date;
  source: PriceSource;
  actor: string | null;
  reason: string | null;
}

/**
 * Price versions (billing/prices.ts holds the rules: 14 days' notice, force with a reason, config start-up).
 * "Current" at an instant = the newest non-cancelled version whose effective_from is not after it (ties: the
 * higher version id); "upcoming" = non-cancelled versions after it.
 */
export interface PricesRepo {
  /** Every model's current version at `at` and its upcoming ones, ordered by model, effective_from, id. One statement. */
  active(at: Date): Promise<PriceVersion[]>;
  /** Every version of one model, cancelled ones included, oldest first (effective_from, id). */
  history(model: string): Promise<PriceVersion[]>;
  get(version: number): Promise<PriceVersion | undefined>;
  /** Adds a version as given (the caller has applied the notice rules). */
  add(input: NewPriceVersion): Promise<PriceVersion>;
  /**
   * For each model, atomically and serialized across processes: reads its versions (as `history`), asks
   * `plan` which to add and adds them. A throw from `plan` writes nothing for any model. Returns what was added.
   */
  reconcile(
    models: readonly string[],
    plan: (model: string, versions: readonly PriceVersion[]) => readonly NewPriceVersion[],
  ): Promise<PriceVersion[]>;
  /** Cancels a version that is not yet in effect at `at` and not already cancelled; undefined otherwise. */
  cancel(version: number, input: { at: Date; actor: string; reason: string | null }): Promise<PriceVersion | undefined>;
  markAnnounced(version: number, at: Date): Promise<void>;
  /** The distinct users with a usage event on `model` at or after `since`: one aggregate statement. */
  recentUsers(model: string, since: Date): Promise<string[]>;
}
