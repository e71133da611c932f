// The periods a key's spend caps count in: the UTC calendar day and the UTC calendar month (docs/decisions/0013).

export interface SpendPeriods {
  /** Epoch ms of 00:00 UTC today, and of 00:00 UTC tomorrow (when the daily cap resets). */
  dayStart: number;
  dayEnd: number;
  /** Epoch ms of the first instant of this UTC month, and of the next (when the monthly cap resets). */
  monthStart: number;
  monthEnd: number;
}

export function spendPeriods(nowMs: number): SpendPeriods {
  const now = new Date(nowMs);
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  return {
    dayStart: Date.UTC(y, m, d),
    dayEnd: Date.UTC(y, m, d + 1),
    monthStart: Date.UTC(y, m, 1),
    monthEnd: Date.UTC(y, m + 1, 1),
  };
}
