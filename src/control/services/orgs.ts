/**
 * Orgs and their members. Anyone signed in may create an org (they become its
 * owner); its tier and entitlements are set only by a platform admin. An org's
 * owners and admins manage its name, members, invitations and keys, and only
 * that org; members may read it and its member list. Only owners (or a
 * platform admin) make or unmake owners.
 */
import { randomBytes } from 'node:crypto';
import type { OrgRow } from '../../identity-admin/orgstore.js';
import type { MemberAddInput, OrgCreateInput, OrgUpdateInput } from '../api/schemas.js';
import type { Actor } from './actor.js';
import type { ServiceDeps } from './deps.js';
import { idempotent } from './idempotency.js';
import { fail, notFound, ok, type Result } from './result.js';
import { audit, mutate } from './tx.js';
import { unknownTier } from './users.js';
import { tierRanks } from '../../billing/effective-tier.js';
import { refreshMemberLifts } from '../billing/apply.js';
import { memberView, orgView, type MemberRow, type MemberView, type OrgView } from './views.js';

type Queryable = { query: ServiceDeps['pool']['query'] };
export type OrgRole = 'owner' | 'admin' | 'member';

const ENTITLEMENTS = ['tier', 'features', 'scopes', 'requests_per_minute', 'llm', 'trading'] as const;
const JSON_FIELDS = new Set(['llm', 'trading']);

export async function orgRole(q: Queryable, orgId: string, userId: string): Promise<OrgRole | null> {
  const r = await q.query<{ role: OrgRole }>('SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2', [orgId, userId]);
  return r.rows[0]?.role ?? null;
}

/** The one check of org operations: platform admin, or a member with one of `roles`. */
export async function requireOrgRole(q: Queryable, actor: Actor, orgId: string, roles: readonly OrgRole[]): Promise<Result<never> | null> {
  if (actor.admin) return null;
  const role = await orgRole(q, orgId, actor.id);
  if (role !== null && roles.includes(role)) return null;
  return fail('ARGUS_FORBIDDEN', role === null ? 'you are not a member of this org' : `this needs org role ${roles.join(' or ')}`);
}

const MANAGERS: readonly OrgRole[] = ['owner', 'admin'];
const MEMBERS: readonly OrgRole[] = ['owner', 'admin', 'member'];

function entitlementDenied(deps: ServiceDeps, actor: Actor, input: Partial<OrgCreateInput>): Result<never> | null {
  if (!actor.admin && ENTITLEMENTS.some((f) => input[f] !== undefined))
    return fail('ARGUS_FORBIDDEN', "only a platform admin sets an org's tier and entitlements");
  return unknownTier(deps, input.tier);
}

export async function createOrg(deps: ServiceDeps, actor: Actor, input: OrgCreateInput, idempotencyKey?: string): Promise<Result<OrgView>> {
  const denied = entitlementDenied(deps, actor, input);
  if (denied) return denied;
  return mutate(deps, (tx) =>
    idempotent(tx, actor, idempotencyKey, 'orgs.create', input, deps.cfg.control.idempotency_ttl_s, async () => {
      const orgId = input.org_id ?? `org_${randomBytes(9).toString('base64url')}`;
      const row = (
        await tx.query<OrgRow>(
          `INSERT INTO orgs (org_id, name, ${ENTITLEMENTS.join(', ')}) VALUES ($1, $2, ${ENTITLEMENTS.map((_, i) => `$${i + 3}`).join(', ')})
           ON CONFLICT (org_id) DO NOTHING RETURNING *`,
          [orgId, input.name, ...ENTITLEMENTS.map((f) => dbValue(f, input[f]))],
        )
      ).rows[0];
      if (row === undefined) return { result: fail<OrgView>('ARGUS_CONFLICT', `org "${orgId}" already exists`) };
      // A CLI operator is no member: the org starts without an owner until one is added.
      if (actor.ctx !== null) await tx.query(`INSERT INTO org_members (org_id, user_id, role) VALUES ($1, $2, 'owner')`, [orgId, actor.id]);
      await audit(tx, actor, 'org.create', { kind: 'org', id: orgId }, null, { ...orgView(row), owner: actor.ctx !== null ? actor.id : null });
      return { result: ok(orgView(row), 201), changes: [{ kind: 'org', row }] };
    }),
  );
}

export async function getOrg(deps: ServiceDeps, actor: Actor, orgId: string): Promise<Result<OrgView>> {
  const denied = await requireOrgRole(deps.pool, actor, orgId, MEMBERS);
  if (denied) return denied;
  const row = (await deps.pool.query<OrgRow>('SELECT * FROM orgs WHERE org_id = $1', [orgId])).rows[0];
  return row === undefined ? notFound('org') : ok(orgView(row));
}

