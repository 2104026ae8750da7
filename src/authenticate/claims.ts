/**
 * Build AuthContexts from verified JWT claims and session payloads, and enrich
 * them from the user's Redis record (which wins over claims: the control plane
 * knows about upgrades before the next token is minted).
 *
 * Every string that ends up in an upstream `x-argus-*` header is checked here
 * (visible ASCII; no commas or spaces inside list items), so a signed-but-odd
 * claim can never smuggle a header line upstream.
 */
import type { AuthContext } from '../request/principal.js';
import { entitlementNames, entitlementsOf, SAFE_NAME, SAFE_TOKEN, type UserRecord } from './records.js';
import type { JwtConfig } from './schema.js';
import type { SessionPayload } from './session.js';

type Claims = Record<string, unknown>;

export function createContextBuilder(opts: { tiers: Readonly<Record<string, unknown>>; defaultTier: string; claims: JwtConfig['claims'] | undefined }) {
  const tierNames = Object.keys(opts.tiers);
  const rank = new Map(tierNames.map((t, i) => [t, i]));
  const names = opts.claims ?? { tier: 'custom:tier', role: 'custom:role', groups: 'cognito:groups', features: 'custom:features', scope: 'scope' };

  /** A configured tier name, else the default tier. */
  function tierOf(name: unknown): string {
    return typeof name === 'string' && rank.has(name) ? name : opts.defaultTier;
  }

  /** The context for a verified JWT, or null when its subject cannot be used. */
  function fromJwt(p: Claims): AuthContext | null {
    const sub = p['sub'];
    if (typeof sub !== 'string' || !SAFE_NAME.test(sub)) return null;
    const groups = list(p[names.groups]);
    let tier = p[names.tier];
    if (typeof tier !== 'string' || !rank.has(tier)) {
      // Highest tier named by a group (Cognito groups are a common way to carry plans).
      tier = groups.filter((g) => rank.has(g)).sort((a, b) => (rank.get(b) ?? 0) - (rank.get(a) ?? 0))[0];
    }
    const roleClaim = p[names.role];
    const role = typeof roleClaim === 'string' && SAFE_NAME.test(roleClaim) ? roleClaim : groups.includes('admin') ? 'admin' : undefined;
    const scopeClaim = p[names.scope] ?? p['scp'];
    const sid = [p['sid'], p['origin_jti'], p['jti']].find((v): v is string => typeof v === 'string' && SAFE_NAME.test(v));
    return {
      method: 'jwt',
      user_id: sub,
      tier: tierOf(tier),
      ...(role !== undefined && { role }),
      features: list(p[names.features]),
      scopes: list(scopeClaim),
      ...(sid !== undefined && { session_id: sid }),
      ...(typeof p['exp'] === 'number' && { expires_at: p['exp'] }),
      ...(typeof p['iat'] === 'number' && { issued_at: p['iat'] }),
    };
  }

  function fromSession(p: SessionPayload): AuthContext | null {
    if (!SAFE_NAME.test(p.sub) || !SAFE_NAME.test(p.sid)) return null;
    return {
      method: 'session',
      user_id: p.sub,
      tier: tierOf(p.tier),
      features: [],
      scopes: [],
      session_id: p.sid,
      expires_at: p.exp,
      ...(p.iat !== undefined && { issued_at: p.iat }),
    };
  }

  /**
   * Overlay the user's record: tier, role, features and entitlements come from it
   * when present; then the record's `org` (their highest org, {@link withOrgLift}).
   */
  function withUser(ctx: AuthContext, rec: UserRecord | null): AuthContext {
    if (rec === null) return ctx;
    return withOrgLift(withOwn(ctx, rec), rec);
  }

  /**
   * A member gets the higher of their own and their org's plan: the record's `org`
   * replaces tier, features and every extension's entitlements when its tier ranks
   * higher than `ctx.tier`; role, scopes and a rate override stay.
   */
  function withOrgLift(ctx: AuthContext, rec: UserRecord): AuthContext {
    const org = rec.org;
    if (org === undefined || !rank.has(org.tier) || (rank.get(org.tier) ?? -1) <= (rank.get(ctx.tier) ?? -1)) return ctx;
    // The org's entitlements replace the user's, extension by extension (an extension the org lacks: none).
    const out: Record<string, unknown> = { ...ctx, tier: org.tier, features: org.features };
    for (const name of entitlementNames()) delete out[name];
    return { ...(out as unknown as AuthContext), ...entitlementsOf(org) };
  }

  function withOwn(ctx: AuthContext, rec: UserRecord): AuthContext {
    return {
      ...ctx,
      tier: rec.tier !== undefined && rank.has(rec.tier) ? rec.tier : ctx.tier,
      ...(rec.role !== undefined && { role: rec.role }),
      features: rec.features ?? ctx.features,
      // A token's scopes are what the token grants; the record fills in only for scope-less credentials.
      scopes: ctx.scopes.length > 0 ? ctx.scopes : (rec.scopes ?? []),
      ...(rec.requests_per_minute !== undefined && { requests_per_minute: rec.requests_per_minute }),
      ...entitlementsOf(rec),
      ...(rec.stripe_customer !== undefined && { stripe_customer: rec.stripe_customer }),
    };
  }

  /**
   * An API key under its owner's record (the user's, or the org's when the key has
   * `org_id`): tier, role, features and each extension's entitlements come from the owner
   * when its record has them; the key keeps its own scopes and requests-per-minute
   * override. No owner record: the key's own fields (the key is returned as it is).
   */
  function withOwner(key: AuthContext, owner: UserRecord | null): AuthContext {
    if (owner === null) return key;
    const inherited: AuthContext = {
      ...key,
      tier: owner.tier !== undefined && rank.has(owner.tier) ? owner.tier : key.tier,
      ...(owner.role !== undefined && { role: owner.role }),
      features: owner.features ?? key.features,
      ...(key.requests_per_minute === undefined && owner.requests_per_minute !== undefined && { requests_per_minute: owner.requests_per_minute }),
      ...entitlementsOf(owner),
    };
    // A user's key gets their org's plan too when it ranks higher (an org's own record has no `org`).
    return withOrgLift(inherited, owner);
  }

  return { fromJwt, fromSession, withUser, withOwner, tierOf };
}

/** A claim as a list of safe tokens: arrays, or comma/space-separated strings. Unsafe items are dropped. */
function list(v: unknown): string[] {
  const items = typeof v === 'string' ? v.split(/[\s,]+/) : Array.isArray(v) ? v : [];
  return items.filter((s): s is string => typeof s === 'string' && SAFE_TOKEN.test(s));
}
