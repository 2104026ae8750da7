/**
 * Stage 4 as the pipeline runs it: authorize the authenticated caller, with
 * phased rollout. A refusal on a route in `mode: shadow` (or not yet enforced
 * for this subject by `enforce_percent`) is recorded and the request goes on
 * as anonymous ({@link SHADOW}).
 */
import type { Denial } from '../errors.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import type { Exchange } from '../request/exchange.js';
import type { AuthOutcome } from '../request/outcome.js';
import type { CompiledRoute, RouteConfig } from '../request/route.js';
import type { AuthorizeStage } from '../request/stages.js';

/** Refused, but the route does not enforce yet: forward as anonymous. */
export const SHADOW = Symbol('shadow');

export interface AdmissionDeps {
  readonly authorize: AuthorizeStage;
  /** False when this route (mode shadow / enforce_percent) should not enforce for `subject`. */
  readonly shouldEnforce: (route: RouteConfig, subject: string) => boolean;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** Null: admitted (the caller is `outcome.ctx`); a Denial: refuse; SHADOW: forward as anonymous. */
export function createAdmission(deps: AdmissionDeps) {
  return function admit(ex: Exchange, route: CompiledRoute, outcome: AuthOutcome): Denial | typeof SHADOW | null {
    const ctx = outcome.ok ? outcome.ctx : null;
    const denial = outcome.ok ? deps.authorize(ctx, route.cfg) : outcome.denial;
    if (!denial) return null;
    // Phased migration: a shadow (or not-yet-enforced) route records the decision and forwards anyway, as anonymous.
    if (route.cfg.mode === 'shadow' || route.cfg.enforce_percent < 100) {
      const subject = ctx?.user_id ?? ex.head.remoteAddress;
      if (!deps.shouldEnforce(route.cfg, subject)) {
        deps.metrics.shadowDecisions.labels(route.label, denial.code).inc();
        deps.log.info('shadow: would refuse', { route: route.label, code: denial.code, request_id: ex.head.requestId });
        return SHADOW;
      }
    }
    return denial;
  };
}
