/**
 * Config schema of the `billing:` section: what a Stripe subscription buys.
 *
 * ```yaml
 * billing:
 *   plans:
 *     professional:
 *       tier: professional
 *       prices: { monthly: argus_professional_monthly, yearly: argus_professional_yearly }
 *       features: [predictions, backtesting]
 *       llm: { model_tiers: [economy, balanced], daily_token_budget: 1000000, requests_per_minute: 100 }
 *       trading: { exchanges: [binance], order_types: [market, limit], paper_only: false }
 *   inactive_tier: none
 *   past_due_grace_s: 259200
 *   webhook_secret: "${STRIPE_WEBHOOK_SECRET}"
 * ```
 *
 * Besides tier, prices and features, a plan grants each product extension's
 * entitlements under the extension's name (`llm`, `trading`, …), in the shape a
 * user record holds them (src/authenticate/records.ts): the core names no product. Cross-checks that need the merged `tiers:`
 * table (a plan's tier and `inactive_tier` must name a tier; a price lookup key
 * buys one plan only) run in src/config.ts after defaults are applied.
 */
import { z, type ZodTypeAny } from 'zod';
import type { ExtensionEntitlements } from '../extensions/slots.js';
import { registeredExtensions, registrationGeneration } from '../extensions/registered.js';

/** Features travel upstream comma-separated: no commas, no spaces. */
const feature = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x2b\x2d-\x7e]+$/, 'visible ASCII without "," or spaces');

const planBase = z
  .object({
    /** The tier a subscriber to this plan gets (a name from `tiers:`). */
    tier: z.string().min(1),
    /** Stripe price lookup keys that buy this plan, per billing interval. */
    prices: z
      .object({
        monthly: z.string().min(1).max(200).optional(),
        yearly: z.string().min(1).max(200).optional(),
      })
      .strict()
      .default({}),
    /** Features a subscriber gets. */
    features: z.array(feature).default([]),
  })
  .strict();

export type PlanConfig = z.infer<typeof planBase> & ExtensionEntitlements;

let built: { generation: number; schema: ZodTypeAny } | undefined;
/** The plan schema with each registered extension's entitlements (rebuilt when one registers). */
const planSchema: z.ZodType<PlanConfig, z.ZodTypeDef, unknown> = z.lazy(() => {
  const generation = registrationGeneration();
  if (built?.generation !== generation) {
    const shape: Record<string, ZodTypeAny> = {};
    for (const ext of registeredExtensions()) if (ext.entitlementSchema) shape[ext.name] = ext.entitlementSchema.optional();
    built = { generation, schema: planBase.extend(shape) };
  }
  return built.schema as z.ZodType<PlanConfig, z.ZodTypeDef, unknown>;
});

/** A plan's extension entitlements, under their names. */
export function planEntitlements(plan: PlanConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const ext of registeredExtensions()) {
    const v = (plan as unknown as Record<string, unknown>)[ext.name];
    if (ext.entitlementSchema && v !== undefined) out[ext.name] = v;
  }
  return out;
}

export const billingPlansSchema = z
  .object({
    /** Plan name → what its subscription buys. */
    plans: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, "_" and "-"'), planSchema).default({}),
    /** Tier of an owner whose subscription lapsed (unpaid, canceled, expired, paused, or past due beyond the grace). */
    inactive_tier: z.string().min(1).default('none'),
    /** How long a past_due subscription keeps its plan before falling to inactive_tier. */
    past_due_grace_s: z.number().int().nonnegative().default(259200),
    /** Stripe webhook signing secret (`whsec_…`); `${STRIPE_WEBHOOK_SECRET}` in the file. Empty: the webhook answers 503. */
    webhook_secret: z.string().default(''),
    /** Oldest signature timestamp accepted, in seconds (Stripe's own default: 300). */
    webhook_tolerance_s: z.number().int().min(1).max(3600).default(300),
    /** How often the control process looks for past_due owners whose grace has ended. */
    sweep_interval_ms: z.number().int().positive().default(30000),
  })
  .strict();

export type BillingConfig = z.infer<typeof billingPlansSchema>;

/**
 * Problems a valid-looking billing section can still have against the tiers
 * table: `[path, message]` pairs, empty when consistent.
 */
export function billingProblems(billing: BillingConfig, tierNames: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const tiers = new Set(tierNames);
  if (!tiers.has(billing.inactive_tier)) out.push(['billing.inactive_tier', `unknown tier "${billing.inactive_tier}" (tiers: ${tierNames.join(', ')})`]);
  const owner = new Map<string, string>();
  for (const [name, plan] of Object.entries(billing.plans)) {
    if (!tiers.has(plan.tier)) out.push([`billing.plans.${name}.tier`, `unknown tier "${plan.tier}" (tiers: ${tierNames.join(', ')})`]);
    for (const [interval, key] of Object.entries(plan.prices)) {
      if (key === undefined) continue;
      const prior = owner.get(key);
      if (prior !== undefined) out.push([`billing.plans.${name}.prices.${interval}`, `lookup key "${key}" already buys plan "${prior}"`]);
      else owner.set(key, name);
    }
  }
  return out;
}

/** The plan a Stripe price lookup key buys, or undefined. */
export function planForLookupKey(billing: BillingConfig, lookupKey: string | null | undefined): { name: string; plan: PlanConfig } | undefined {
  if (!lookupKey) return undefined;
  for (const [name, plan] of Object.entries(billing.plans)) {
    if (plan.prices.monthly === lookupKey || plan.prices.yearly === lookupKey) return { name, plan };
  }
  return undefined;
}
