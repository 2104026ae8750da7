/**
 * Model entitlements: may this caller use the model its request names?
 *
 * A caller's `AuthContext.llm` lists allowed model names/globs (`models`) and
 * allowed model tiers (`model_tiers`); config `llm.model_tiers` maps each tier to
 * model names/globs. Tiers are independent sets (granting `reasoning` does not
 * imply `economy`): list every tier a plan includes. With both lists empty the
 * caller may use no model.
 */
import { deny, type Denial } from '../errors.js';
import './errors.js';
import type { AuthContext } from '../request/principal.js';
import { compileGlob } from './glob.js';
import type { LlmConfig } from './schema.js';

export interface ModelEntitlementOptions {
  /** `llm.model_tiers` from config. */
  modelTiers: LlmConfig['model_tiers'];
  /**
   * Callers without `AuthContext.llm` (or anonymous on an optional-auth route):
   * `deny` (default, fail closed) or `allow` any model.
   */
  withoutEntitlements?: 'allow' | 'deny';
}

/** Returns null when allowed, else a 403 ARGUS_MODEL_NOT_ALLOWED denial. */
export type ModelCheck = (ctx: AuthContext | undefined, model: string | undefined) => Denial | null;

export function createModelCheck(opts: ModelEntitlementOptions): ModelCheck {
  const withoutEntitlements = opts.withoutEntitlements ?? 'deny';
  const tiers = new Map<string, Array<(m: string) => boolean>>();
  for (const [tier, patterns] of Object.entries(opts.modelTiers)) tiers.set(tier, patterns.map(compileGlob));
  // Compiled per distinct list of caller globs; AuthContexts are cached, so lists repeat.
  const compiled = new WeakMap<readonly string[], Array<(m: string) => boolean>>();

  function callerGlobs(models: readonly string[]): Array<(m: string) => boolean> {
    let fns = compiled.get(models);
    if (!fns) compiled.set(models, (fns = models.map(compileGlob)));
    return fns;
  }

  return function checkModel(ctx, model) {
    const llm = ctx?.llm;
    if (!llm) {
      return withoutEntitlements === 'allow' ? null : deny('ARGUS_MODEL_NOT_ALLOWED', 'this credential has no LLM entitlements');
    }
    if (model === undefined || model === '') return deny('ARGUS_MODEL_NOT_ALLOWED', 'the request names no model');
    if (callerGlobs(llm.models).some((test) => test(model))) return null;
    for (const tier of llm.model_tiers) if (tiers.get(tier)?.some((test) => test(model))) return null;
    return deny('ARGUS_MODEL_NOT_ALLOWED', `model "${model.slice(0, 100)}" is not allowed for this credential`);
  };
}
