/** `/v1/auth/validate`, `/v1/entitlements/check`, `/v1/sessions`, `/v1/usage`, `/v1/config/*`, `/v1/me*`. */
import { z } from '@hono/zod-openapi';
import * as auth from '../services/auth.js';
import { featuresView, rateLimitsView, tiersView } from '../services/config-views.js';
import * as keys from '../services/keys.js';
import * as me from '../services/me.js';
import { ok } from '../services/result.js';
import { getUsage } from '../services/usage.js';
import type { ServiceDeps } from '../services/deps.js';
import type { UserCache } from '../services/user-cache.js';
import { op, type Api } from './http.js';
import * as s from './schemas.js';

export function authRoutes(app: Api, deps: () => ServiceDeps & { userCache: UserCache }): void {
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/auth/validate',
      operationId: 'validateToken',
      summary: "A credential's AuthContext, or the denial a sidecar would give",
      tag: 'auth',
      body: s.ValidateRequest,
      response: s.ValidateResponse,
    },
    (i) => auth.validateCredential(i.deps, i.actor, i.body as s.ValidateInput),
  );
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/entitlements/check',
      operationId: 'checkEntitlements',
      summary: 'Which features, models, exchanges and order types a user has, and the tier',
      tag: 'auth',
      body: s.EntitlementsRequest,
      response: s.EntitlementsResponse,
    },
    (i) => auth.checkEntitlements(deps(), i.actor, i.body as s.EntitlementsInput),
  );
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/sessions',
      operationId: 'createSession',
      summary: 'Mint a signed session header for a user',
      tag: 'auth',
      body: s.SessionCreate,
      response: s.Session,
      status: 201,
    },
    (i) => auth.createSession(i.deps, i.actor, i.body as s.SessionInput),
  );
  op(
    app,
    deps,
    {
      method: 'get',
      path: '/v1/usage',
      operationId: 'getUsage',
      summary: 'Usage from the ledger by user, kind and period',
      tag: 'billing',
      query: s.UsageQuery,
      response: s.Usage,
    },
    (i) => getUsage(i.deps, i.actor, i.query as s.UsageInput),
  );
  const tag = 'config';
  op(
    app,
    deps,
    { method: 'get', path: '/v1/config/tiers', operationId: 'listTiers', summary: 'Tiers and their rate limits', tag, response: s.Tiers },
    async (i) => ok(tiersView(i.deps.cfg)),
  );
  op(
    app,
    deps,
    { method: 'get', path: '/v1/config/features', operationId: 'listFeatures', summary: 'Features the routes require', tag, response: s.Features },
    async (i) => ok(featuresView(i.deps.cfg)),
  );
  op(
    app,
    deps,
    { method: 'get', path: '/v1/config/rate-limits', operationId: 'getRateLimits', summary: 'Rate-limit settings', tag, response: s.RateLimits },
    async (i) => ok(rateLimitsView(i.deps.cfg)),
  );
}

const KeyId = z.object({
  key_id: z
    .string()
    .min(1)
    .openapi({ param: { name: 'key_id', in: 'path' } }),
});

export function meRoutes(app: Api, deps: () => ServiceDeps): void {
  const tag = 'me';
  op(app, deps, { method: 'get', path: '/v1/me', operationId: 'getMe', summary: "The caller's user record", tag, response: s.User }, (i) =>
    me.getMe(i.deps, i.actor),
  );
  op(
    app,
    deps,
    { method: 'get', path: '/v1/me/preferences', operationId: 'getMyPreferences', summary: "The caller's preferences", tag, response: s.Preferences },
    (i) => me.getPreferences(i.deps, i.actor),
  );
  op(
    app,
    deps,
    {
      method: 'put',
      path: '/v1/me/preferences',
      operationId: 'putMyPreferences',
      summary: "Replace the caller's preferences",
      tag,
      body: s.Preferences,
      response: s.Preferences,
    },
    (i) => me.putPreferences(i.deps, i.actor, i.body as Record<string, unknown>),
  );
  op(app, deps, { method: 'get', path: '/v1/me/keys', operationId: 'listMyApiKeys', summary: "The caller's API keys", tag, response: s.ApiKeyList }, (i) =>
    keys.listKeys(i.deps, i.actor, i.actor.id),
  );
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/me/keys',
      operationId: 'createMyApiKey',
      summary: 'Create an API key for the caller (returned once)',
      tag,
      body: s.KeyCreate,
      response: s.ApiKeyCreated,
      status: 201,
      idempotent: true,
    },
    (i) => keys.createKey(i.deps, i.actor, i.actor.id, i.body as s.KeyCreateInput, i.idempotencyKey),
  );
  op(
    app,
    deps,
    {
      method: 'delete',
      path: '/v1/me/keys/{key_id}',
      operationId: 'revokeMyApiKey',
      summary: "Revoke one of the caller's API keys",
      tag,
      params: KeyId,
      response: s.ApiKey,
    },
    (i) => keys.revokeKey(i.deps, i.actor, i.params['key_id']!, i.actor.id),
  );
}
