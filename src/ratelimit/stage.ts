/**
 * The pipeline's rate-limit stage: the caller's policy (tier, or its record's
 * override) on the route's class, one check, and the IETF RateLimit headers for
 * the response whatever the outcome (so clients can pace themselves).
 */
import type { TiersConfig } from './schema.js';
import type { LimitOutcome } from '../request/outcome.js';
import type { RateLimitStage } from '../request/stages.js';
import { admittedOutcome, limitedDenial, subjectOf, type Decision, type LimitPolicy, type RateLimiter } from './index.js';
import { createPolicyLookup } from './policy.js';
import { deny } from '../errors.js';
import { failsClosed } from '../routes.js';

const UNAVAILABLE = Object.freeze(deny('ARGUS_DEPENDENCY_UNAVAILABLE', 'rate limits are unavailable: Redis is unreachable', [['retry-after', '1']]));

export function createRateLimitStage(limiter: RateLimiter, tiers: TiersConfig): RateLimitStage {
  const outcome = (policy: LimitPolicy, d: Decision): LimitOutcome =>
    d.allowed ? admittedOutcome(policy, d) : d.unavailable ? { ok: false, denial: UNAVAILABLE } : { ok: false, denial: limitedDenial(policy, d) };
  const policyOf = createPolicyLookup(tiers);
  return function rateLimit(ctx, route) {
    const policy = policyOf(ctx, route.cfg.rate_class);
    const d = limiter.check(subjectOf(ctx), policy, 1, failsClosed(route.cfg));
    return d instanceof Promise ? d.then((r) => outcome(policy, r)) : outcome(policy, d);
  };
}
