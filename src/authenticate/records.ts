/**
 * Stored identity records: API-key records (Postgres `api_keys`, projected to Redis
 * and the standalone key file) and user records (Redis, written by the control
 * plane). Parsed with zod at every trust boundary; a malformed record is treated
 * as absent and logged, never half-trusted.
 */
import { z } from 'zod';

const name = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21-\x7e]+$/, 'visible ASCII, no spaces');
/** Features and scopes travel upstream comma-separated: no commas, no spaces. */
const token = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x2b\x2d-\x7e]+$/, 'visible ASCII without "," or spaces');

export const llmSchema = z
  .object({
    models: z.array(z.string().min(1)).default([]),
    model_tiers: z.array(z.string().min(1)).default([]),
    daily_token_budget: z.number().int().nonnegative().optional(),
    requests_per_minute: z.number().int().positive().optional(),
  })
  .strict();

export const tradingSchema = z
  .object({
    exchanges: z.array(z.string().min(1)).default([]),
    order_types: z.array(z.string().min(1)).default([]),
    max_position_size_usd: z.number().nonnegative().optional(),
    daily_loss_limit_usd: z.number().nonnegative().optional(),
    max_daily_value_usd: z.number().nonnegative().optional(),
    /** Safer default: a record that does not say otherwise may only paper-trade. */
    paper_only: z.boolean().default(true),
    realtime_symbols_limit: z.number().int().nonnegative().optional(),
  })
  .strict();

export const keyRecordSchema = z
  .object({
    key_id: name,
    /** Hex SHA-256 of the full key. Optional in Redis (it is the Redis key itself), required in the file. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits')
      .optional(),
    user_id: name,
    tier: name,
    role: name.optional(),
    scopes: z.array(token).default([]),
    features: z.array(token).default([]),
    status: z.enum(['active', 'revoked']).default('active'),
    /** Unix seconds; `revoke --user` refuses keys created at or before the revocation. */
    created_at: z.number().optional(),
    requests_per_minute: z.number().int().positive().optional(),
    llm: llmSchema.optional(),
    trading: tradingSchema.optional(),
    stripe_customer: z.string().min(1).optional(),
  })
  .strict();

export type KeyRecord = z.infer<typeof keyRecordSchema>;

/**
 * `org` in a user record: the entitlements of the highest-tier org the user
 * belongs to (control plane, `users.org_lift`). Applied in place of the user's
 * own tier, features, LLM and trading entitlements when its tier ranks higher.
 */
export const orgLiftSchema = z
  .object({
    org_id: name,
    tier: name,
    features: z.array(token).default([]),
    llm: llmSchema.optional(),
    trading: tradingSchema.optional(),
  })
  .strict();

/** Redis `<prefix>auth:user:<user_id>`: what the control plane knows about a user. Overrides JWT claims. */
export const userRecordSchema = z
  .object({
    tier: name.optional(),
    role: name.optional(),
    features: z.array(token).optional(),
    scopes: z.array(token).optional(),
    requests_per_minute: z.number().int().positive().optional(),
    llm: llmSchema.optional(),
    trading: tradingSchema.optional(),
    stripe_customer: z.string().min(1).optional(),
    org: orgLiftSchema.optional(),
  })
  .passthrough();

export type UserRecord = z.infer<typeof userRecordSchema>;

/** Parse JSON text into a record, or null when absent/malformed. */
export function parseRecord<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, text: string | null | undefined): T | null {
  if (text === null || text === undefined) return null;
  try {
    const r = schema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** Visible ASCII without spaces/commas: safe as (part of) an upstream header value. */
export const SAFE_NAME = /^[\x21-\x7e]{1,256}$/;
export const SAFE_TOKEN = /^[\x21-\x2b\x2d-\x7e]{1,128}$/;
