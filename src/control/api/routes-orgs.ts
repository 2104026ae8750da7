/** `/v1/orgs`, members, invitations. */
import { z } from '@hono/zod-openapi';
import * as inv from '../services/invitations.js';
import * as orgs from '../services/orgs.js';
import type { ServiceDeps } from '../services/deps.js';
import { op, type Api } from './http.js';
import * as s from './schemas.js';

const path = (name: string) =>
  z
    .string()
    .min(1)
    .openapi({ param: { name, in: 'path' } });
const OrgId = z.object({ org_id: path('org_id') });
const MemberId = z.object({ org_id: path('org_id'), user_id: path('user_id') });
const InvitationId = z.object({ org_id: path('org_id'), invitation_id: path('invitation_id') });

export function orgRoutes(app: Api, deps: () => ServiceDeps): void {
  const tag = 'identity';
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/orgs',
      operationId: 'createOrg',
      summary: 'Create an org (the caller becomes its owner)',
      tag,
      body: s.OrgCreate,
      response: s.Org,
      status: 201,
      idempotent: true,
    },
    (i) => orgs.createOrg(i.deps, i.actor, i.body as s.OrgCreateInput, i.idempotencyKey),
  );
  op(app, deps, { method: 'get', path: '/v1/orgs/{org_id}', operationId: 'getOrg', summary: 'Get an org', tag, params: OrgId, response: s.Org }, (i) =>
    orgs.getOrg(i.deps, i.actor, i.params['org_id']!),
  );
  op(
    app,
    deps,
    { method: 'patch', path: '/v1/orgs/{org_id}', operationId: 'updateOrg', summary: 'Update an org', tag, params: OrgId, body: s.OrgUpdate, response: s.Org },
    (i) => orgs.updateOrg(i.deps, i.actor, i.params['org_id']!, i.body as s.OrgUpdateInput),
  );
}

/** `/v1/orgs/{org_id}/members`. */
export function memberRoutes(app: Api, deps: () => ServiceDeps): void {
  const tag = 'identity';
  op(
    app,
    deps,
    {
      method: 'get',
      path: '/v1/orgs/{org_id}/members',
      operationId: 'listOrgMembers',
      summary: "List an org's members",
      tag,
      params: OrgId,
      response: s.MemberList,
    },
    (i) => orgs.listMembers(i.deps, i.actor, i.params['org_id']!),
  );
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/orgs/{org_id}/members',
      operationId: 'addOrgMember',
      summary: 'Add a member',
      tag,
      params: OrgId,
      body: s.MemberAdd,
      response: s.Member,
      status: 201,
    },
    (i) => orgs.addMember(i.deps, i.actor, i.params['org_id']!, i.body as s.MemberAddInput),
  );
  op(
    app,
    deps,
    {
      method: 'patch',
      path: '/v1/orgs/{org_id}/members/{user_id}',
      operationId: 'updateOrgMember',
      summary: "Change a member's role",
      tag,
      params: MemberId,
      body: s.MemberUpdate,
      response: s.Member,
    },
    (i) => orgs.updateMember(i.deps, i.actor, i.params['org_id']!, i.params['user_id']!, (i.body as { role: orgs.OrgRole }).role),
  );
  op(
    app,
    deps,
    {
      method: 'delete',
      path: '/v1/orgs/{org_id}/members/{user_id}',
      operationId: 'removeOrgMember',
      summary: 'Remove a member',
      tag,
      params: MemberId,
      response: s.Member,
    },
    (i) => orgs.removeMember(i.deps, i.actor, i.params['org_id']!, i.params['user_id']!),
  );
}

/** `/v1/orgs/{org_id}/invitations`, `/v1/invitations/accept`. */
export function invitationRoutes(app: Api, deps: () => ServiceDeps): void {
  const tag = 'identity';
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/orgs/{org_id}/invitations',
      operationId: 'createInvitation',
      summary: 'Invite an email (the token is returned once)',
      tag,
      params: OrgId,
      body: s.InvitationCreate,
      response: s.InvitationCreated,
      status: 201,
    },
    (i) => inv.createInvitation(i.deps, i.actor, i.params['org_id']!, i.body as s.InvitationCreateInput),
  );
  op(
    app,
    deps,
    {
      method: 'get',
      path: '/v1/orgs/{org_id}/invitations',
      operationId: 'listInvitations',
      summary: "List an org's invitations",
      tag,
      params: OrgId,
      response: s.InvitationList,
    },
    (i) => inv.listInvitations(i.deps, i.actor, i.params['org_id']!),
  );
  op(
    app,
    deps,
    {
      method: 'delete',
      path: '/v1/orgs/{org_id}/invitations/{invitation_id}',
      operationId: 'cancelInvitation',
      summary: 'Cancel a pending invitation',
      tag,
      params: InvitationId,
      response: s.Invitation,
    },
    (i) => inv.cancelInvitation(i.deps, i.actor, i.params['org_id']!, i.params['invitation_id']!),
  );
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/invitations/accept',
      operationId: 'acceptInvitation',
      summary: 'Accept an invitation by its token (the caller joins the org)',
      tag,
      body: s.InvitationAccept,
      response: s.Member,
      status: 201,
    },
    (i) => inv.acceptInvitation(i.deps, i.actor, (i.body as { token: string }).token),
  );
}
