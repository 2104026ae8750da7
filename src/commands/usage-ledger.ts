/**
 * `argus-sidecar usage <sub> --config FILE` for what the Stripe reporter set
 * aside in the Postgres ledger (src/billing/stripe-limits.ts); needs only `postgres`.
 *   usage unbillable [--limit N]   dead-lettered events (timestamps Stripe would refuse), JSON lines
 *   usage review     [--limit N]   meter reports parked for review (first attempt over 20 h ago), JSON lines
 *   usage resolve IDENTIFIER (--sent | --resend)
 *       --sent: Stripe has the event (checked in its dashboard): mark it and its rows reported.
 *       --resend: Stripe does not have it: send it again (as a new first attempt).
 */
import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from './args.js';
import { UsageError } from '../errors.js';
import { createPool, type Pool } from '../clients/postgres.js';
import { listUnbillable, markReported } from '../billing/ledger.js';

export const LEDGER_SUBCOMMANDS = ['unbillable', 'review', 'resolve'] as const;
const USAGE = 'usage: argus-sidecar usage (unbillable | review) [--limit N] --config FILE | usage resolve IDENTIFIER (--sent | --resend) --config FILE';

export async function runUsageLedgerCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'usage',
    argv,
    { ...CONFIG_OPTION, limit: { type: 'string' }, sent: { type: 'boolean' }, resend: { type: 'boolean' } },
    true,
  );
  const sub = positionals[0];
  const limit = values.limit === undefined ? 10000 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit: expected a positive integer');
  if (sub === 'resolve' ? positionals.length !== 2 || values.sent === values.resend : positionals.length !== 1) throw new UsageError(USAGE);
  const cfg = configFromArgs(values);
  if (!cfg.postgres) throw new UsageError('config: postgres.url: required for usage ' + sub);
  const pool = createPool(cfg.postgres.url, { max: 1 });
  try {
    if (sub === 'unbillable') return await unbillable(pool, limit);
    if (sub === 'review') return await review(pool, limit);
    return await resolve(pool, positionals[1] as string, values.sent === true);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

async function unbillable(pool: Pool, limit: number): Promise<number> {
  for (const r of await listUnbillable(pool, limit)) process.stdout.write(JSON.stringify(r) + '\n');
  return 0;
}

async function review(pool: Pool, limit: number): Promise<number> {
  const rows = await pool.query(
    `SELECT identifier, stripe_customer, meter, kind, window_start, value::text AS value, first_attempt_at, attempts, last_error, review_at
       FROM stripe_meter_reports WHERE review_at IS NOT NULL AND accepted_at IS NULL ORDER BY review_at, identifier LIMIT $1`,
    [limit],
  );
  for (const r of rows.rows) process.stdout.write(JSON.stringify(r) + '\n');
  return 0;
}

async function resolve(pool: Pool, identifier: string, sent: boolean): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const upd = sent
      ? await client.query(
          "UPDATE stripe_meter_reports SET accepted_at = now(), last_error = 'resolved by operator: sent' WHERE identifier = $1 AND review_at IS NOT NULL AND accepted_at IS NULL",
          [identifier],
        )
      : await client.query(
          'UPDATE stripe_meter_reports SET review_at = NULL, first_attempt_at = NULL WHERE identifier = $1 AND review_at IS NOT NULL AND accepted_at IS NULL',
          [identifier],
        );
    if (upd.rowCount !== 1) {
      await client.query('ROLLBACK');
      throw new UsageError(`usage resolve: no report "${identifier}" in review`);
    }
    if (sent) await markReported(client, identifier);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  process.stdout.write(JSON.stringify({ identifier, resolved: sent ? 'sent' : 'resend' }) + '\n');
  return 0;
}
