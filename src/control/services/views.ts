/** Rows as the API shows them (docs/openapi.json): ISO times, numeric versions, no digests. */
import type { KeyRow } from '../../identity-admin/keystore.js';
import type { OrgRow } from '../../identity-admin/orgstore.js';
import type { UserRow } from '../../identity-admin/userstore.js';

export function userView(r: UserRow) {
  return {
    user_id: r.user_id,
    email: r.email ?? null,
    name: r.name ?? null,
    tier: r.tier,
    role: r.role,
    features: r.features,
    scopes: r.scopes,
    requests_per_minute: r.requests_per_minute,
    llm: r.llm,
    trading: r.trading,
    preferences: r.preferences ?? {},
    status: r.status,
    version: Number(r.version),
    created_at: (r.created_at ?? r.updated_at).toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}
export type UserView = ReturnType<typeof userView>;

export function keyView(r: KeyRow) {
  return {
    key_id: r.key_id,
    user_id: r.user_id,
    org_id: r.org_id ?? null,
    tier: r.tier,
    role: r.role,
    scopes: r.scopes,
    features: r.features,
    requests_per_minute: r.requests_per_minute,
    status: r.status,
    created_at: r.created_at.toISOString(),
    revoked_at: r.revoked_at?.toISOString() ?? null,
  };
}
export type KeyView = ReturnType<typeof keyView>;

export function orgView(r: OrgRow) {
  return {
    org_id: r.org_id,
    name: r.name,
    tier: r.tier,
    features: r.features,
    scopes: r.scopes,
    requests_per_minute: r.requests_per_minute,
    llm: r.llm,
    trading: r.trading,
    status: r.status,
    version: Number(r.version),
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}
export type OrgView = ReturnType<typeof orgView>;

export interface MemberRow {
  org_id: string;
  user_id: string;
  role: 'owner' | 'admin' | 'member';
  created_at: Date;
}

export function memberView(r: MemberRow) {
  return { org_id: r.org_id, user_id: r.user_id, role: r.role, created_at: r.created_at.toISOString() };
}
export type MemberView = ReturnType<typeof memberView>;

export interface InvitationRow {
  invitation_id: string;
  org_id: string;
  email: string;
  role: 'admin' | 'member';
  status: 'pending' | 'accepted' | 'cancelled' | 'expired';
  invited_by: string;
  accepted_by: string | null;
  created_at: Date;
  expires_at: Date;
  accepted_at: Date | null;
}

export function invitationView(r: InvitationRow) {
  return {
    invitation_id: r.invitation_id,
    org_id: r.org_id,
    email: r.email,
    role: r.role,
    status: r.status,
    invited_by: r.invited_by,
    accepted_by: r.accepted_by,
    created_at: r.created_at.toISOString(),
    expires_at: r.expires_at.toISOString(),
    accepted_at: r.accepted_at?.toISOString() ?? null,
  };
}
export type InvitationView = ReturnType<typeof invitationView>;
