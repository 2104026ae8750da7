/**
 * LLM entitlement check for a requested model, used once the LLM stage knows the
 * model (it is in the request body, not the head).
 */
import { deny, type Denial } from '../errors.js';
import type { AuthContext } from '../request/principal.js';
import './errors.js';

/**
 * Null when `ctx` may use `model`. Allowed when the model is listed, or its tier
 * (`modelTier`, from the price table) is listed. No LLM entitlement at all: refused.
 */
export function authorizeModel(ctx: AuthContext, model: string, modelTier?: string): Denial | null {
  const llm = ctx.llm;
  if (llm === undefined) return deny('ARGUS_MODEL_NOT_ALLOWED', 'no LLM entitlement for this account');
  if (llm.models.includes(model)) return null;
  if (modelTier !== undefined && llm.model_tiers.includes(modelTier)) return null;
  return deny('ARGUS_MODEL_NOT_ALLOWED', `model ${model} is not allowed for this account`);
}
