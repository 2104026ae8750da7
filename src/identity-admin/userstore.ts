/**
 * Postgres side of user records (table `users`, migration 005_users), used by
 * the admin CLI and the projector; the proxy reads the Redis projection
 * (`<prefix>auth:user:<id>`, parsed by records.ts `userRecordSchema`).
 */
import type { Pool } from '../clients/postgres.js';
import type { UserRecord } from '../authenticate/records.js';

export interface UserRow {
  user_id: string;
  tier: string | null;
  role: string | null;
  features: string[] | null;
  scopes: string[] | null;
  requests_per_minute: number | null;
  llm: UserRecord['llm'] | null;
  trading: UserRecord['trading'] | null;
  stripe_customer: string | null;
  status: 'active' | 'deleted';
  version: string;
  updated_at: Date;
  /** Migration 007_orgs: profile and the projection's bookkeeping. */
  email?: string | null;
  name?: string | null;
  preferences?: Record<string, unknown>;
  created_at?: Date;
  projected_version?: string;
  /** Migration 011_billing: the plan the entitlements came from; the highest org's entitlements (projected as `org`). */
  plan?: string | null;
  org_lift?: UserRecord['org'] | null;
}

/** A row as the user record projected into Redis: only the fields records.ts reads, absent when null. */
export function userRowToRecord(r: UserRow): UserRecord {
  return {
    ...(r.tier !== null && { tier: r.tier }),
    ...(r.role !== null && { role: r.role }),
    ...(r.features !== null && { features: r.features }),
    ...(r.scopes !== null && { scopes: r.scopes }),
    ...(r.requests_per_minute !== null && { requests_per_minute: r.requests_per_minute }),
    ...(r.llm !== null && { llm: r.llm }),
    ...(r.trading !== null && { trading: r.trading }),
    ...(r.stripe_customer !== null && { stripe_customer: r.stripe_customer }),
    ...(r.org_lift != null && { org: r.org_lift }),
  };
}

/**
 * Replace a user's record (every field; absent ones become null) and bump its
 * version. Returns the stored row.
 */
export async function upsertUser(pool: Pool, userId: string, rec: UserRecord): Promise<UserRow> {
  const res = await pool.query<UserRow>(
    `INSERT INTO users (user_id, tier, role, features, scopes, requests_per_minute, llm, trading, stripe_customer, status, version, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', 1, now())
     ON CONFLICT (user_id) DO UPDATE SET tier = EXCLUDED.tier, role = EXCLUDED.role, features = EXCLUDED.features,
       scopes = EXCLUDED.scopes, requests_per_minute = EXCLUDED.requests_per_minute, llm = EXCLUDED.llm,
       trading = EXCLUDED.trading, stripe_customer = EXCLUDED.stripe_customer, status = 'active',
       version = users.version + 1, updated_at = now()
     RETURNING *`,
    [
      userId,
      rec.tier ?? null,
      rec.role ?? null,
      rec.features ?? null,
      rec.scopes ?? null,
      rec.requests_per_minute ?? null,
      rec.llm === undefined ? null : JSON.stringify(rec.llm),
      rec.trading === undefined ? null : JSON.stringify(rec.trading),
      rec.stripe_customer ?? null,
    ],
  );
  return res.rows[0] as UserRow;
}

/** Mark a user deleted (its projection is removed). Null when unknown. */
export async function deleteUser(pool: Pool, userId: string): Promise<UserRow | null> {
  const res = await pool.query<UserRow>(`UPDATE users SET status = 'deleted', version = version + 1, updated_at = now() WHERE user_id = $1 RETURNING *`, [
    userId,
  ]);
  return res.rows[0] ?? null;
}

export async function getUser(pool: Pool, userId: string): Promise<UserRow | null> {
  return (await pool.query<UserRow>('SELECT * FROM users WHERE user_id = $1', [userId])).rows[0] ?? null;
}

/** Every row (deleted ones too: their projection must go), optionally only those changed at or after `since`. */
export async function allUsers(pool: Pool, since?: Date): Promise<UserRow[]> {
  return since === undefined
    ? (await pool.query<UserRow>('SELECT * FROM users ORDER BY user_id')).rows
    : (await pool.query<UserRow>('SELECT * FROM users WHERE updated_at >= $1 ORDER BY user_id', [since])).rows;
}

/** Public view for `users get`. */
export function describeUser(r: UserRow) {
  return { user_id: r.user_id, ...userRowToRecord(r), status: r.status, version: Number(r.version), updated_at: r.updated_at.toISOString() };
}
