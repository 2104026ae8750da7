/**
 * `argus-sidecar revoke (--user ID | --session SID | --key KEY_ID) --config FILE`:
 * the kill switch. Writes the deny state (Postgres when configured, Redis always)
 * and publishes it; every sidecar evicts matching L1 entries at once and closes
 * matching WebSockets. `--user` refuses every credential of the user issued at or
 * before now (new logins afterwards work). Prints `{"revoked":{kind,id},"subscribers":N}`.
 */
import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from '../cli-args.js';
import { UsageError } from '../errors.js';
import type { Redis } from '../store/redis.js';
import { withStores } from './keys-command.js';
import { recordRevocation, revokeKeyRow, rowToRecord } from './keystore.js';
import { SAFE_NAME } from './records.js';
import { projectKey, publishRevocation, type RevocationKind } from './store.js';

export async function runRevokeCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('revoke', argv, { ...CONFIG_OPTION, user: { type: 'string' }, session: { type: 'string' }, key: { type: 'string' } });
  const cfg = configFromArgs(values);
  const given = (['user', 'session', 'key'] as const).filter((k) => values[k] !== undefined);
  if (given.length !== 1) throw new UsageError('exactly one of --user ID, --session SID, --key KEY_ID is required');
  const kind: RevocationKind = given[0] as RevocationKind;
  const id = values[kind] as string;
  if (!SAFE_NAME.test(id)) throw new UsageError(`--${kind}: expected visible ASCII without spaces`);
  if (!cfg.redis) throw new UsageError('config: redis.url: required for revoke (sidecars learn revocations through Redis)');
  const prefix = cfg.redis.key_prefix;
  const out = await withStores(cfg, false, async (pool, redis) => {
    const at = Date.now() / 1000;
    if (pool) {
      await recordRevocation(pool, kind, id, at);
      if (kind === 'key') {
        const row = await revokeKeyRow(pool, id);
        if (row !== null) await projectKey(redis as Redis, prefix, row.sha256, rowToRecord(row));
      }
    }
    const subscribers = await publishRevocation(redis as Redis, prefix, { kind, id, at });
    return { revoked: { kind, id }, subscribers };
  });
  process.stdout.write(JSON.stringify(out) + '\n');
  return 0;
}
