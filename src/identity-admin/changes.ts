/**
 * After a control-plane commit: write the Redis projection of what changed and
 * publish `{"kind","id","version"}` on `<prefix>auth:changes`, so every sidecar
 * evicts the cache entries it touches (a lost message is healed by
 * `auth.cache.ttl_ms`). Then mark the row projected (`projected_version`); rows
 * left behind (Redis down at commit time) are the reconciler's
 * (src/control/reconciler.ts).
 *
 * User and org records carry their `version`; the write is a compare in Lua, so
 * a slow writer holding an older row never overwrites a newer projection.
 */
import type { Redis } from 'ioredis';
import type { Pool } from '../clients/postgres.js';
import { redisKeys } from '../authenticate/deny-state.js';
import { keyRecordSchema } from '../authenticate/records.js';
import { rowToRecord, type KeyRow } from './keystore.js';
import { orgRowToRecord, type OrgRow } from './orgstore.js';
import { userRowToRecord, type UserRow } from './userstore.js';

export type ChangeKind = 'user' | 'key' | 'org';

/** The pub/sub message sidecars read (one per committed change). */
export interface ChangeMessage {
  readonly kind: ChangeKind;
  readonly id: string;
  readonly version: number;
}

/** A committed row to project: what a service returns from its transaction. */
export type Change =
  | { readonly kind: 'user'; readonly row: UserRow }
  | { readonly kind: 'org'; readonly row: OrgRow }
  | { readonly kind: 'key'; readonly row: KeyRow };

export function changeKeys(prefix: string) {
  return {
    channel: `${prefix}auth:changes`,
    user: (id: string) => redisKeys(prefix).user(id),
    org: (id: string) => `${prefix}auth:org:${id}`,
    key: (sha: string) => redisKeys(prefix).key(sha),
  };
}

// KEYS[1] record, KEYS[2] channel; ARGV[1] JSON ('' = delete), ARGV[2] version, ARGV[3] message.
const PROJECT = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, d = pcall(cjson.decode, cur)
  if ok and type(d) == 'table' and tonumber(d['version']) and tonumber(d['version']) > tonumber(ARGV[2]) then return 0 end
end
if ARGV[1] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('PUBLISH', KEYS[2], ARGV[3])
return 1`;

/** The Redis key, value ('' = delete) and message of one change. */
export function projectionOf(prefix: string, change: Change): { key: string; value: string; message: ChangeMessage } {
  const k = changeKeys(prefix);
  if (change.kind === 'user') {
    const r = change.row;
    const version = Number(r.version);
    const value = r.status === 'active' ? JSON.stringify({ ...userRowToRecord(r), version }) : '';
    return { key: k.user(r.user_id), value, message: { kind: 'user', id: r.user_id, version } };
  }
  if (change.kind === 'org') {
    const r = change.row;
    const version = Number(r.version);
    const value = r.status === 'active' ? JSON.stringify({ ...orgRowToRecord(r), version }) : '';
    return { key: k.org(r.org_id), value, message: { kind: 'org', id: r.org_id, version } };
  }
  const r = change.row;
  return { key: k.key(r.sha256), value: JSON.stringify(keyRecordOf(r)), message: { kind: 'key', id: r.key_id, version: Number(r.version ?? 1) } };
}

/**
 * A key row as its Redis record. `org_id` is written only when the sidecar's key
 * schema knows it: an older sidecar would otherwise treat the record as malformed.
 */
export function keyRecordOf(r: KeyRow & { org_id?: string | null }): Record<string, unknown> {
  const rec: Record<string, unknown> = { ...rowToRecord(r) };
  if (r.org_id == null) return rec;
  const withOrg = { ...rec, org_id: r.org_id };
  return keyRecordSchema.safeParse(withOrg).success ? withOrg : rec;
}

/** Project one change and publish it; resolves false when a newer projection was already there. */
export async function projectChange(redis: Redis, prefix: string, change: Change): Promise<boolean> {
  const p = projectionOf(prefix, change);
  const k = changeKeys(prefix);
  if (change.kind === 'key') {
    const res = await redis.multi().set(p.key, p.value).publish(k.channel, JSON.stringify(p.message)).exec();
    const err = res?.find(([e]) => e !== null)?.[0];
    if (err) throw err;
    return true;
  }
  return Number(await redis.eval(PROJECT, 2, p.key, k.channel, p.value, String(p.message.version), JSON.stringify(p.message))) === 1;
}

const TABLE: Record<ChangeKind, { table: string; id: string }> = {
  user: { table: 'users', id: 'user_id' },
  org: { table: 'orgs', id: 'org_id' },
  key: { table: 'api_keys', id: 'key_id' },
};

/** Record that Redis holds `version` of the row (never moves backwards). */
export async function markProjected(pool: Pool, message: ChangeMessage): Promise<void> {
  const t = TABLE[message.kind];
  await pool.query(`UPDATE ${t.table} SET projected_version = $2 WHERE ${t.id} = $1 AND projected_version < $2`, [message.id, message.version]);
}