export async function updateOrg(deps: ServiceDeps, actor: Actor, orgId: string, input: OrgUpdateInput): Promise<Result<OrgView>> {
  const denied = (await requireOrgRole(deps.pool, actor, orgId, MANAGERS)) ?? entitlementDenied(deps, actor, input);
  if (denied) return denied;
  return mutate(deps, async (tx) => {
    const before = (await tx.query<OrgRow>(`SELECT * FROM orgs WHERE org_id = $1 AND status = 'active' FOR UPDATE`, [orgId])).rows[0];
    if (before === undefined) return { result: notFound<OrgView>('org') };
    const sets: string[] = [];
    const args: unknown[] = [orgId];
    for (const f of ['name', ...ENTITLEMENTS] as const) {
      if (input[f] === undefined) continue;
      args.push(dbValue(f, input[f]));
      sets.push(`${f} = $${args.length}`);
    }
    const row = (
      await tx.query<OrgRow>(`UPDATE orgs SET ${[...sets, 'version = version + 1', 'updated_at = now()'].join(', ')} WHERE org_id = $1 RETURNING *`, args)
    ).rows[0] as OrgRow;
    await audit(tx, actor, 'org.update', { kind: 'org', id: orgId }, orgView(before), orgView(row));
    // Members get the higher of their own and the org's entitlements (src/control/billing/apply.ts).
    return { result: ok(orgView(row)), changes: [{ kind: 'org', row }, ...(await refreshMemberLifts(tx, orgId, tierRanks(deps.cfg.tiers)))] };
  });
}

export async function listMembers(deps: ServiceDeps, actor: Actor, orgId: string): Promise<Result<{ items: MemberView[] }>> {
  const denied = await requireOrgRole(deps.pool, actor, orgId, MEMBERS);
  if (denied) return denied;
  const rows = (await deps.pool.query<MemberRow>('SELECT * FROM org_members WHERE org_id = $1 ORDER BY created_at, user_id', [orgId])).rows;
  return ok({ items: rows.map(memberView) });
}

/** Owners make owners: an org admin may not grant (or take away) what they lack. */
async function ownerDenied(deps: ServiceDeps, actor: Actor, orgId: string, touchesOwner: boolean): Promise<Result<never> | null> {
  return touchesOwner ? requireOrgRole(deps.pool, actor, orgId, ['owner']) : null;
}

export async function addMember(deps: ServiceDeps, actor: Actor, orgId: string, input: MemberAddInput): Promise<Result<MemberView>> {
  const denied = (await requireOrgRole(deps.pool, actor, orgId, MANAGERS)) ?? (await ownerDenied(deps, actor, orgId, input.role === 'owner'));
  if (denied) return denied;
  return mutate(deps, async (tx) => {
    const org = (await tx.query('SELECT 1 FROM orgs WHERE org_id = $1 AND status = $2', [orgId, 'active'])).rowCount;
    if (!org) return { result: notFound<MemberView>('org') };
    const user = (await tx.query(`SELECT 1 FROM users WHERE user_id = $1 AND status = 'active'`, [input.user_id])).rowCount;
    if (!user) return { result: notFound<MemberView>('user') };
    const row = (
      await tx.query<MemberRow>('INSERT INTO org_members (org_id, user_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING *', [
        orgId,
        input.user_id,
        input.role,
      ])
    ).rows[0];
    if (row === undefined) return { result: fail<MemberView>('ARGUS_CONFLICT', 'already a member') };
    await audit(tx, actor, 'member.add', { kind: 'org', id: orgId }, null, memberView(row));
    return { result: ok(memberView(row), 201), changes: await refreshMemberLifts(tx, orgId, tierRanks(deps.cfg.tiers), input.user_id) };
  });
}

export async function updateMember(deps: ServiceDeps, actor: Actor, orgId: string, userId: string, role: OrgRole): Promise<Result<MemberView>> {
  const current = await orgRole(deps.pool, orgId, userId);
  const denied = (await requireOrgRole(deps.pool, actor, orgId, MANAGERS)) ?? (await ownerDenied(deps, actor, orgId, role === 'owner' || current === 'owner'));
  if (denied) return denied;
  return mutate(deps, async (tx) => {
    const before = (await tx.query<MemberRow>('SELECT * FROM org_members WHERE org_id = $1 AND user_id = $2 FOR UPDATE', [orgId, userId])).rows[0];
    if (before === undefined) return { result: notFound<MemberView>('member') };
    const row = (await tx.query<MemberRow>('UPDATE org_members SET role = $3 WHERE org_id = $1 AND user_id = $2 RETURNING *', [orgId, userId, role]))
      .rows[0] as MemberRow;
    await audit(tx, actor, 'member.update', { kind: 'org', id: orgId }, memberView(before), memberView(row));
    return { result: ok(memberView(row)) };
  });
}

export async function removeMember(deps: ServiceDeps, actor: Actor, orgId: string, userId: string): Promise<Result<MemberView>> {
  const current = await orgRole(deps.pool, orgId, userId);
  const denied = (await requireOrgRole(deps.pool, actor, orgId, MANAGERS)) ?? (await ownerDenied(deps, actor, orgId, current === 'owner'));
  if (denied) return denied;
  return mutate(deps, async (tx) => {
    const row = (await tx.query<MemberRow>('DELETE FROM org_members WHERE org_id = $1 AND user_id = $2 RETURNING *', [orgId, userId])).rows[0];
    if (row === undefined) return { result: notFound<MemberView>('member') };
    await audit(tx, actor, 'member.remove', { kind: 'org', id: orgId }, memberView(row), null);
    return { result: ok(memberView(row)), changes: await refreshMemberLifts(tx, orgId, tierRanks(deps.cfg.tiers), userId) };
  });
}

function dbValue(field: string, v: unknown): unknown {
  if (v === undefined || v === null) return null;
  return JSON_FIELDS.has(field) ? JSON.stringify(v) : v;
}
