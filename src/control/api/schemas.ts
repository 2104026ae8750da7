/**
 * The API's request and response shapes (zod with OpenAPI metadata). The
 * OpenAPI document (docs/openapi.json) is generated from these and the route
 * definitions; the services import only their inferred types.
 */
import { z } from '@hono/zod-openapi';
import { SAFE_NAME, SAFE_TOKEN } from '../../authenticate/records.js';
import { llmEntitlementSchema } from '../../llm/entitlement-schema.js';
import { tradingEntitlementSchema } from '../../trading/entitlement-schema.js';

// The same rules as the records the sidecar reads (src/authenticate/records.ts, the extensions' schemas).
const name = z.string().min(1).max(256).regex(SAFE_NAME, 'visible ASCII, no spaces');
const token = z.string().min(1).max(128).regex(SAFE_TOKEN, 'visible ASCII without "," or spaces');

export const Llm = llmEntitlementSchema.openapi('LlmEntitlements');

export const Trading = tradingEntitlementSchema.openapi('TradingEntitlements');

/** Entitlement fields shared by users and orgs; null clears a field on update. */
const entitlements = {
  tier: name.nullable().optional(),
  features: z.array(token).nullable().optional(),
  scopes: z.array(token).nullable().optional(),
  requests_per_minute: z.number().int().positive().nullable().optional(),
  llm: Llm.nullable().optional(),
  trading: Trading.nullable().optional(),
};

export const UserCreate = z
  .object({
    user_id: name.optional().openapi({ description: 'Generated (`u_…`) when absent' }),
    email: z.string().email().max(320).nullable().optional(),
    name: z.string().max(256).nullable().optional(),
    role: name.nullable().optional(),
    preferences: z.record(z.unknown()).optional(),
    ...entitlements,
  })
  .strict()
  .openapi('UserCreate');
export type UserCreateInput = z.infer<typeof UserCreate>;

export const UserUpdate = UserCreate.omit({ user_id: true }).strict().openapi('UserUpdate');
export type UserUpdateInput = z.infer<typeof UserUpdate>;

