/**
 * API keys: create (the key is returned once; only its SHA-256 is stored),
 * list, get, revoke. A key names its owner: the user, or the org when
 * `org_id` is set; sidecars take tier and entitlements from the owner's record
 * at verification time and the key's own scopes and rate override. The row
 * still carries the owner's tier at creation, for sidecars that read only the key.
 *
 * Who may: an admin for any user; a user for their own keys (`/v1/me/keys`),
 * without a role or the admin scope; an org owner/admin for keys of their org.
 */
import { generateApiKey } from '../../authenticate/api-keys.js';
import type { KeyRow } from '../../identity-admin/keystore.js';
import type { OrgRow } from '../../identity-admin/orgstore.js';
import type { UserRow } from '../../identity-admin/userstore.js';
import type { KeyCreateInput } from '../api/schemas.js';
import { ADMIN_SCOPE, requireSelfOrAdmin, type Actor } from './actor.js';
import type { ServiceDeps } from './deps.js';
import { idempotent } from './idempotency.js';
import { orgRole } from './orgs.js';
import { fail, notFound, ok, type Result } from './result.js';
import { audit, mutate } from './tx.js';
import { keyView, type KeyView } from './views.js';

export interface KeyCreated {
  key?: string;
  api_key: KeyView;
}

export async function createKey(deps: ServiceDeps, actor: Actor, userId: string, input: KeyCreateInput, idempotencyKey?: string): Promise<Result<KeyCreated>> {
  const denied =
    requireSelfOrAdmin(actor, userId) ??
    (!actor.admin && (input.role !== undefined || input.scopes.includes(ADMIN_SCOPE))
      ? fail('ARGUS_FORBIDDEN', 'only an admin may give a key a role or the admin scope')
      : null);
  if (denied) return denied;
  return mutate(deps, (tx) =>
    idempotent(
      tx,
      actor,
      idempotencyKey,
      `keys.create:${userId}`,
      input,
      deps.cfg.control.idempotency_ttl_s,
      async () => {
        const user = (await tx.query<UserRow>(`SELECT * FROM users WHERE user_id = $1 AND status = 'active'`, [userId])).rows[0];
        if (user === undefined) return { result: notFound<KeyCreated>('user') };
        let owner: { tier: string | null; features: string[] | null; llm: unknown; trading: unknown } = user;
        if (input.org_id !== undefined) {
          const org = (await tx.query<OrgRow>(`SELECT * FROM orgs WHERE org_id = $1 AND status = 'active'`, [input.org_id])).rows[0];
          if (org === undefined) return { result: notFound<KeyCreated>('org') };
          const role = await orgRole(tx, input.org_id, userId);
          if (role === null) return { result: fail<KeyCreated>('ARGUS_FORBIDDEN', 'the user is not a member of this org') };
          if (!actor.admin && role === 'member') return { result: fail<KeyCreated>('ARGUS_FORBIDDEN', 'only org owners and admins create org keys') };
          owner = org;
        }
        const { key_id, key, sha256 } = generateApiKey();
        const row = (
          await tx.query<KeyRow>(
            `INSERT INTO api_keys (key_id, sha256, user_id, org_id, tier, role, scopes, features, requests_per_minute, llm, trading)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
            [
              key_id,
              sha256,
              userId,
              input.org_id ?? null,
              owner.tier ?? deps.cfg.auth.default_tier,
              input.role ?? null,
              input.scopes,
              input.features ?? owner.features ?? [],
              input.requests_per_minute ?? null,
              owner.llm === null ? null : JSON.stringify(owner.llm),
              owner.trading === null ? null : JSON.stringify(owner.trading),
            ],
          )
        ).rows[0] as KeyRow;
        await audit(tx, actor, 'key.create', { kind: 'key', id: key_id }, null, keyView(row));
        return { result: ok({ key, api_key: keyView(row) }, 201), changes: [{ kind: 'key', row }] };
      },
      (v) => ({ api_key: v.api_key }),
    ),
  );
}

export async function listKeys(deps: ServiceDeps, actor: Actor, userId: string): Promise<Result<{ items: KeyView[] }>> {
  const denied = requireSelfOrAdmin(actor, userId);
  if (denied) return denied;
  const rows = (await deps.pool.query<KeyRow>('SELECT * FROM api_keys WHERE user_id = $1 ORDER BY created_at, key_id', [userId])).rows;
  return ok({ items: rows.map(keyView) });
}

/** May the actor see or revoke this key: admin, its user, or an owner/admin of its org. */
async function mayManage(deps: ServiceDeps, actor: Actor, row: KeyRow): Promise<boolean> {
  if (actor.admin || row.user_id === actor.id) return true;
  if (row.org_id == null) return false;
  const role = await orgRole(deps.pool, row.org_id, actor.id);
  return role === 'owner' || role === 'admin';
}

export async function getKey(deps: ServiceDeps, actor: Actor, keyId: string): Promise<Result<KeyView>> {
  const row = (await deps.pool.query<KeyRow>('SELECT * FROM api_keys WHERE key_id = $1', [keyId])).rows[0];
  // Someone else's key is "not found" to a non-admin: ids are not confirmed to strangers.
  if (row === undefined || !(await mayManage(deps, actor, row)))
    return actor.admin ? notFound('key') : row ? fail('ARGUS_FORBIDDEN', 'not your key') : notFound('key');
  return ok(keyView(row));
}

/**
 * Revoke: the row is marked revoked, the revocation recorded, then (after the
 * commit) the deny state published, so every sidecar refuses the key and
 * closes its WebSocket sessions (4403), and the key record re-projected.
 */
export async function revokeKey(deps: ServiceDeps, actor: Actor, keyId: string, onlyUser?: string): Promise<Result<KeyView>> {
  const at = deps.now() / 1000;
  return mutate(deps, async (tx) => {
    const before = (await tx.query<KeyRow>('SELECT * FROM api_keys WHERE key_id = $1 FOR UPDATE', [keyId])).rows[0];
    if (before === undefined || (onlyUser !== undefined && before.user_id !== onlyUser)) return { result: notFound<KeyView>('key') };
    if (!(await mayManage(deps, actor, before))) return { result: fail<KeyView>('ARGUS_FORBIDDEN', 'not your key') };
    const row = (
      await tx.query<KeyRow>(
        `UPDATE api_keys SET status = 'revoked', revoked_at = COALESCE(revoked_at, now()), version = version + 1 WHERE key_id = $1 RETURNING *`,
        [keyId],
      )
    ).rows[0] as KeyRow;
    await tx.query(
      `INSERT INTO auth_revocations (kind, subject_id, revoked_at) VALUES ('key', $1, to_timestamp($2))
       ON CONFLICT (kind, subject_id) DO UPDATE SET revoked_at = GREATEST(auth_revocations.revoked_at, EXCLUDED.revoked_at)`,
      [keyId, at],
    );
    await audit(tx, actor, 'key.revoke', { kind: 'key', id: keyId }, keyView(before), keyView(row));
    return { result: ok(keyView(row)), changes: [{ kind: 'key', row }], revocations: [{ kind: 'key', id: keyId, at }] };
  });
}
