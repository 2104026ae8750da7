/**
 * `argus-sidecar revoke (--user ID | --session SID | --key KEY_ID) --config FILE`:
 * the kill switch. Writes the deny state (Postgres when configured, Redis always)
 * and publishes it; every sidecar evicts matching L1 entries at once and closes
 * matching WebSockets. `--user` refuses every credential of the user issued at or
 * before now (new logins afterwards work). Prints `{"revoked":{kind,id},"subscribers":N}`.
 *
 * Start-up is most of the kill switch's latency, so this module loads only the
 * config (validated in full, as for every command), deny-state.ts and the lean
 * RESP client: no ioredis, and pg only when the config has `postgres`. Redis is
 * written before Postgres, so the close frames go out before pg has loaded.
 * Exit 1 with a one-line message naming the store that failed, and what that
 * left in effect, when Redis or Postgres fails.
 */
import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from './args.js';
import { UsageError } from '../errors.js';
import { connectResp, parseRedisUrl, RespError, type RespClient } from '../clients/resp.js';
import type { RedisTarget } from '../clients/redis.js';
import { redisKeys, revocationCommands, type Revocation, type RevocationKind } from '../authenticate/deny-state.js';
import type { KeyRecord } from '../authenticate/records.js';
import { SAFE_NAME } from '../authenticate/records.js';

export async function runRevokeCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('revoke', argv, { ...CONFIG_OPTION, user: { type: 'string' }, session: { type: 'string' }, key: { type: 'string' } });
  const cfg = configFromArgs(values);
  const given = (['user', 'session', 'key'] as const).filter((k) => values[k] !== undefined);
  if (given.length !== 1) throw new UsageError('exactly one of --user ID, --session SID, --key KEY_ID is required');
  const kind: RevocationKind = given[0] as RevocationKind;
  const id = values[kind] as string;
  if (!SAFE_NAME.test(id)) throw new UsageError(`--${kind}: expected visible ASCII without spaces`);
  if (!cfg.redis) throw new UsageError('config: redis.url: required for revoke (sidecars learn revocations through Redis)');
  const { key_prefix: prefix } = cfg.redis;
  const r: Revocation = { kind, id, at: Date.now() / 1000 };
  // The kill switch takes effect when the deny state is published, so Redis goes
  // first; Postgres (the source of truth; loading pg alone takes ~50 ms here) is
  // written next, whatever Redis did, and the command succeeds only when both did.
  // A revoked key's re-projected record needs its Postgres row, so it comes last.
  const writer = await settle(openWriter(cfg.redis, prefix));
  const published = writer.ok ? await settle(writer.value.publish(r)) : writer;
  const recorded = cfg.postgres ? await settle(recordInPostgres(cfg.postgres.url, kind, id, r.at)) : null;
  try {
    if (!published.ok) return fail('redis', published.error, recorded?.ok ? ' (recorded in Postgres; run the command again to publish it)' : '');
    if (recorded && !recorded.ok) return fail('postgres', recorded.error, ' (in effect: published through Redis; run the command again to record it)');
    if (recorded?.value && writer.ok) {
      const projected = await settle(writer.value.project(recorded.value));
      if (!projected.ok) return fail('redis', projected.error, ' (revoked and recorded; the key record in Redis is stale until `keys sync`)');
    }
    process.stdout.write(JSON.stringify({ revoked: { kind, id }, subscribers: published.value }) + '\n');
    return 0;
  } finally {
    if (writer.ok) await writer.value.close().catch(() => undefined);
  }
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
const settle = <T>(p: Promise<T>): Promise<Settled<T>> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

/** One line on stderr naming the store that failed; exit code 1 (a UsageError still exits 2). */
function fail(stage: 'postgres' | 'redis', err: unknown, consequence: string): number {
  if (err instanceof UsageError) throw err;
  const message = (err as Error).message;
  process.stderr.write(`argus-sidecar revoke: ${message.startsWith(`${stage}:`) ? message : `${stage}: ${message}`}${consequence}\n`);
  return 1;
}

