/**
 * The tools that change state (scope `argus:mcp:write`): each is the REST
 * operation named beside it, through the same service function, so the
 * service writes the audit row in the change's transaction.
 */
import { z } from '@hono/zod-openapi';
import { CheckoutRequest, CheckoutSession, UsageEventIn, UsageEventsAccepted } from '../api/routes-billing.js';
import * as s from '../api/schemas.js';
import { checkout } from '../billing/service.js';
import { recordUsageEvents } from '../billing/usage-events.js';
import * as auth from '../services/auth.js';
import * as me from '../services/me.js';
import { ok } from '../services/result.js';
import * as users from '../services/users.js';
import { tool, type ToolSpec } from './tool.js';

const idempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .optional()
  .describe('Retry-safe: the same key and arguments get the first answer again (the REST Idempotency-Key header)');

const Preferences = z.object({ user_id: z.string(), preferences: s.Preferences });

export const WRITE_TOOLS: readonly ToolSpec[] = [
  tool({
    name: 'create_session',
    title: 'Create a session',
    description: 'Mint a signed session header for an active user, revocable with `revoke --session` (POST /v1/sessions; admin).',
    input: s.SessionCreate,
    output: s.Session,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    run: (deps, actor, input) => auth.createSession(deps, actor, input),
  }),
  tool({
    name: 'create_user',
    title: 'Create a user',
    description: 'Onboard a user with a tier, role and entitlements (POST /v1/users; admin).',
    input: s.UserCreate.extend({ idempotency_key: idempotencyKey }).strict(),
    output: s.User,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    run: (deps, actor, { idempotency_key, ...input }) => users.createUser(deps, actor, input, idempotency_key),
  }),
  tool({
    name: 'update_preferences',
    title: 'Replace preferences',
    description: "Replace a user's preferences (PUT /v1/me/preferences for the caller; PATCH /v1/users/{user_id} for admins).",
    input: z
      .object({
        user_id: z.string().min(1).max(256).optional().describe('Default: the caller'),
        preferences: s.Preferences,
      })
      .strict(),
    output: Preferences,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    run: async (deps, actor, input) => {
      const userId = input.user_id ?? actor.id;
      if (userId === actor.id) {
        const r = await me.putPreferences(deps, actor, input.preferences);
        return r.ok ? ok({ user_id: userId, preferences: r.value }) : r;
      }
      const r = await users.updateUser(deps, actor, userId, { preferences: input.preferences });
      return r.ok ? ok({ user_id: userId, preferences: r.value.preferences }) : r;
    },
  }),
  tool({
    name: 'record_usage',
    title: 'Record usage',
    description:
      'Record one usage event metered outside the sidecar into the ledger and Stripe meters; the same `id` is the same event (POST /v1/usage/events).',
    input: UsageEventIn,
    output: UsageEventsAccepted,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    run: (deps, actor, input) => recordUsageEvents(deps, actor, { events: [input] }),
  }),
  tool({
    name: 'create_checkout',
    title: 'Create a checkout',
    description: 'Start a Stripe Checkout for a plan; open the returned `url` in a browser (POST /v1/billing/checkout).',
    input: CheckoutRequest,
    output: CheckoutSession,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    run: (deps, actor, input) => checkout(deps, actor, input),
  }),
];
