/**
 * GCRA (generic cell rate algorithm): a token bucket stored as one number, the
 * theoretical arrival time (TAT) of the next request. A subject with `limit`
 * requests per `windowS` and `burst` extra tokens gets one token every
 * T = window / limit and may run up to τ = burst·T ahead of that schedule, so
 * burst + 1 requests pass at once and at most limit + burst in any window.
 *
 * The same arithmetic runs in the in-process store (under a lock) and in the
 * Redis script (./redis-script.ts); keep them in step.
 */
import type { LimitPolicy } from './policy.js';

/** Float slack so evenly spaced requests at exactly the rate are never refused. */
export const EPS_MS = 1e-6;

/** What a store does with a conforming request. */
export type TakeMode = 'take' | 'peek' | 'force';

/** Result of one GCRA step: did it conform, and how far ahead of now the TAT is afterwards (ms, ≥ 0). */
export interface Step {
  readonly allowed: boolean;
  readonly debtMs: number;
}

/** Emission interval and tolerance of a policy, in milliseconds. */
export interface Rate {
  readonly emissionMs: number;
  readonly toleranceMs: number;
}

export function rateOf(policy: Pick<LimitPolicy, 'limit' | 'windowS' | 'burst'>): Rate {
  const emissionMs = (policy.windowS * 1000) / policy.limit;
  return { emissionMs, toleranceMs: policy.burst * emissionMs };
}

/**
 * One GCRA step on a stored TAT. `take` advances the TAT only if the request
 * conforms; `peek` never writes; `force` always advances (the request was
 * admitted elsewhere, e.g. by the global bucket). Returns the new TAT.
 */
export function gcra(tat: number, nowMs: number, rate: Rate, cost: number, mode: TakeMode): { allowed: boolean; tat: number } {
  const base = Math.max(tat, nowMs);
  const next = base + cost * rate.emissionMs;
  const allowed = next - nowMs <= rate.toleranceMs + rate.emissionMs + EPS_MS;
  if (mode === 'force') return { allowed: true, tat: next };
  if (mode === 'peek' || !allowed) return { allowed, tat };
  return { allowed, tat: next };
}

/** The numbers a {@link Decision} reports, derived from a step's outcome. */
export function describe(
  policy: Pick<LimitPolicy, 'limit' | 'burst'>,
  rate: Rate,
  step: Step,
  cost: number,
): {
  remaining: number;
  resetS: number;
  retryAfterS: number;
} {
  const debt = step.debtMs;
  // Requests of cost 1 that would still conform right now.
  const room = Math.floor((rate.toleranceMs + rate.emissionMs - debt) / rate.emissionMs + EPS_MS);
  const remaining = Math.min(policy.burst + 1, Math.max(0, room));
  // Seconds until the bucket is full again (the draft's "quota reset").
  const resetS = Math.max(0, Math.ceil(debt / 1000 - EPS_MS));
  if (step.allowed) return { remaining, resetS, retryAfterS: 0 };
  const waitMs = debt + cost * rate.emissionMs - rate.toleranceMs - rate.emissionMs;
  // A cost above burst + 1 never conforms; callers keep costs within the bucket.
  return { remaining, resetS, retryAfterS: Math.max(1, Math.ceil(waitMs / 1000 - EPS_MS)) };
}