export const User = z
  .object({
    user_id: z.string(),
    email: z.string().nullable(),
    name: z.string().nullable(),
    tier: z.string().nullable(),
    role: z.string().nullable(),
    features: z.array(z.string()).nullable(),
    scopes: z.array(z.string()).nullable(),
    requests_per_minute: z.number().int().nullable(),
    llm: Llm.nullable(),
    trading: Trading.nullable(),
    preferences: z.record(z.unknown()),
    status: z.enum(['active', 'deleted']),
    version: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('User');

export const UserList = z.object({ items: z.array(User), next_cursor: z.string().nullable() }).openapi('UserList');

export const UserListQuery = z.object({
  tier: z.string().optional(),
  status: z.enum(['active', 'deleted']).optional(),
  email: z.string().optional(),
  org_id: z.string().optional(),
  cursor: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type UserListInput = z.infer<typeof UserListQuery>;

export const KeyCreate = z
  .object({
    scopes: z.array(token).default([]),
    features: z.array(token).optional(),
    role: name.optional(),
    requests_per_minute: z.number().int().positive().optional(),
    org_id: name.optional().openapi({ description: 'The org the key belongs to: it inherits the org’s tier and entitlements' }),
  })
  .strict()
  .openapi('ApiKeyCreate');
export type KeyCreateInput = z.infer<typeof KeyCreate>;

export const ApiKey = z
  .object({
    key_id: z.string(),
    user_id: z.string(),
    org_id: z.string().nullable(),
    tier: z.string(),
    role: z.string().nullable(),
    scopes: z.array(z.string()),
    features: z.array(z.string()),
    requests_per_minute: z.number().int().nullable(),
    status: z.enum(['active', 'revoked']),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .openapi('ApiKey');

export const ApiKeyCreated = z
  .object({ key: z.string().optional().openapi({ description: 'The key, shown once (absent on an idempotent replay)' }), api_key: ApiKey })
  .openapi('ApiKeyCreated');
export const ApiKeyList = z.object({ items: z.array(ApiKey) }).openapi('ApiKeyList');

export const RevocationCreate = z
  .object({ kind: z.enum(['user', 'session', 'key']), id: name })
  .strict()
  .openapi('RevocationCreate');
export type RevocationInput = z.infer<typeof RevocationCreate>;
export const Revocation = z.object({ kind: z.enum(['user', 'session', 'key']), id: z.string(), at: z.number() }).openapi('Revocation');

export const OrgCreate = z
  .object({ org_id: name.optional().openapi({ description: 'Generated (`org_…`) when absent' }), name: z.string().min(1).max(256), ...entitlements })
  .strict()
  .openapi('OrgCreate');
export type OrgCreateInput = z.infer<typeof OrgCreate>;
export const OrgUpdate = OrgCreate.omit({ org_id: true }).partial().strict().openapi('OrgUpdate');
export type OrgUpdateInput = z.infer<typeof OrgUpdate>;

export const Org = z
  .object({
    org_id: z.string(),
    name: z.string(),
    tier: z.string().nullable(),
    features: z.array(z.string()).nullable(),
    scopes: z.array(z.string()).nullable(),
    requests_per_minute: z.number().int().nullable(),
    llm: Llm.nullable(),
    trading: Trading.nullable(),
    status: z.enum(['active', 'deleted']),
    version: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Org');

const memberRole = z.enum(['owner', 'admin', 'member']);
export const MemberAdd = z
  .object({ user_id: name, role: memberRole.default('member') })
  .strict()
  .openapi('MemberAdd');
export type MemberAddInput = z.infer<typeof MemberAdd>;
export const MemberUpdate = z.object({ role: memberRole }).strict().openapi('MemberUpdate');
export const Member = z.object({ org_id: z.string(), user_id: z.string(), role: memberRole, created_at: z.string() }).openapi('Member');
export const MemberList = z.object({ items: z.array(Member) }).openapi('MemberList');

export const InvitationCreate = z
  .object({ email: z.string().email().max(320), role: z.enum(['admin', 'member']).default('member') })
  .strict()
  .openapi('InvitationCreate');
export type InvitationCreateInput = z.infer<typeof InvitationCreate>;
export const Invitation = z
  .object({
    invitation_id: z.string(),
    org_id: z.string(),
    email: z.string(),
    role: z.enum(['admin', 'member']),
    status: z.enum(['pending', 'accepted', 'cancelled', 'expired']),
    invited_by: z.string(),
    accepted_by: z.string().nullable(),
    created_at: z.string(),
    expires_at: z.string(),
    accepted_at: z.string().nullable(),
  })
  .openapi('Invitation');
export const InvitationCreated = z
  .object({ token: z.string().optional().openapi({ description: 'The invitation token, shown once' }), invitation: Invitation })
  .openapi('InvitationCreated');
export const InvitationList = z.object({ items: z.array(Invitation) }).openapi('InvitationList');
export const InvitationAccept = z
  .object({ token: z.string().min(1).max(256) })
  .strict()
  .openapi('InvitationAccept');

export const ValidateRequest = z
  .object({
    token: z.string().min(1).optional().openapi({ description: 'A JWT (as sent in Authorization: Bearer)' }),
    api_key: z.string().min(1).optional(),
    session: z.string().min(1).optional().openapi({ description: 'A signed session header value' }),
  })
  .strict()
  .openapi('ValidateRequest');
export type ValidateInput = z.infer<typeof ValidateRequest>;

export const AuthContext = z
  .object({
    method: z.enum(['jwt', 'api_key', 'session', 'none']),
    user_id: z.string(),
    tier: z.string(),
    role: z.string().optional(),
    features: z.array(z.string()),
    scopes: z.array(z.string()),
    key_id: z.string().optional(),
    session_id: z.string().optional(),
    expires_at: z.number().optional(),
    issued_at: z.number().optional(),
    requests_per_minute: z.number().optional(),
    llm: Llm.optional(),
    trading: Trading.optional(),
    stripe_customer: z.string().optional(),
  })
  .openapi('AuthContext');

export const ValidateResponse = z
  .object({
    valid: z.boolean(),
    context: AuthContext.optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional().openapi({ description: 'The denial the sidecar would answer' }),
  })
  .openapi('ValidateResponse');

export const EntitlementsRequest = z
  .object({
    user_id: name,
    features: z.array(z.string()).default([]),
    models: z.array(z.string()).default([]),
    exchanges: z.array(z.string()).default([]),
    order_types: z.array(z.string()).default([]),
  })
  .strict()
  .openapi('EntitlementsCheck');
export type EntitlementsInput = z.infer<typeof EntitlementsRequest>;

const boolMap = z.record(z.boolean());
export const EntitlementsResponse = z
  .object({ user_id: z.string(), tier: z.string(), features: boolMap, models: boolMap, exchanges: boolMap, order_types: boolMap, paper_only: z.boolean() })
  .openapi('Entitlements');

export const SessionCreate = z
  .object({ user_id: name, ttl_s: z.number().int().positive().optional(), tier: name.optional() })
  .strict()
  .openapi('SessionCreate');
export type SessionInput = z.infer<typeof SessionCreate>;
export const Session = z
  .object({ header: z.string(), value: z.string(), session_id: z.string(), user_id: z.string(), expires_at: z.number().int() })
  .openapi('Session');

export const UsageQuery = z.object({
  user_id: z.string().optional(),
  kind: z.enum(['request', 'llm', 'trading']).optional(),
  period: z.enum(['day', 'month']).default('day'),
  from: z.string().datetime({ offset: true }).optional(),
  to: z.string().datetime({ offset: true }).optional(),
});
export type UsageInput = z.infer<typeof UsageQuery>;
export const UsageRow = z
  .object({
    user_id: z.string().nullable(),
    kind: z.string(),
    period_start: z.string(),
    events: z.number().int(),
    quantity: z.number(),
    cost_usd: z.number().nullable(),
  })
  .openapi('UsageRow');
export const Usage = z.object({ period: z.enum(['day', 'month']), items: z.array(UsageRow) }).openapi('Usage');

export const Preferences = z.record(z.unknown()).openapi('Preferences');

export const Tiers = z
  .object({ items: z.array(z.object({ name: z.string(), requests_per_minute: z.number().int(), burst: z.number().int().nullable() })) })
  .openapi('Tiers');
export const Features = z.object({ items: z.array(z.object({ name: z.string(), routes: z.array(z.string()) })) }).openapi('Features');
export const RateLimits = z.object({ ratelimit: z.record(z.unknown()), tiers: Tiers.shape.items }).openapi('RateLimits');

export const ErrorBody = z
  .object({ error: z.object({ code: z.string(), message: z.string(), request_id: z.string() }) })
  .openapi('Error', { description: 'The sidecar’s error envelope (docs/http.md, "Errors")' });
