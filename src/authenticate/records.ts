/**
 * Stored identity records: API-key records (Postgres `api_keys`, projected to Redis
 * and the standalone key file) and user records (Redis, written by the control
 * plane). Parsed with zod at every trust boundary; a malformed record is treated
 * as absent and logged, never half-trusted.
 */
import { z, type ZodTypeAny } from 'zod';
import type { ExtensionEntitlements } from '../extensions/slots.js';
import { registeredExtensions, registrationGeneration } from '../extensions/registered.js';

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

const keyRecordBase = z
  .object({
    key_id: name,
    /** Hex SHA-256 of the full key. Optional in Redis (it is the Redis key itself), required in the file. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits')
      .optional(),
    user_id: name,
    /** The owning org: the key inherits from the org's record (`<prefix>auth:org:<org_id>`) instead of the user's. */
    org_id: name.optional(),
    tier: name,
    role: name.optional(),
    scopes: z.array(token).default([]),
    features: z.array(token).default([]),
    status: z.enum(['active', 'revoked']).default('active'),
    /** Unix seconds; `revoke --user` refuses keys created at or before the revocation. */
    created_at: z.number().optional(),
    requests_per_minute: z.number().int().positive().optional(),
    stripe_customer: z.string().min(1).optional(),
  })
  .strict();

/** A key record: identity plus each extension's entitlements under its name (src/extensions/slots.ts). */
export type KeyRecord = z.infer<typeof keyRecordBase> & ExtensionEntitlements;

/**
 * `org` in a user record: the entitlements of the highest-tier org the user
 * belongs to (control plane, `users.org_lift`). Applied in place of the user's
 * own tier, features and extension entitlements when its tier ranks higher.
 */
const orgLiftBase = z
  .object({
    org_id: name,
    tier: name,
    features: z.array(token).default([]),
  })
  .strict();

/** The org lift: its tier and features plus each extension's entitlements under its name. */
export type OrgLift = z.infer<typeof orgLiftBase> & ExtensionEntitlements;
export const orgLiftSchema: z.ZodType<OrgLift, z.ZodTypeDef, unknown> = z.lazy(withEntitlements<OrgLift>(orgLiftBase));

/**
 * Redis `<prefix>auth:user:<user_id>` and `<prefix>auth:org:<org_id>`: what the control
 * plane knows about a user or an org. Overrides JWT claims; an API key takes tier,
 * role, features and every extension's entitlements from its owner's record (claims.ts).
 */
const userRecordBase = z
  .object({
    tier: name.optional(),
    role: name.optional(),
    features: z.array(token).optional(),
    scopes: z.array(token).optional(),
    requests_per_minute: z.number().int().positive().optional(),
    stripe_customer: z.string().min(1).optional(),
    org: orgLiftSchema.optional(),
  })
  .passthrough();

export type UserRecord = z.infer<typeof userRecordBase> & ExtensionEntitlements;

/** Each registered extension's entitlements, as optional record fields under its name. */
function entitlementShape(): Record<string, ZodTypeAny> {
  const shape: Record<string, ZodTypeAny> = {};
  for (const ext of registeredExtensions()) if (ext.entitlementSchema) shape[ext.name] = ext.entitlementSchema.optional();
  return shape;
}

/** Rebuilt only when an extension is registered. */
function withEntitlements<T>(base: z.AnyZodObject): () => z.ZodType<T, z.ZodTypeDef, unknown> {
  let built: { generation: number; schema: z.ZodType<T, z.ZodTypeDef, unknown> } | undefined;
  return () => {
    const generation = registrationGeneration();
    if (built?.generation !== generation) built = { generation, schema: base.extend(entitlementShape()) as unknown as z.ZodType<T, z.ZodTypeDef, unknown> };
    return built.schema;
  };
}

/** Key records: the base fields plus every extension's entitlements (unknown fields are errors). */
export const keyRecordSchema: z.ZodType<KeyRecord, z.ZodTypeDef, unknown> = z.lazy(withEntitlements<KeyRecord>(keyRecordBase));
/** User records: the base fields plus every extension's entitlements (other fields pass through). */
export const userRecordSchema: z.ZodType<UserRecord, z.ZodTypeDef, unknown> = z.lazy(withEntitlements<UserRecord>(userRecordBase));

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

const NONE: Readonly<ExtensionEntitlements> = Object.freeze({});

/** The extensions' entitlements in a record, under their names: copied for the AuthContext, never read here. */
export function entitlementsOf(rec: object): Readonly<ExtensionEntitlements> {
  let out: Record<string, unknown> | undefined;
  for (const ext of registeredExtensions()) {
    if (!ext.entitlementSchema) continue;
    const v = (rec as Record<string, unknown>)[ext.name];
    if (v !== undefined) (out ??= {})[ext.name] = v;
  }
  return out ?? NONE;
}

/** Names under which extensions keep entitlements in records and contexts. */
export function entitlementNames(): string[] {
  return registeredExtensions()
    .filter((e) => e.entitlementSchema !== undefined)
    .map((e) => e.name);
}
