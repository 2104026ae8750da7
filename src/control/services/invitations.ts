/**
 * Org invitations: an org owner/admin invites an email with a role; the token
 * is returned once and stored only as its SHA-256; one pending invitation per
 * org and email (a new one for the same email needs the old one cancelled or
 * expired). Accepting by token (any signed-in user whose email, when known,
 * matches) makes the caller a member. The accept is one row-locked UPDATE of a
 * pending invitation: of two concurrent or repeated accepts exactly one creates
 * the membership and its audit row; the same user accepting again gets the
 * membership back, anyone else 409 ARGUS_INVITATION_USED.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { InvitationCreateInput } from '../api/schemas.js';
import type { Actor } from './actor.js';
import type { ServiceDeps } from './deps.js';
import { requireOrgRole } from './orgs.js';
import { fail, notFound, ok, type Result } from './result.js';
import { audit, mutate } from './tx.js';
import { invitationView, memberView, type InvitationRow, type InvitationView, type MemberRow, type MemberView } from './views.js';
import { tierRanks } from '../../billing/effective-tier.js';
import { refreshMemberLifts } from '../billing/apply.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export async function createInvitation(
  deps: ServiceDeps,
  actor: Actor,
  orgId: string,
  input: InvitationCreateInput,
): Promise<Result<{ token: string; invitation: InvitationView }>> {
  const denied = await requireOrgRole(deps.pool, actor, orgId, ['owner', 'admin']);
  if (denied) return denied;
  return mutate(deps, async (tx) => {
    const org = (await tx.query(`SELECT 1 FROM orgs WHERE org_id = $1 AND status = 'active'`, [orgId])).rowCount;
    if (!org) return { result: notFound('org') };
    // A pending invitation past its expiry no longer blocks a new one.
    await tx.query(
      `UPDATE org_invitations SET status = 'expired' WHERE org_id = $1 AND lower(email) = lower($2) AND status = 'pending' AND expires_at <= now()`,
      [orgId, input.email],
    );
    const token = `inv_${randomBytes(24).toString('base64url')}`;
    const row = (
      await tx.query<InvitationRow>(
        `INSERT INTO org_invitations (invitation_id, org_id, email, role, token_sha256, invited_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)) RETURNING *`,
        [`invt_${randomBytes(9).toString('base64url')}`, orgId, input.email, input.role, sha256(token), actor.id, deps.cfg.control.invitation_ttl_s],
      )
    ).rows[0] as InvitationRow;
    await audit(tx, actor, 'invitation.create', { kind: 'org', id: orgId }, null, invitationView(row));
    return { result: ok({ token, invitation: invitationView(row) }, 201) };
  });
}

export async function listInvitations(deps: ServiceDeps, actor: Actor, orgId: string): Promise<Result<{ items: InvitationView[] }>> {
  const denied = await requireOrgRole(deps.pool, actor, orgId, ['owner', 'admin']);
  if (denied) return denied;
  const rows = (await deps.pool.query<InvitationRow>('SELECT * FROM org_invitations WHERE org_id = $1 ORDER BY created_at, invitation_id', [orgId])).rows;
  return ok({ items: rows.map(invitationView) });
}

export async function cancelInvitation(deps: ServiceDeps, actor: Actor, orgId: string, invitationId: string): Promise<Result<InvitationView>> {
  const denied = await requireOrgRole(deps.pool, actor, orgId, ['owner', 'admin']);
  if (denied) return denied;
  return mutate(deps, async (tx) => {
    const before = (await tx.query<InvitationRow>('SELECT * FROM org_invitations WHERE org_id = $1 AND invitation_id = $2 FOR UPDATE', [orgId, invitationId]))
      .rows[0];
    if (before === undefined) return { result: notFound<InvitationView>('invitation') };
    if (before.status !== 'pending') return { result: fail<InvitationView>('ARGUS_CONFLICT', `the invitation is ${before.status}`) };
    const row = (await tx.query<InvitationRow>(`UPDATE org_invitations SET status = 'cancelled' WHERE invitation_id = $1 RETURNING *`, [invitationId]))
      .rows[0] as InvitationRow;
    await audit(tx, actor, 'invitation.cancel', { kind: 'org', id: orgId }, invitationView(before), invitationView(row));
    return { result: ok(invitationView(row)) };
  });
}

export async function acceptInvitation(deps: ServiceDeps, actor: Actor, token: string): Promise<Result<MemberView>> {
  if (actor.ctx === null) return fail('ARGUS_FORBIDDEN', 'an invitation is accepted by a signed-in user');
  const digest = sha256(token);
  return mutate(deps, async (tx) => {
    // The row lock serialises concurrent accepts of one invitation.
    const inv = (await tx.query<InvitationRow>('SELECT * FROM org_invitations WHERE token_sha256 = $1 FOR UPDATE', [digest])).rows[0];
    // Looked up by digest: the token itself is never compared or stored.
    if (inv === undefined) return { result: notFound<MemberView>('invitation') };
    if (inv.status === 'accepted') {
      if (inv.accepted_by !== actor.id) return { result: fail<MemberView>('ARGUS_INVITATION_USED', 'this invitation was already accepted') };
      const m = (await tx.query<MemberRow>('SELECT * FROM org_members WHERE org_id = $1 AND user_id = $2', [inv.org_id, actor.id])).rows[0];
      return { result: m ? ok(memberView(m)) : fail<MemberView>('ARGUS_INVITATION_USED', 'this invitation was already accepted') };
    }
    if (inv.status !== 'pending') return { result: fail<MemberView>('ARGUS_INVITATION_USED', `this invitation is ${inv.status}`) };
    if (inv.expires_at.getTime() <= deps.now()) return { result: fail<MemberView>('ARGUS_INVITATION_EXPIRED', 'this invitation has expired') };
    const email = (await tx.query<{ email: string | null }>('SELECT email FROM users WHERE user_id = $1', [actor.id])).rows[0]?.email ?? null;
    if (email !== null && email.toLowerCase() !== inv.email.toLowerCase())
      return { result: fail<MemberView>('ARGUS_FORBIDDEN', 'this invitation is for another email') };
    await tx.query(`UPDATE org_invitations SET status = 'accepted', accepted_by = $2, accepted_at = now() WHERE invitation_id = $1`, [
      inv.invitation_id,
      actor.id,
    ]);
    const row = (
      await tx.query<MemberRow>(
        `INSERT INTO org_members (org_id, user_id, role) VALUES ($1, $2, $3)
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = org_members.role RETURNING *`,
        [inv.org_id, actor.id, inv.role],
      )
    ).rows[0] as MemberRow;
    await audit(tx, actor, 'invitation.accept', { kind: 'org', id: inv.org_id }, invitationView(inv), memberView(row));
    return { result: ok(memberView(row), 201), changes: await refreshMemberLifts(tx, inv.org_id, tierRanks(deps.cfg.tiers), actor.id) };
  });
}
