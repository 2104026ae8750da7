/**
 * Users: create, get, list (filters, cursor), update, delete (revoke every
 * credential of the user, then soft-delete). Admin only; `me.ts` is the
 * self-service side. Each operation: one authorization check, one audit row,
 * the user's projection after the commit.
 */
import { randomBytes } from 'node:crypto';
import type { UserRow } from '../../identity-admin/userstore.js';
import type { UserCreateInput, UserListInput, UserUpdateInput } from '../api/schemas.js';
import { requireAdmin, type Actor } from './actor.js';
import type { ServiceDeps } from './deps.js';
import { idempotent } from './idempotency.js';
import { fail, notFound, ok, type Result } from './result.js';
import { audit, mutate, type Tx } from './tx.js';
import { userView, type UserView } from './views.js';

const FIELDS = ['email', 'name', 'tier', 'role', 'features', 'scopes', 'requests_per_minute', 'llm', 'trading', 'preferences'] as const;
const JSON_FIELDS = new Set(['llm', 'trading', 'preferences']);

export function unknownTier(deps: ServiceDeps, tier: string | null | undefined): Result<never> | null {
  if (tier === null || tier === undefined || tier in deps.cfg.tiers) return null;
  return fail('ARGUS_INVALID_REQUEST', `tier: unknown tier "${tier}" (tiers: ${Object.keys(deps.cfg.tiers).join(', ')})`);
}

export async function lockUser(tx: Tx, userId: string): Promise<UserRow | null> {
  return (await tx.query<UserRow>('SELECT * FROM users WHERE user_id = $1 FOR UPDATE', [userId])).rows[0] ?? null;
}

export async function createUser(deps: ServiceDeps, actor: Actor, input: UserCreateInput, idempotencyKey?: string): Promise<Result<UserView>> {
  const denied = requireAdmin(actor) ?? unknownTier(deps, input.tier);
  if (denied) return denied;
  return mutate(deps, (tx) =>
    idempotent(tx, actor, idempotencyKey, 'users.create', input, deps.cfg.control.idempotency_ttl_s, async () => {
      const userId = input.user_id ?? `u_${randomBytes(12).toString('base64url')}`;
      const values = FIELDS.map((f) => dbValue(f, input[f]));
      const res = await tx.query<UserRow>(
        `INSERT INTO users (user_id, ${FIELDS.join(', ')}, status, version, created_at, updated_at)
         VALUES ($1, ${FIELDS.map((_, i) => `$${i + 2}`).join(', ')}, 'active', 1, now(), now())
         ON CONFLICT (user_id) DO NOTHING RETURNING *`,
        [userId, ...values.map((v, i) => (FIELDS[i] === 'preferences' && v === null ? '{}' : v))],
      );
      const row = res.rows[0];
      if (row === undefined) return { result: fail('ARGUS_CONFLICT', `user "${userId}" already exists`) };
      await audit(tx, actor, 'user.create', { kind: 'user', id: userId }, null, userView(row));
      return { result: ok(userView(row), 201), changes: [{ kind: 'user', row }] };
    }),
  );
}

export async function getUser(deps: ServiceDeps, actor: Actor, userId: string): Promise<Result<UserView>> {
  const denied = requireAdmin(actor);
  if (denied) return denied;
  const row = (await deps.pool.query<UserRow>('SELECT * FROM users WHERE user_id = $1', [userId])).rows[0];
  return row === undefined ? notFound('user') : ok(userView(row));
}

export async function listUsers(deps: ServiceDeps, actor: Actor, q: UserListInput): Promise<Result<{ items: UserView[]; next_cursor: string | null }>> {
  const denied = requireAdmin(actor);
  if (denied) return denied;
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    args.push(v);
    where.push(sql.replace('?', `$${args.length}`));
  };
  if (q.tier !== undefined) add('tier = ?', q.tier);
  if (q.status !== undefined) add('status = ?', q.status);
  if (q.email !== undefined) add('lower(email) = lower(?)', q.email);
  if (q.org_id !== undefined) add('user_id IN (SELECT user_id FROM org_members WHERE org_id = ?)', q.org_id);
  if (q.cursor !== undefined) add('user_id > ?', Buffer.from(q.cursor, 'base64url').toString('utf8'));
  args.push(q.limit + 1);
  const rows = (
    await deps.pool.query<UserRow>(`SELECT * FROM users${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY user_id LIMIT $${args.length}`, args)
  ).rows;
  const more = rows.length > q.limit;
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return ok({ items: page.map(userView), next_cursor: more && last ? Buffer.from(last.user_id).toString('base64url') : null });
}

/** PATCH semantics: absent fields stay, `null` clears. */
export async function updateUser(deps: ServiceDeps, actor: Actor, userId: string, input: UserUpdateInput): Promise<Result<UserView>> {
  const denied = requireAdmin(actor) ?? unknownTier(deps, input.tier);
  if (denied) return denied;
  return mutate(deps, (tx) => applyUserUpdate(tx, actor, userId, input, 'user.update'));
}

/** Shared by admin updates and `/v1/me/preferences`. */
export async function applyUserUpdate(tx: Tx, actor: Actor, userId: string, input: Partial<UserUpdateInput>, action: string) {
  const before = await lockUser(tx, userId);
  if (before === null || before.status !== 'active') return { result: notFound<UserView>('user') };
  const sets: string[] = [];
  const args: unknown[] = [userId];
  for (const f of FIELDS) {
    const v = input[f];
    if (v === undefined) continue;
    args.push(f === 'preferences' && v === null ? '{}' : dbValue(f, v));
    sets.push(`${f} = $${args.length}`);
  }
  const row = (
    await tx.query<UserRow>(`UPDATE users SET ${[...sets, 'version = version + 1', 'updated_at = now()'].join(', ')} WHERE user_id = $1 RETURNING *`, args)
  ).rows[0] as UserRow;
  await audit(tx, actor, action, { kind: 'user', id: userId }, userView(before), userView(row));
  return { result: ok(userView(row)), changes: [{ kind: 'user' as const, row }] };
}

/** Revoke every credential of the user issued until now, then mark the user deleted (its projection is removed). */
export async function deleteUser(deps: ServiceDeps, actor: Actor, userId: string): Promise<Result<UserView>> {
  const denied = requireAdmin(actor);
  if (denied) return denied;
  const at = deps.now() / 1000;
  return mutate(deps, async (tx) => {
    const before = await lockUser(tx, userId);
    if (before === null || before.status !== 'active') return { result: notFound<UserView>('user') };
    await tx.query(
      `INSERT INTO auth_revocations (kind, subject_id, revoked_at) VALUES ('user', $1, to_timestamp($2))
       ON CONFLICT (kind, subject_id) DO UPDATE SET revoked_at = GREATEST(auth_revocations.revoked_at, EXCLUDED.revoked_at)`,
      [userId, at],
    );
    const row = (
      await tx.query<UserRow>(`UPDATE users SET status = 'deleted', version = version + 1, updated_at = now() WHERE user_id = $1 RETURNING *`, [userId])
    ).rows[0] as UserRow;
    await audit(tx, actor, 'user.delete', { kind: 'user', id: userId }, userView(before), userView(row));
    return { result: ok(userView(row)), changes: [{ kind: 'user', row }], revocations: [{ kind: 'user', id: userId, at }] };
  });
}

function dbValue(field: string, v: unknown): unknown {
  if (v === undefined || v === null) return null;
  return JSON_FIELDS.has(field) ? JSON.stringify(v) : v;
}
