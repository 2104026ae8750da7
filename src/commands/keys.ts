/**
 * `argus-sidecar keys …` (README.md, "Command line" and "API keys"):
 * - `keys create --user ID --tier TIER [--role R] [--scopes a,b] [--features x,y]
 *    [--requests-per-minute N] [--<extension> JSON …] --config FILE`
 *   prints `{"key_id":…,"key":…}` once: the key is never shown again.
 * - `keys create --standalone FILE …` (no Postgres; `--config` optional, for its
 *   tiers): appends the key's record to the standalone key file instead.
 * - `keys revoke KEY_ID --config FILE`: through the control plane's service
 *   (src/control/services/keys.ts: row, revocation, audit row in one transaction),
 *   then the key record and the deny state into Redis, published.
 * - `keys list --user ID --config FILE`: JSON array, no digests.
 * - `keys sync --config FILE`: re-project every revocation, key and user record
 *   from Postgres into Redis and mark the projection epoch complete (projection.ts;
 *   the billing worker does the same by itself when the epoch is missing). Publishes nothing.
 * Postgres is the source of truth; Redis gets the projection when configured.
 */
import { TIER_ORDER, type Config } from '../config.js';
import { appendKeyRecord } from '../identity-admin/standalone-keys.js';
import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from './args.js';
import { UsageError } from '../errors.js';
import { createPool, type Pool } from '../clients/postgres.js';
import { closeRedis, createRedis, type Redis } from '../clients/redis.js';
import { generateApiKey } from '../authenticate/api-keys.js';
import { deleteKey, describeKey, insertKey, listKeys, rowToRecord, type KeyRow } from '../identity-admin/keystore.js';
import { markProjected, projectChange } from '../identity-admin/changes.js';
import { createLogger } from '../observe/log.js';
import { keyRecordSchema, type KeyRecord } from '../authenticate/records.js';
import { entitlementOptions, entitlementUsage, entitlementValues } from './entitlement-flags.js';
import { reproject } from '../identity-admin/projection.js';
import { projectKey, publishRevocation } from '../identity-admin/publish.js';

const usage = () =>
  `usage: keys create --user ID --tier TIER [--role R] [--scopes a,b] [--features x,y] [--requests-per-minute N]${entitlementUsage()} (--config FILE | --standalone FILE) | keys revoke KEY_ID --config FILE | keys list --user ID --config FILE | keys sync --config FILE`;

export async function runKeysCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'create') return create(rest);
  if (sub === 'revoke') return revoke(rest);
  if (sub === 'list') return list(rest);
  if (sub === 'sync') return sync(rest);
  throw new UsageError(usage());
}

/** Open Postgres (required) and Redis (when configured), run, close both. */
export async function withStores<T>(cfg: Readonly<Config>, needPostgres: boolean, fn: (pool: Pool | null, redis: Redis | null) => Promise<T>): Promise<T> {
  if (needPostgres && !cfg.postgres) throw new UsageError('config: postgres.url: required for this command');
  const pool = cfg.postgres ? createPool(cfg.postgres.url, { max: 2 }) : null;
  // The CLI may wait for a connection (offline queue on) but gives up after a few attempts.
  const redis = cfg.redis ? createRedis(cfg.redis, { enableOfflineQueue: true, retryStrategy: (n) => (n > 3 ? null : 200) }) : null;
  redis?.on('error', () => undefined);
  try {
    return await fn(pool, redis);
  } finally {
    await Promise.allSettled([pool?.end(), redis ? closeRedis(redis) : undefined]);
  }
}

async function create(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('keys create', argv, {
    ...CONFIG_OPTION,
    user: { type: 'string' },
    tier: { type: 'string' },
    role: { type: 'string' },
    scopes: { type: 'string' },
    features: { type: 'string' },
    'requests-per-minute': { type: 'string' },
    ...entitlementOptions(),
    standalone: { type: 'string' },
  });
  const standalone = values.standalone;
  const cfg = standalone !== undefined && values.config === undefined ? undefined : configFromArgs(values);
  const tiers: readonly string[] = cfg ? Object.keys(cfg.tiers) : TIER_ORDER;
  if (!values.user) throw new UsageError('--user ID is required');
  if (!values.tier) throw new UsageError('--tier TIER is required');
  if (!tiers.includes(values.tier)) throw new UsageError(`--tier: unknown tier "${values.tier}" (tiers: ${tiers.join(', ')})`);
  const { key_id, key, sha256 } = generateApiKey();
  const rpm = values['requests-per-minute'];
  const candidate = {
    key_id,
    user_id: values.user,
    tier: values.tier,
    ...(values.role !== undefined && { role: values.role }),
    scopes: splitList(values.scopes),
    features: splitList(values.features),
    ...(rpm !== undefined && { requests_per_minute: Number(rpm) }),
    ...entitlementValues(values),
  };
  const parsed = keyRecordSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`--${flagOf(String(issue?.path[0] ?? ''))}: ${issue?.message ?? 'invalid'}`);
  }
  const rec: KeyRecord = parsed.data;
  if (standalone !== undefined) {
    if (standalone === '') throw new UsageError('--standalone FILE: a file name is required');
    appendKeyRecord(standalone, { ...rec, sha256, created_at: Math.floor(Date.now() / 1000) });
    process.stdout.write(JSON.stringify({ key_id, key }) + '\n');
    process.stderr.write(`keys create: added ${key_id} to ${standalone} (digest only); a running proxy reads the file at startup: restart it\n`);
    return 0;
  }
  if (!cfg) throw new UsageError('--config FILE is required');
  await withStores(cfg, true, async (pool, redis) => {
    const row = await insertKey(pool as Pool, sha256, rec);
    if (redis && cfg.redis) {
      try {
        await projectKey(redis, cfg.redis.key_prefix, sha256, rowToRecord(row));
      } catch (err) {
        // Never leave an active key nobody holds: undo the insert, then fail.
        await deleteKey(pool as Pool, key_id);
        throw new Error(`redis: could not project the new key (${(err as Error).message}); nothing was created`);
      }
    }
  });
  process.stdout.write(JSON.stringify({ key_id, key }) + '\n');
  return 0;
}

