/**
 * Outcome: a user record's `org` (their highest org's entitlements) lifts the
 * caller to the org's tier, features, LLM and trading entitlements only when it
 * outranks their own tier; the user's role, scopes and rate override stay theirs;
 * a record without `org` (removed from the org) is the user's own again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../src/extensions/registry.js';
import { createContextBuilder } from '../src/authenticate/claims.js';
import { parseRecord, userRecordSchema } from '../src/authenticate/records.js';
import type { AuthContext } from '../src/request/principal.js';

const tiers = { none: {}, explorer: {}, professional: {}, business: {}, enterprise: {} };
const build = createContextBuilder({ tiers, defaultTier: 'explorer', claims: undefined });
const base: AuthContext = { method: 'jwt', user_id: 'u1', tier: 'explorer', features: [], scopes: ['sibyl:read'] };
const record = (o: object) => parseRecord(userRecordSchema, JSON.stringify(o));

describe('org lift in the user record', () => {
  it('a higher org tier replaces tier, features, llm and trading; role, scopes and rate override stay', () => {
    const rec = record({
      tier: 'explorer',
      role: 'analyst',
      features: ['basic'],
      requests_per_minute: 150,
      llm: { model_tiers: ['economy'] },
      org: { org_id: 'o1', tier: 'business', features: ['team'], trading: { exchanges: ['binance'], paper_only: false } },
    });
    const ctx = build.withUser(base, rec);
    assert.deepEqual(
      [ctx.tier, ctx.features, ctx.llm, ctx.trading?.exchanges, ctx.role, ctx.scopes, ctx.requests_per_minute],
      ['business', ['team'], undefined, ['binance'], 'analyst', ['sibyl:read'], 150],
    );
  });

  it('a lower or equal org tier changes nothing; no org is the user alone', () => {
    const own = { tier: 'enterprise', features: ['sso'] };
    assert.equal(build.withUser(base, record({ ...own, org: { org_id: 'o1', tier: 'business' } })).tier, 'enterprise');
    assert.deepEqual(build.withUser(base, record({ ...own, org: { org_id: 'o1', tier: 'enterprise', features: ['x'] } })).features, ['sso']);
    assert.equal(build.withUser(base, record({ tier: 'explorer' })).tier, 'explorer');
    assert.equal(build.withUser(base, record({ tier: 'none', org: { org_id: 'o1', tier: 'no-such-tier' } })).tier, 'none');
  });

  it('a malformed org makes the record malformed (treated as absent), never half-trusted', () => {
    assert.equal(record({ tier: 'explorer', org: { tier: 'business' } }), null);
  });
});
