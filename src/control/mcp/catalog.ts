/**
 * The MCP resources (read-only views of the validated config, the same views
 * `GET /v1/config/*` serves) and the two prompts agents start from.
 */
import { z } from '@hono/zod-openapi';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Config } from '../../config.js';
import { featuresView, rateLimitsView, tiersView } from '../services/config-views.js';

export const RESOURCES = [
  { name: 'tiers', uri: 'argus://config/tiers', title: 'Tiers', description: 'Tiers and their rate limits (GET /v1/config/tiers)', view: tiersView },
  {
    name: 'features',
    uri: 'argus://config/features',
    title: 'Features',
    description: 'Features the routes require (GET /v1/config/features)',
    view: featuresView,
  },
  {
    name: 'rate-limits',
    uri: 'argus://config/rate-limits',
    title: 'Rate limits',
    description: 'Rate-limit settings and per-tier limits (GET /v1/config/rate-limits)',
    view: rateLimitsView,
  },
] as const;

export function registerResources(server: McpServer, cfg: Readonly<Config>): void {
  for (const r of RESOURCES) {
    server.registerResource(r.name, r.uri, { title: r.title, description: r.description, mimeType: 'application/json' }, async (uri) => ({
      contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(r.view(cfg)) }],
    }));
  }
}

const text = (t: string) => ({ messages: [{ role: 'user' as const, content: { type: 'text' as const, text: t } }] });

export function registerPrompts(server: McpServer): void {
  server.registerPrompt(
    'check_user_access',
    {
      title: 'Check user access',
      description: 'Decide whether a user may use a feature, model, exchange or order type, and why not',
      argsSchema: {
        user_id: z.string().describe('The user'),
        wanted: z.string().describe('What they want to use, e.g. "feature predictions" or "model gpt-4o"'),
      },
    },
    ({ user_id, wanted }) =>
      text(
        [
          `Check whether user ${user_id} may use: ${wanted}.`,
          '1. Call get_user_tier and get_user_profile for the user (tiers: resource argus://config/tiers).',
          '2. Call check_entitlement with the user and what they want (features, models, exchanges or order_types).',
          '3. If a route needs a feature, argus://config/features lists which routes require which features.',
          'Answer yes or no, and when no, what is missing (tier, feature, model entitlement) and which plan would give it.',
        ].join('\n'),
      ),
  );
  server.registerPrompt(
    'handle_billing',
    {
      title: 'Handle billing',
      description: "Look at a user's or org's subscription and start a checkout when they need a better plan",
      argsSchema: { user_id: z.string().optional().describe('The user (default: the caller)'), org_id: z.string().optional().describe('Or an org') },
    },
    ({ user_id, org_id }) =>
      text(
        [
          `Handle billing for ${org_id !== undefined ? `org ${org_id}` : `user ${user_id ?? '(the caller)'}`}.`,
          '1. Call get_subscription (user_id or org_id) for the plan, tier and subscription states.',
          '2. If a subscription is past_due or the tier is below what they need, say so and offer an upgrade.',
          '3. To upgrade, call create_checkout with the plan and success/cancel URLs, and give the returned url to the person: only they can pay.',
          'Never record usage or change tiers by hand to settle billing: Stripe webhooks set the tier.',
        ].join('\n'),
      ),
  );
}
