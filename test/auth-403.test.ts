/**
 * 403: route policies (role, tier minimum, features, scopes, trading, LLM model)
 * with distinct codes; phased enforcement (shadow, enforce_percent) and the
 * identity headers sent upstream.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuthContext } from '../src/request/principal.js';
import { authorize, identityBlock, identityHeaders, shouldEnforce } from '../src/authorize/index.js';
import { authorizeModel } from '../src/llm/authorize-model.js';
import { statusOf } from '../src/errors.js';
import { makeConfig, routeOf } from './support/auth-harness.js';

const cfg = makeConfig({
  tiers: { custom_gold: { requests_per_minute: 500000 } },
  routes: [
    { path: '/open', auth: 'none' },
    { path: '/maybe', auth: 'optional' },
    { path: '/pro', tier: 'professional' },
    { path: '/gold', tier: 'custom_gold' },
    { path: '/feat', features: ['predictions', 'alerts'] },
    { path: '/scope', scopes: ['sibyl:write'] },
    { path: '/admin', role: 'admin' },
    { path: '/ops', role: 'operator' },
    { path: '/trade', trading: true },
    { path: '/shadow', mode: 'shadow' },
    { path: '/half', enforce_percent: 50 },
    { path: '/none-pct', enforce_percent: 0 },
    { path: '/all', tier: 'explorer' },
  ],
});

const user = (over: Partial<AuthContext> = {}): AuthContext => ({ method: 'jwt', user_id: 'u_1', tier: 'explorer', features: [], scopes: [], ...over });
const code = (ctx: AuthContext | null, path: string) => authorize(ctx, routeOf(cfg, path), cfg.tiers)?.code ?? null;

describe('auth 403', () => {
  test('tier minimum: lower tiers are refused with ARGUS_TIER_REQUIRED, equal and higher pass', () => {
    assert.equal(code(user({ tier: 'explorer' }), '/pro'), 'ARGUS_TIER_REQUIRED');
    assert.equal(code(user({ tier: 'professional' }), '/pro'), null);
    assert.equal(code(user({ tier: 'enterprise' }), '/pro'), null);
    assert.equal(code(user({ tier: 'enterprise' }), '/gold'), 'ARGUS_TIER_REQUIRED');
    assert.equal(code(user({ tier: 'custom_gold' }), '/gold'), null);
    assert.equal(code(user({ tier: 'unknown-tier' }), '/all'), 'ARGUS_TIER_REQUIRED');
    assert.equal(statusOf('ARGUS_TIER_REQUIRED'), 403);
  });

  test('features, scopes, role and trading each have their own code', () => {
    assert.equal(code(user({ features: ['predictions'] }), '/feat'), 'ARGUS_FEATURE_REQUIRED');
    assert.equal(code(user({ features: ['alerts', 'predictions'] }), '/feat'), null);
    assert.equal(code(user({ scopes: ['sibyl:read'] }), '/scope'), 'ARGUS_SCOPE_REQUIRED');
    assert.equal(code(user({ scopes: ['sibyl:write'] }), '/scope'), null);
    assert.equal(code(user(), '/admin'), 'ARGUS_ROLE_REQUIRED');
    assert.equal(code(user({ role: 'operator' }), '/admin'), 'ARGUS_ROLE_REQUIRED');
    assert.equal(code(user({ role: 'admin' }), '/admin'), null);
    assert.equal(code(user({ role: 'admin' }), '/ops'), null, 'admin satisfies any role');
    assert.equal(code(user(), '/trade'), 'ARGUS_TRADING_NOT_ALLOWED');
    assert.equal(code(user({ trading: { exchanges: ['binance'], order_types: ['limit'], paper_only: true } }), '/trade'), null);
    for (const c of ['ARGUS_FEATURE_REQUIRED', 'ARGUS_SCOPE_REQUIRED', 'ARGUS_ROLE_REQUIRED', 'ARGUS_TRADING_NOT_ALLOWED'] as const)
      assert.equal(statusOf(c), 403);
  });

  test('anonymous callers: nothing to check on open routes, 401 where the route needs something', () => {
    assert.equal(code(null, '/open'), null);
    assert.equal(code(null, '/maybe'), null);
    assert.equal(code(null, '/pro'), 'ARGUS_UNAUTHENTICATED');
  });

  test('LLM model entitlement', () => {
    const llm = { models: ['gpt-4o-mini'], model_tiers: ['economy'] };
    assert.equal(authorizeModel(user({ llm }), 'gpt-4o-mini'), null);
    assert.equal(authorizeModel(user({ llm }), 'o3', 'economy'), null);
    assert.equal(authorizeModel(user({ llm }), 'o3', 'reasoning')?.code, 'ARGUS_MODEL_NOT_ALLOWED');
    assert.equal(authorizeModel(user(), 'gpt-4o-mini')?.code, 'ARGUS_MODEL_NOT_ALLOWED');
  });

  test('shadow never enforces; enforce_percent picks a stable share of subjects', () => {
    assert.equal(shouldEnforce(routeOf(cfg, '/shadow'), 'u_1'), false);
    assert.equal(shouldEnforce(routeOf(cfg, '/pro'), 'u_1'), true);
    assert.equal(shouldEnforce(routeOf(cfg, '/none-pct'), 'u_1'), false);
    const half = routeOf(cfg, '/half');
    const ids = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
    const picked = ids.filter((id) => shouldEnforce(half, id));
    assert.ok(picked.length > 850 && picked.length < 1150, `${picked.length} of 2000 enforced at 50%`);
    assert.deepEqual(
      ids.filter((id) => shouldEnforce(half, id)),
      picked,
      'same subjects every time',
    );
  });

  test('identity headers: anonymous, full context, stale marker; values are shared per context', () => {
    assert.deepEqual(identityHeaders(null), ['x-argus-auth', 'none']);
    const ctx = user({ method: 'api_key', tier: 'business', role: 'svc', key_id: 'key_1', scopes: ['a', 'b'], features: ['x'] });
    const h = identityHeaders(ctx);
    assert.deepEqual(h, [
      'x-argus-auth',
      'api_key',
      'x-argus-user-id',
      'u_1',
      'x-argus-tier',
      'business',
      'x-argus-role',
      'svc',
      'x-argus-scopes',
      'a,b',
      'x-argus-features',
      'x',
      'x-argus-key-id',
      'key_1',
    ]);
    assert.equal(identityHeaders(ctx), h);
    assert.deepEqual(identityHeaders(ctx, { stale: true }).slice(-2), ['x-argus-auth-stale', '1']);
  });

  test('identity block: the same headers as wire lines, built once per context', () => {
    const ctx = user({ method: 'jwt', tier: 'professional', scopes: ['s:r'] });
    const b = identityBlock(ctx);
    assert.equal(b.lines, 'x-argus-auth: jwt\r\nx-argus-user-id: u_1\r\nx-argus-tier: professional\r\nx-argus-scopes: s:r\r\n');
    assert.equal(b.list, identityHeaders(ctx));
    assert.equal(identityBlock(ctx), b);
    assert.match(identityBlock(ctx, { stale: true }).lines, /x-argus-tier: professional\r\nx-argus-scopes: s:r\r\nx-argus-auth-stale: 1\r\n$/);
    assert.equal(identityBlock(null).lines, 'x-argus-auth: none\r\n');
  });
});
