/**
 * Postgres side of API keys and revocations (tables from migration 002_keys),
 * used by the admin CLI only; the proxy reads the Redis projection.
 */
import type { Pool } from '../clients/postgres.js';
import type { KeyRecord } from '../authenticate/records.js';
import type { Revocation, RevocationKind } from '../authenticate/deny-state.js';

export interface KeyRow {
  key_id: string;
  sha256: string;
  user_id: string;
  tier: string;
  role: string | null;
  scopes: string[];
  features: string[];
  requests_per_minute: number | null;
  llm: KeyRecord['llm'] | null;
  trading: KeyRecord['trading'] | null;
  status: 'active' | 'revoked';
  created_at: Date;
  revoked_at: Date | null;
  /** Migration 007_orgs: the org the key belongs to (its owner for inheritance), and the projection's bookkeeping. */
  org_id?: string | null;
  version?: string;
  projected_version?: string;
}

/** A row as the key record projected into Redis. */
export function rowToRecord(r: KeyRow): KeyRecord {
  return {
    key_id: r.key_id,
    user_id: r.user_id,
    tier: r.tier,
    ...(r.role !== null && { role: r.role }),
    scopes: r.scopes,
    features: r.features,
    status: r.status,
    created_at: Math.floor(r.created_at.getTime() / 1000),
    ...(r.requests_per_minute !== null && { requests_per_minute: r.requests_per_minute }),
    ...(r.llm !== null && { llm: r.llm }),
    ...(r.trading !== null && { trading: r.trading }),
  };
}

export async function insertKey(pool: Pool, sha256: string, rec: KeyRecord): Promise<KeyRow> {
  const res = await pool.query<KeyRow>(
    `INSERT INTO api_keys (key_id, sha256, user_id, tier, role, scopes, features, requests_per_minute, llm, trading)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
    [
      rec.key_id,
      sha256,
      rec.user_id,
      rec.tier,
      rec.role ?? null,
      rec.scopes,
      rec.features,
      rec.requests_per_minute ?? null,
      rec.llm === undefined ? null : JSON.stringify(rec.llm),
      rec.trading === undefined ? null : JSON.stringify(rec.trading),
    ],
  );
  return res.rows[0] as KeyRow;
}

export async function deleteKey(pool: Pool, keyId: string): Promise<void> {
  await pool.query('DELETE FROM api_keys WHERE key_id = $1', [keyId]);
}

/** Mark a key revoked (idempotent: keeps the first revoked_at). Null when the key does not exist. */
export async function revokeKeyRow(pool: Pool, keyId: string): Promise<KeyRow | null> {
  const res = await pool.query<KeyRow>(`UPDATE api_keys SET status = 'revoked', revoked_at = COALESCE(revoked_at, now()) WHERE key_id = $1 RETURNING *`, [
    keyId,
  ]);
  return res.rows[0] ?? null;
}

export async function listKeys(pool: Pool, userId: string): Promise<KeyRow[]> {
  return (await pool.query<KeyRow>('SELECT * FROM api_keys WHERE user_id = $1 ORDER BY created_at, key_id', [userId])).rows;
}

export async function allKeys(pool: Pool): Promise<KeyRow[]> {
  return (await pool.query<KeyRow>('SELECT * FROM api_keys ORDER BY key_id')).rows;
}

export async function recordRevocation(pool: Pool, kind: RevocationKind, id: string, at: number): Promise<void> {
  await pool.query(
    `INSERT INTO auth_revocations (kind, subject_id, revoked_at) VALUES ($1, $2, to_timestamp($3))
     ON CONFLICT (kind, subject_id) DO UPDATE SET revoked_at = GREATEST(auth_revocations.revoked_at, EXCLUDED.revoked_at)`,
    [kind, id, at],
  );
}

export async function allRevocations(pool: Pool): Promise<Revocation[]> {
  const rows = (
    await pool.query<{ kind: RevocationKind; subject_id: string; at: number }>(
      'SELECT kind, subject_id, extract(epoch FROM revoked_at)::float8 AS at FROM auth_revocations',
    )
  ).rows;
  return rows.map((r) => ({ kind: r.kind, id: r.subject_id, at: r.at }));
}

/** Public view of a key for `keys list` (no digest). */
export function describeKey(r: KeyRow) {
  const rec = rowToRecord(r);
  return { ...rec, created_at: r.created_at.toISOString(), revoked_at: r.revoked_at?.toISOString() ?? null };
}
