// Interfaces other parts implement for the accounts domain. Payments (a later issue) implements
// SubscriptionHook; until then closing an account has no subscription to cancel.

export interface SubscriptionHook {
  /** Cancels the user's subscription, if any, before the account is closed. Throwing aborts the closure. */
  cancelFor(userId: string): Promise<void>;
}

export const noSubscriptions: SubscriptionHook = {
  cancelFor: async () => undefined,
};
