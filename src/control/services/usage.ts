/**
 * Usage aggregated from the ledger (`usage_events`, written by the billing
 * worker): events, quantity and LLM cost per user, kind and day or month (UTC).
 * An admin may read anyone's; a user only their own (the default for them).
 */
import type { UsageInput } from '../api/schemas.js';
import type { Actor } from './actor.js';
import type { ServiceDeps } from './deps.js';
import { fail, ok, type Result } from './result.js';

export interface UsageView {
  period: 'day' | 'month';
  items: Array<{ user_id: string | null; kind: string; period_start: string; events: number; quantity: number; cost_usd: number | null }>;
}

export async function getUsage(deps: ServiceDeps, actor: Actor, q: UsageInput): Promise<Result<UsageView>> {
  const userId = q.user_id ?? (actor.admin ? undefined : actor.id);
  if (!actor.admin && userId !== actor.id) return fail('ARGUS_FORBIDDEN', 'you may read only your own usage');
  const where: string[] = [];
  const args: unknown[] = [q.period];
  const add = (sql: string, v: unknown) => {
    args.push(v);
    where.push(sql.replace('?', `$${args.length}`));
  };
  if (userId !== undefined) add('user_id = ?', userId);
  if (q.kind !== undefined) add('kind = ?', q.kind);
  if (q.from !== undefined) add('occurred_at >= ?', q.from);
  if (q.to !== undefined) add('occurred_at < ?', q.to);
  const rows = (
    await deps.pool.query<{ user_id: string | null; kind: string; period_start: Date; events: string; quantity: string; cost_usd: string | null }>(
      `SELECT user_id, kind, date_trunc($1, occurred_at AT TIME ZONE 'UTC') AS period_start, count(*) AS events,
              sum(quantity) AS quantity, sum(cost_usd) AS cost_usd
       FROM usage_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
       GROUP BY 1, 2, 3 ORDER BY 3, 1, 2 LIMIT 10000`,
      args,
    )
  ).rows;
  return ok({
    period: q.period,
    items: rows.map((r) => ({
      user_id: r.user_id,
      kind: r.kind,
      period_start: new Date(`${toIsoDate(r.period_start)}Z`).toISOString(),
      events: Number(r.events),
      quantity: Number(r.quantity),
      cost_usd: r.cost_usd === null ? null : Number(r.cost_usd),
    })),
  });
}

/** `timestamp without time zone` arrives as a local Date: read its wall-clock fields back. */
function toIsoDate(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getFullYear(), 4)}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
