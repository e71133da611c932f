// Orders a model's channels for one request: priority tiers ascending (lower first), and inside a tier a
// weighted random order (each pick proportional to weight among the channels not yet picked). Channels whose
// breaker is open (or that asked us to wait with Retry-After) are left out — unless that would leave nothing:
// then all of them are tried in the same order, because an attempt that may succeed beats a certain 503 (and
// dispatch sends such an attempt even to an open channel; it is how a lone channel recovers, too).
import type { Channel } from './channels.ts';

export function plan(channels: readonly Channel[], random: () => number = Math.random): Channel[] {
  const ordered = order(channels, random);
  if (ordered.length <= 1 || ordered.every((c) => c.breaker.available())) return ordered;
  const healthy = ordered.filter((c) => c.breaker.available());
  return healthy.length === 0 ? ordered : healthy;
}

function order(channels: readonly Channel[], random: () => number): Channel[] {
  if (channels.length <= 1) return channels.slice();
  const tiers = new Map<number, Channel[]>();
  for (const c of channels) {
    const tier = tiers.get(c.priority);
    if (tier) tier.push(c);
    else tiers.set(c.priority, [c]);
  }
  const ordered: Channel[] = [];
  for (const priority of [...tiers.keys()].sort((a, b) => a - b)) {
    const remaining = (tiers.get(priority) ?? []).slice();
    while (remaining.length > 0) {
      let total = 0;
      for (const c of remaining) total += c.weight;
      let pick = random() * total;
      let index = remaining.length - 1;
      for (let i = 0; i < remaining.length; i++) {
        const c = remaining[i];
        if (!c) continue;
        pick -= c.weight;
        if (pick < 0) {
          index = i;
          break;
        }
      }
      const [chosen] = remaining.splice(index, 1);
      if (chosen) ordered.push(chosen);
    }
  }
  return ordered;
}
