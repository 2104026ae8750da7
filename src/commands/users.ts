/**
 * `argus-sidecar users …`: user records (tier, role, features, scopes, rate
 * override, each extension's entitlements) in Postgres `users`, projected into
 * Redis `<prefix>auth:user:<id>` in the format records.ts reads.
 * - `users set --user ID [--tier T] [--role R] [--features a,b] [--scopes a,b]
 *    [--requests-per-minute N] [--<extension> JSON …] [--stripe-customer C] --config FILE`
 *   replaces the record (fields not given are cleared), prints it.
 * - `users get --user ID --config FILE`: the stored record as JSON (exit 1 when unknown).
 * - `users delete --user ID --config FILE`: marks it deleted, removes the projection.
 * Postgres is written first; a Redis that cannot take the projection fails the
 * command (exit 1) with the record already stored: `keys sync` or the worker's
 * re-projection brings Redis in line.
 */
import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from './args.js';
import { UsageError } from '../errors.js';
import type { Pool } from '../clients/postgres.js';
import type { Redis } from '../clients/redis.js';
import { splitList, withStores } from './keys.js';
import { SAFE_NAME, userRecordSchema, type UserRecord } from '../authenticate/records.js';
import { entitlementOptions, entitlementUsage, entitlementValues } from './entitlement-flags.js';
import { redisKeys } from '../authenticate/store.js';
import { deleteUser, describeUser, getUser, upsertUser, userRowToRecord } from '../identity-admin/userstore.js';

const usage = () =>
  `usage: users set --user ID [--tier T] [--role R] [--features a,b] [--scopes a,b] [--requests-per-minute N]${entitlementUsage()} [--stripe-customer C] --config FILE | users get --user ID --config FILE | users delete --user ID --config FILE`;

export async function runUsersCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'set') return set(rest);
  if (sub === 'get') return get(rest);
  if (sub === 'delete') return remove(rest);
  throw new UsageError(usage());
}

function userFlag(values: { user?: string | boolean | undefined }): string {
  const id = values.user;
  if (typeof id !== 'string' || id.length === 0) throw new UsageError('--user ID is required');
  if (!SAFE_NAME.test(id)) throw new UsageError('--user: expected visible ASCII without spaces');
  return id;
}

async function set(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('users set', argv, {
    ...CONFIG_OPTION,
    user: { type: 'string' },
    tier: { type: 'string' },
    role: { type: 'string' },
    features: { type: 'string' },
    scopes: { type: 'string' },
    'requests-per-minute': { type: 'string' },
    ...entitlementOptions(),
    'stripe-customer': { type: 'string' },
  });
  const cfg = configFromArgs(values);
  const userId = userFlag(values);
  if (values.tier !== undefined && !(values.tier in cfg.tiers))
    throw new UsageError(`--tier: unknown tier "${values.tier}" (tiers: ${Object.keys(cfg.tiers).join(', ')})`);
  const rpm = values['requests-per-minute'];
  const candidate = {
    ...(values.tier !== undefined && { tier: values.tier }),
    ...(values.role !== undefined && { role: values.role }),
    ...(values.features !== undefined && { features: splitList(values.features) }),
    ...(values.scopes !== undefined && { scopes: splitList(values.scopes) }),
    ...(rpm !== undefined && { requests_per_minute: Number(rpm) }),
    ...entitlementValues(values),
    ...(values['stripe-customer'] !== undefined && { stripe_customer: values['stripe-customer'] }),
  };
  const parsed = userRecordSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? '');
    throw new UsageError(`--${field.replace(/_/g, '-')}: ${issue?.message ?? 'invalid'}`);
  }
  const rec: UserRecord = parsed.data;
  const out = await withStores(cfg, true, async (pool, redis) => {
    const row = await upsertUser(pool as Pool, userId, rec);
    if (redis && cfg.redis) await project(redis, cfg.redis.key_prefix, userId, userRowToRecord(row));
    return describeUser(row);
  });
  process.stdout.write(JSON.stringify(out) + '\n');
  return 0;
}

async function get(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('users get', argv, { ...CONFIG_OPTION, user: { type: 'string' } });
  const cfg = configFromArgs(values);
  const userId = userFlag(values);
  const row = await withStores({ ...cfg, redis: undefined }, true, (pool) => getUser(pool as Pool, userId));
  if (row === null) {
    process.stderr.write(`argus-sidecar users get: no user "${userId}"\n`);
    return 1;
  }
  process.stdout.write(JSON.stringify(describeUser(row)) + '\n');
  return 0;
}

async function remove(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('users delete', argv, { ...CONFIG_OPTION, user: { type: 'string' } });
  const cfg = configFromArgs(values);
  const userId = userFlag(values);
  const out = await withStores(cfg, true, async (pool, redis) => {
    const row = await deleteUser(pool as Pool, userId);
    if (row === null) throw new UsageError(`users delete: no user "${userId}"`);
    if (redis && cfg.redis) await project(redis, cfg.redis.key_prefix, userId, null);
    return describeUser(row);
  });
  process.stdout.write(JSON.stringify(out) + '\n');
  return 0;
}

async function project(redis: Redis, prefix: string, userId: string, rec: UserRecord | null): Promise<void> {
  const key = redisKeys(prefix).user(userId);
  try {
    if (rec === null) await redis.del(key);
    else await redis.set(key, JSON.stringify(rec));
  } catch (err) {
    throw new Error(`redis: could not project the user record (${(err as Error).message}); it is stored in Postgres, run "keys sync" once Redis is back`);
  }
}