/** A key's record as re-projected into Redis after `revoke --key` marked its row revoked. */
interface Projection {
  readonly sha256: string;
  readonly record: KeyRecord;
}

/** Record the revocation in Postgres; for `--key`, also mark the key's row revoked. */
async function recordInPostgres(url: string, kind: RevocationKind, id: string, at: number): Promise<Projection | null> {
  const [{ createPool }, { recordRevocation, revokeKeyRow, rowToRecord }] = await Promise.all([
    import('../clients/postgres.js'),
    import('../identity-admin/keystore.js'),
  ]);
  const pool = createPool(url, { max: 2 });
  try {
    await recordRevocation(pool, kind, id, at);
    await auditRevocation(pool, kind, id, at);
    if (kind !== 'key') return null;
    const row = await revokeKeyRow(pool, id);
    return row === null ? null : { sha256: row.sha256, record: rowToRecord(row) };
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/**
 * The audit row the control plane writes for every revocation (src/control/services/revocations.ts),
 * actor `cli:<login>`; skipped before migration 008_audit.
 */
async function auditRevocation(pool: import('../clients/postgres.js').Pool, kind: RevocationKind, id: string, at: number): Promise<void> {
  const exists = (await pool.query<{ t: string | null }>("SELECT to_regclass('audit_log')::text AS t")).rows[0]?.t;
  if (!exists) return;
  const { cliActor } = await import('../control/services/actor.js');
  await pool.query(`INSERT INTO audit_log (actor, action, subject_kind, subject_id, before, after) VALUES ($1, 'revocation.create', $2, $3, NULL, $4)`, [
    cliActor().id,
    kind,
    id,
    JSON.stringify({ kind, id, at }),
  ]);
}

/** Where the CLI writes deny state and key projections in Redis. */
interface RedisWriter {
  /** Deny state and PUBLISH in one write; resolves with the number of subscribers reached. */
  publish(r: Revocation): Promise<number>;
  project(p: Projection): Promise<void>;
  close(): Promise<void>;
}

/**
 * The lean RESP client (one MULTI/EXEC per write); ioredis for URL forms it does
 * not read (unix socket, query options) and for a Redis Cluster (slot routing).
 */
async function openWriter(redis: Exclude<RedisTarget, string>, prefix: string): Promise<RedisWriter> {
  const target = redis.url !== undefined && !redis.cluster ? parseRedisUrl(redis.url) : null;
  if (!target) return openIoredisWriter(redis, prefix);
  const client: RespClient = await connectResp(target);
  return {
    async publish(r) {
      const replies = await client.transaction(revocationCommands(prefix, r));
      const subscribers = replies[replies.length - 1];
      if (typeof subscribers !== 'number') throw new RespError('RESP_PROTOCOL', `redis: PUBLISH answered ${JSON.stringify(subscribers)}`);
      return subscribers;
    },
    async project(p) {
      await client.transaction([['SET', redisKeys(prefix).key(p.sha256), JSON.stringify(p.record)]]);
    },
    close: () => client.close(),
  };
}

async function openIoredisWriter(url: RedisTarget, prefix: string): Promise<RedisWriter> {
  const [{ closeRedis, createRedis }, { projectKey, publishRevocation }] = await Promise.all([
    import('../clients/redis.js'),
    import('../identity-admin/publish.js'),
  ]);
  // The CLI may wait for a connection (offline queue on) but gives up after a few attempts.
  const redis = createRedis(url, { enableOfflineQueue: true, retryStrategy: (n) => (n > 3 ? null : 200) });
  redis.on('error', () => undefined);
  return {
    publish: (r) => publishRevocation(redis, prefix, r),
    project: (p) => projectKey(redis, prefix, p.sha256, p.record),
    close: () => closeRedis(redis),
  };
}
