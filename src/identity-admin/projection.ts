/**
 * The Redis projection of Postgres identity state (deny state, API keys, user
 * records) and the epoch that says whether Redis still holds it.
 *
 * `<prefix>projection:epoch` is JSON `{"id":…,"phase":…,"at":unix_s}`, written
 * only by {@link reproject} (`keys sync`, the billing worker's watch). A Redis
 * that restarted without persistence, or was flushed, has no epoch: the worker
 * notices within a few seconds and re-projects under `<prefix>projection:lock`
 * (SET NX PX, one run at a time across replicas), in this order:
 *
 *   phase "deny"      revocations (deny keys)   → proxies may trust deny state after this
 *   phase "keys"      API key records
 *   phase "users"     user records, then org records
 *   phase "complete"  everything is back
 *
 * While the epoch is missing or not complete, proxies answer 503 (never 401) for
 * credentials they have not cached (src/authenticate/store.ts, index.ts). A re-projection over a
 * complete epoch (a manual `keys sync`) keeps it complete throughout and swaps in
 * a new id at the end. Every phase change is a compare-and-set on the value this
 * run wrote: if Redis lost its data again mid-run, the run does not claim success.
 */
import { randomBytes } from 'node:crypto';
import { runEach, type Redis } from '../clients/redis.js';
import type { Pool } from '../clients/postgres.js';
import { epochState, projectionKeys, type EpochPhase } from '../authenticate/projection.js';
import { redisKeys, SESSION_DENY_TTL_S, type Revocation, type RevocationKind } from '../authenticate/deny-state.js';
import type { KeyRow } from './keystore.js';
import { userRowToRecord, type UserRow } from './userstore.js';
import { keyRecordOf, projectionOf } from './changes.js';
import type { OrgRow } from './orgstore.js';

export interface ReprojectResult {
  /** False when another run held the lock (nothing was done). */
  readonly ran: boolean;
  /** True when the run finished and the epoch it wrote is complete. */
  readonly complete: boolean;
  readonly revocations: number;
  readonly keys: number;
  readonly users: number;
}

const CAS = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const BATCH = 1000;

/**
 * Re-project revocations, then keys, then users from Postgres into Redis, under
 * the lock. `lockMs` bounds how long a crashed run blocks the next one.
 */
export async function reproject(pool: Pool, redis: Redis, prefix: string, opts: { lockMs?: number; nowS?: () => number } = {}): Promise<ReprojectResult> {
  // Renewed before every batch of writes; a crashed run blocks the next for at most this long.
  const lockMs = opts.lockMs ?? 15_000;
  const nowS = opts.nowS ?? (() => Date.now() / 1000);
  const pk = projectionKeys(prefix);
  const k = redisKeys(prefix);
  const token = randomBytes(12).toString('base64url');
  const got = await redis.set(pk.lock, token, 'PX', lockMs, 'NX');
  if (got !== 'OK') return { ran: false, complete: false, revocations: 0, keys: 0, users: 0 };
  try {
    const id = randomBytes(9).toString('base64url');
    const value = (phase: EpochPhase) => JSON.stringify({ id, phase, at: Math.floor(nowS()) });
    let current = await redis.get(pk.epoch);
    // A complete epoch stays complete during a refresh: proxies keep verifying normally.
    const refresh = epochState(current) === 'complete';
    if (!refresh) {
      current = value('deny');
      await redis.set(pk.epoch, current);
    }
    let lost = false;
    const advance = async (phase: EpochPhase): Promise<void> => {
      if (lost || (refresh && phase !== 'complete')) return;
      const next = value(phase);
      if (Number(await redis.eval(CAS, 1, pk.epoch, current ?? '', next)) !== 1) lost = true;
      current = next;
    };
    const write = async (cmds: Array<[string, ...Array<string | number>]>): Promise<void> => {
      for (let i = 0; i < cmds.length; i += BATCH) {
        if (Number(await redis.eval(RENEW, 1, pk.lock, token, String(lockMs))) !== 1) throw new Error('projection: lost the lock (took longer than lock_ms?)');
        await runEach(redis, cmds.slice(i, i + BATCH));
      }
    };

    // Everything changed at or after this instant is read again at the end, so a
    // CLI write that raced this run is not overwritten by the older snapshot.
    const since = (await pool.query<{ t: Date }>('SELECT now() AS t')).rows[0]!.t;
    const revs = await revocationsSince(pool);
    await write(revs.flatMap((r) => denyCommand(k, r, nowS())));
    await advance('keys');
    const keys = await keysSince(pool);
    await write(keys.map((row) => ['set', k.key(row.sha256), JSON.stringify(keyRecordOf(row))]));
    await advance('users');
    const users = await usersSince(pool);
    await write(users.map(userCommand(k)));
    await write((await orgsSince(pool)).map(orgCommand(prefix)));

    const lateRevs = await revocationsSince(pool, since);
    await write(lateRevs.flatMap((r) => denyCommand(k, r, nowS())));
    await write((await keysSince(pool, since)).map((row) => ['set', k.key(row.sha256), JSON.stringify(keyRecordOf(row))]));
    await write((await usersSince(pool, since)).map(userCommand(k)));
    await write((await orgsSince(pool, since)).map(orgCommand(prefix)));
    await advance('complete');
    return { ran: true, complete: !lost, revocations: revs.length, keys: keys.length, users: users.length };
  } finally {
    await redis.eval(RELEASE, 1, pk.lock, token).catch(() => undefined);
  }
}

