/**
 * The read-only tools (scope `argus:mcp:read`): each is the REST operation
 * named beside it, through the same service function.
 */
import { z } from '@hono/zod-openapi';
import { OwnerQuery, Subscription } from '../api/routes-billing.js';
import * as s from '../api/schemas.js';
import { getSubscription } from '../billing/service.js';
import * as auth from '../services/auth.js';
import type { Actor } from '../services/actor.js';
import * as me from '../services/me.js';
import { listMembers } from '../services/orgs.js';
import { ok, type Result } from '../services/result.js';
import * as users from '../services/users.js';
import type { UserView } from '../services/views.js';
import { READ, tool, type McpDeps, type ToolSpec } from './tool.js';

const UserRef = z.object({ user_id: z.string().min(1).max(256).optional().describe('The user; default: the caller (others need role admin)') }).strict();

/** `GET /v1/me` for the caller, `GET /v1/users/{id}` (admins) for anyone else. */
export function profileOf(deps: McpDeps, actor: Actor, userId: string | undefined): Promise<Result<UserView>> {
  return userId === undefined || userId === actor.id ? me.getMe(deps, actor) : users.getUser(deps, actor, userId);
}

const UserTier = z.object({
  user_id: z.string(),
  tier: z.string().nullable().describe("The user's tier as stored (what GET /v1/users/{user_id} reports); null: none set"),
  effective_tier: z.string().describe('The tier the sidecar applies: `tier`, else auth.default_tier'),
});

export const READ_TOOLS: readonly ToolSpec[] = [
  tool({
    name: 'validate_token',
    title: 'Validate a credential',
    description: 'A JWT, API key or signed session → the AuthContext a sidecar would build, or the denial it would give (POST /v1/auth/validate; admin).',
    input: s.ValidateRequest,
    output: s.ValidateResponse,
    annotations: READ,
    run: (deps, actor, input) => auth.validateCredential(deps, actor, input),
  }),
  tool({
    name: 'check_entitlement',
    title: 'Check entitlements',
    description: 'Which of the named features, models, exchanges and order types a user has, and their tier (POST /v1/entitlements/check).',
    input: s.EntitlementsRequest,
    output: s.EntitlementsResponse,
    annotations: READ,
    run: (deps, actor, input) => auth.checkEntitlements(deps, actor, input),
  }),
  tool({
    name: 'get_user_profile',
    title: 'Get a user profile',
    description: "A user's record: tier, role, features, scopes, entitlements, preferences (GET /v1/me, or GET /v1/users/{user_id}).",
    input: UserRef,
    output: s.User,
    annotations: READ,
    run: (deps, actor, input) => profileOf(deps, actor, input.user_id),
  }),
  tool({
    name: 'get_user_tier',
    title: "Get a user's tier",
    description: "A user's tier (the `tier` of GET /v1/users/{user_id}) and the tier the sidecar applies.",
    input: UserRef,
    output: UserTier,
    annotations: READ,
    run: async (deps, actor, input) => {
      const r = await profileOf(deps, actor, input.user_id);
      return r.ok ? ok({ user_id: r.value.user_id, tier: r.value.tier, effective_tier: r.value.tier ?? deps.cfg.auth.default_tier }) : r;
    },
  }),
  tool({
    name: 'get_org_members',
    title: 'List org members',
    description: "An org's members and their roles (GET /v1/orgs/{org_id}/members; members of the org or admins).",
    input: z.object({ org_id: z.string().min(1).max(256) }).strict(),
    output: s.MemberList,
    annotations: READ,
    run: (deps, actor, input) => listMembers(deps, actor, input.org_id),
  }),
  tool({
    name: 'get_subscription',
    title: 'Get a subscription',
    description: 'The Stripe subscriptions, plan and tier of the caller, a user (admins) or an org (GET /v1/billing/subscription).',
    input: OwnerQuery.strict(),
    output: Subscription,
    annotations: READ,
    run: (deps, actor, input) => getSubscription(deps, actor, input),
  }),
];
