/**
 * `argus-sidecar auth-events [--user U] [--from T] [--to T] [--kind K] [--limit N] [--cursor C] --config FILE`:
 * the auth event log (refusals, kill-switch closes, revocations, tier changes)
 * from the `auth_events` table, oldest first, one JSON object per line. T is an
 * ISO 8601 time or epoch milliseconds; `--from` is inclusive, `--to` exclusive.
 * When more rows match than `--limit`, the next page's cursor goes to stderr
 * (`next_cursor: C`). The listing is the control plane's `GET /v1/auth-events`
 * (src/billing/auth-events-list.ts). Needs `postgres` (the worker writes the
 * table: docs/observability.md).
 */
import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from './args.js';
import { UsageError } from '../errors.js';
import { createPool } from '../clients/postgres.js';
import { AUTH_EVENT_KINDS, decodeAuthEventCursor, listAuthEvents } from '../billing/auth-events-list.js';

const KINDS: readonly string[] = AUTH_EVENT_KINDS;

function time(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new UsageError(`--${flag}: expected an ISO 8601 time or epoch milliseconds, got "${v}"`);
  return ms;
}

export async function runAuthEventsCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('auth-events', argv, {
    ...CONFIG_OPTION,
    user: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    kind: { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
  });
  const limit = values.limit === undefined ? 1000 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit: expected a positive integer');
  if (values.kind !== undefined && !KINDS.includes(values.kind)) throw new UsageError(`--kind: expected one of ${KINDS.join(', ')}`);
  if (values.cursor !== undefined && decodeAuthEventCursor(values.cursor) === null) throw new UsageError('--cursor: not a next_cursor of this listing');
  const from = time('from', values.from);
  const to = time('to', values.to);
  const cfg = configFromArgs(values);
  if (!cfg.postgres) throw new UsageError('config: postgres.url: required for auth-events');
  const pool = createPool(cfg.postgres.url, { max: 1 });
  try {
    const page = await listAuthEvents(pool, { limit, user: values.user, from, to, kind: values.kind, cursor: values.cursor });
    for (const r of page.items) process.stdout.write(JSON.stringify(r) + '\n');
    if (page.next_cursor !== null) process.stderr.write(`next_cursor: ${page.next_cursor}\n`);
    return 0;
  } finally {
    await pool.end().catch(() => undefined);
  }
}