type Command = [string, ...Array<string | number>];

function denyCommand(k: ReturnType<typeof redisKeys>, r: Revocation, nowS: number): Command[] {
  if (r.kind !== 'session') return [['set', k.deny(r.kind, r.id), String(r.at)]];
  // Session deny state expires as the live `revoke` writes it (deny-state.ts); an expired one is not brought back.
  const left = Math.floor(r.at + SESSION_DENY_TTL_S - nowS);
  return left > 0 ? [['set', k.deny(r.kind, r.id), String(r.at), 'EX', left]] : [];
}

function userCommand(k: ReturnType<typeof redisKeys>) {
  return (row: UserRow): Command =>
    row.status === 'active' ? ['set', k.user(row.user_id), JSON.stringify(userRowToRecord(row))] : ['del', k.user(row.user_id)];
}

function orgCommand(prefix: string) {
  return (row: OrgRow): Command => {
    const p = projectionOf(prefix, { kind: 'org', row });
    return p.value === '' ? ['del', p.key] : ['set', p.key, p.value];
  };
}

/** Org records (migration 007_orgs; none before it), the control plane's. */
async function orgsSince(pool: Pool, since?: Date): Promise<OrgRow[]> {
  const exists = (await pool.query<{ t: string | null }>("SELECT to_regclass('orgs')::text AS t")).rows[0]?.t;
  if (!exists) return [];
  return (await pool.query<OrgRow>(`SELECT * FROM orgs${since ? ' WHERE updated_at >= $1' : ''} ORDER BY org_id`, since ? [since] : [])).rows;
}

async function revocationsSince(pool: Pool, since?: Date): Promise<Revocation[]> {
  const rows = (
    await pool.query<{ kind: RevocationKind; subject_id: string; at: number }>(
      `SELECT kind, subject_id, extract(epoch FROM revoked_at)::float8 AS at FROM auth_revocations${since ? ' WHERE revoked_at >= $1' : ''}`,
      since ? [since] : [],
    )
  ).rows;
  return rows.map((r) => ({ kind: r.kind, id: r.subject_id, at: r.at }));
}

async function keysSince(pool: Pool, since?: Date): Promise<KeyRow[]> {
  return (await pool.query<KeyRow>(`SELECT * FROM api_keys${since ? ' WHERE created_at >= $1 OR revoked_at >= $1' : ''} ORDER BY key_id`, since ? [since] : []))
    .rows;
}

async function usersSince(pool: Pool, since?: Date): Promise<UserRow[]> {
  // Before migration 005 there is no users table: nothing to project.
  const exists = (await pool.query<{ t: string | null }>("SELECT to_regclass('users')::text AS t")).rows[0]?.t;
  if (!exists) return [];
  return (await pool.query<UserRow>(`SELECT * FROM users${since ? ' WHERE updated_at >= $1' : ''} ORDER BY user_id`, since ? [since] : [])).rows;
}
