/** Read-only views of the validated config: tiers, the features routes require, rate limits. Any signed-in caller. */
import type { Config } from '../../config.js';

export function tiersView(cfg: Readonly<Config>) {
  return {
    items: Object.entries(cfg.tiers).map(([name, t]) => ({ name, requests_per_minute: t.requests_per_minute, burst: t.burst ?? null })),
  };
}

export function featuresView(cfg: Readonly<Config>) {
  const by = new Map<string, string[]>();
  for (const r of cfg.routes) for (const f of r.features) by.set(f, [...(by.get(f) ?? []), r.path]);
  return { items: [...by].sort(([a], [b]) => a.localeCompare(b)).map(([name, routes]) => ({ name, routes })) };
}

export function rateLimitsView(cfg: Readonly<Config>) {
  return { ratelimit: { ...cfg.ratelimit } as Record<string, unknown>, tiers: tiersView(cfg).items };
}
