/**
 * `argus-sidecar revoke (--user ID | --session SID | --key KEY_ID) --config FILE`:
 * the kill switch. Writes the deny state (Postgres when configured, Redis always)
 * and publishes it; every sidecar evicts matching L1 entries at once and closes
 * matching WebSockets. `--user` refuses every credential of the user issued at or
 * before now (new logins afterwards work). Prints `{"revoked":{kind,id},"subscribers":N}`.
 *
 * Start-up is most of the kill switch's latency, so this module loads only the
 * config (validated in full, as for every command), deny-state.ts and the lean
 * RESP client: no ioredis, and pg only when the config has `postgres`.
 * Exit 1 with a one-line message when Redis or Postgres fails.
 */
import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from '../cli-args.js';
import { UsageError } from '../errors.js';
import { connectResp, parseRedisUrl, RespError, type RespClient } from '../store/resp.js';
import { redisKeys, revocationCommands, type RedisCommand, type Revocation, type RevocationKind } from './deny-state.js';
import type { KeyRecord } from './records.js';
import { SAFE_NAME } from './records.js';

export async function runRevokeCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('revoke', argv, { ...CONFIG_OPTION, user: { type: 'string' }, session: { type: 'string' }, key: { type: 'string' } });
  const cfg = configFromArgs(values);
  const given = (['user', 'session', 'key'] as const).filter((k) => values[k] !== undefined);
  if (given.length !== 1) throw new UsageError('exactly one of --user ID, --session SID, --key KEY_ID is required');
  const kind: RevocationKind = given[0] as RevocationKind;
  const id = values[kind] as string;
  if (!SAFE_NAME.test(id)) throw new UsageError(`--${kind}: expected visible ASCII without spaces`);
  if (!cfg.redis) throw new UsageError('config: redis.url: required for revoke (sidecars learn revocations through Redis)');
  const { url, key_prefix: prefix } = cfg.redis;
  const target = parseRedisUrl(url);
  // Connect while Postgres is written; the first Redis write still waits for Postgres (the source of truth).
  const connecting = target ? connectResp(target) : null;
  connecting?.catch(() => undefined);
  let stage = 'postgres';
  try {
    const at = Date.now() / 1000;
    const projected = cfg.postgres ? await recordInPostgres(cfg.postgres.url, kind, id, at) : null;
    stage = 'redis';
    const r: Revocation = { kind, id, at };
    const subscribers = connecting ? await publishLean(await connecting, prefix, r, projected) : await publishWithIoredis(url, prefix, r, projected);
    process.stdout.write(JSON.stringify({ revoked: { kind, id }, subscribers }) + '\n');
    return 0;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const message = (err as Error).message;
    process.stderr.write(`argus-sidecar revoke: ${message.startsWith(`${stage}:`) ? message : `${stage}: ${message}`}\n`);
    return 1;
  } finally {
    await connecting?.then((c) => c.close(), () => undefined);
  }
}

/** A key's record as re-projected into Redis after `revoke --key` marked its row revoked. */
interface Projection {
  readonly sha256: string;
  readonly record: KeyRecord;
}

/** Record the revocation in Postgres; for `--key`, also mark the key's row revoked. */
async function recordInPostgres(url: string, kind: RevocationKind, id: string, at: number): Promise<Projection | null> {
  const [{ createPool }, { recordRevocation, revokeKeyRow, rowToRecord }] = await Promise.all([import('../store/postgres.js'), import('./keystore.js')]);
  const pool = createPool(url, { max: 2 });
  try {
    await recordRevocation(pool, kind, id, at);
    if (kind !== 'key') return null;
    const row = await revokeKeyRow(pool, id);
    return row === null ? null : { sha256: row.sha256, record: rowToRecord(row) };
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** Projection (if any), deny state and PUBLISH in one MULTI/EXEC, one write. Returns PUBLISH's reply. */
async function publishLean(client: RespClient, prefix: string, r: Revocation, projected: Projection | null): Promise<number> {
  const commands: RedisCommand[] = [];
  if (projected) commands.push(['SET', redisKeys(prefix).key(projected.sha256), JSON.stringify(projected.record)]);
  commands.push(...revocationCommands(prefix, r));
  const replies = await client.transaction(commands);
  const subscribers = replies[replies.length - 1];
  if (typeof subscribers !== 'number') throw new RespError('RESP_PROTOCOL', `redis: PUBLISH answered ${JSON.stringify(subscribers)}`);
  return subscribers;
}

/** URL forms the RESP client does not read (no scheme, unix socket, query options): ioredis, as before. */
async function publishWithIoredis(url: string, prefix: string, r: Revocation, projected: Projection | null): Promise<number> {
  const [{ closeRedis, createRedis }, { projectKey, publishRevocation }] = await Promise.all([import('../store/redis.js'), import('./store.js')]);
  // The CLI may wait for a connection (offline queue on) but gives up after a few attempts.
  const redis = createRedis(url, { enableOfflineQueue: true, retryStrategy: (n) => (n > 3 ? null : 200) });
  redis.on('error', () => undefined);
  try {
    if (projected) await projectKey(redis, prefix, projected.sha256, projected.record);
    return await publishRevocation(redis, prefix, r);
  } finally {
    await closeRedis(redis);
  }
}