async function revoke(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('keys revoke', argv, CONFIG_OPTION, true);
  const cfg = configFromArgs(values);
  const keyId = positionals[0];
  if (positionals.length !== 1 || !keyId) throw new UsageError('usage: keys revoke KEY_ID --config FILE');
  const out = await withStores(cfg, true, async (pool, redis) => {
    // The control plane's service (src/control/services/keys.ts): the row, the
    // revocation record and the audit row in one transaction. Redis is written
    // here, as before, to report how many sidecars heard the revocation.
    const { cliActor } = await import('../control/services/actor.js');
    const { revokeKey } = await import('../control/services/keys.js');
    const log = createLogger(cfg.log.level, { command: 'keys revoke' });
    const done = await revokeKey(
      { cfg, pool: pool as Pool, redis: null, prefix: cfg.redis?.key_prefix ?? 'argus:', log, authn: null, now: Date.now },
      cliActor(),
      keyId,
    );
    if (!done.ok) throw new UsageError(`keys revoke: no key with id "${keyId}"`);
    const row = (await (pool as Pool).query<KeyRow>('SELECT * FROM api_keys WHERE key_id = $1', [keyId])).rows[0] as KeyRow;
    const at =
      (
        await (pool as Pool).query<{ at: number }>(
          `SELECT extract(epoch FROM revoked_at)::float8 AS at FROM auth_revocations WHERE kind = 'key' AND subject_id = $1`,
          [keyId],
        )
      ).rows[0]?.at ?? Date.now() / 1000;
    let published = 0;
    if (redis && cfg.redis) {
      await projectChange(redis, cfg.redis.key_prefix, { kind: 'key', row });
      await markProjected(pool as Pool, { kind: 'key', id: keyId, version: Number(row.version ?? 1) });
      published = await publishRevocation(redis, cfg.redis.key_prefix, { kind: 'key', id: keyId, at });
    }
    return { revoked: { kind: 'key', id: keyId }, subscribers: published };
  });
  process.stdout.write(JSON.stringify(out) + '\n');
  return 0;
}

async function list(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('keys list', argv, { ...CONFIG_OPTION, user: { type: 'string' } });
  const cfg = configFromArgs(values);
  if (!values.user) throw new UsageError('--user ID is required');
  const rows = await withStores({ ...cfg, redis: undefined }, true, (pool) => listKeys(pool as Pool, values.user as string));
  process.stdout.write(JSON.stringify(rows.map(describeKey)) + '\n');
  return 0;
}

async function sync(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('keys sync', argv, CONFIG_OPTION);
  const cfg = configFromArgs(values);
  if (!cfg.redis) throw new UsageError('config: redis.url: required for keys sync');
  const prefix = cfg.redis.key_prefix;
  const out = await withStores(cfg, true, async (pool, redis) => {
    // The same run the billing worker starts when Redis lost its data (projection.ts): deny state, keys, users, epoch.
    const r = await reproject(pool as Pool, redis as Redis, prefix);
    if (!r.ran) throw new Error('redis: another re-projection holds the lock; try again in a few seconds');
    if (!r.complete) throw new Error('redis: the data changed under the re-projection (Redis restarted?); run it again');
    return { keys: r.keys, revocations: r.revocations, users: r.users };
  });
  process.stdout.write(JSON.stringify(out) + '\n');
  return 0;
}

export function splitList(v: string | undefined): string[] {
  return v === undefined
    ? []
    : v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
}

function flagOf(field: string): string {
  return ({ user_id: 'user', requests_per_minute: 'requests-per-minute' } as Record<string, string>)[field] ?? field;
}
