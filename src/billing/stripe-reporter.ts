/**
 * Periodic Stripe reporting: aggregate unreported ledger rows per (Stripe
 * customer, meter, window), send one Billing meter event each, and mark rows
 * reported only after Stripe accepted. Which windows have work comes from the
 * hourly aggregates in `usage_windows` (src/billing/ledger.ts), never from a
 * scan of raw rows; a claim then touches only its window's rows.
 *
 * Crash safety is an outbox. A cycle first *claims* rows in one transaction:
 * it writes a `stripe_meter_reports` row (identifier, value) and stamps the
 * claimed rows with that identifier. Only then does it call Stripe; on success a
 * second transaction sets `accepted_at` and the rows' `reported_at`. A process
 * killed in between leaves a pending report that the next cycle resends with the
 * same identifier and value, and Stripe's identifier dedupe makes it count once.
 *
 * Identifier: `am_` + 32 base64url chars of SHA-256(customer, meter, window
 * start). Rows arriving for a window already claimed (late, e.g. from a spool
 * replay) get a follow-up event `…_2`, `…_3` rather than being deduplicated away.
 * Only closed windows (ended `settle_s` ago) are claimed. A session advisory lock
 * lets one replica report at a time. 429/5xx/network errors stop the cycle and
 * double the pause (up to `max_backoff_ms`); other 4xx mark the report rejected
 * (error log; rows stay unreported for an operator).
 *
 * Customer mapping (ledger.ts `CUSTOMER`), read at claim time: the row's
 * `stripe_customer` (from the AuthContext), else the `billing_customers` binding
 * of its owner: the org whose API key made it (the row's `org_id`), else its
 * user. Rows with none wait unreported; a binding made later claims them (back to
 * Stripe's 35-day limit).
 *
 * Whole units: Stripe meter event values are integers. A claim adds the
 * (customer, meter)'s carried remainder to its rows' sum, reports the whole part
 * and carries the fraction on (`stripe_meter_remainders`, in the claim's
 * transaction, so it survives restarts): Σ Stripe + remainder = Σ ledger, exactly,
 * at all times. A window whose whole part is 0 reports nothing to Stripe and is
 * marked done with its rows. Timestamps Stripe would refuse and reports too old
 * to resend safely: stripe-limits.ts.
 */
import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import type { StripeConfig } from '../meter/schema.js';
import '../extensions/registry.js';
import { usageKinds, type UsageKind } from '../meter/events.js';
import { workerMetrics } from '../meter/metrics.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import type { Pool } from '../clients/postgres.js';
import type { MeterEventSender } from './stripe-client.js';
import { claimRows, markReported, pendingWindows, reportLagS } from './ledger.js';
import { deadLetter, REVIEW_AFTER_S, SENDABLE_AGE_S, stripeLimitMetrics, updateLimitGauges } from './stripe-limits.js';

const REPORT_LOCK = 0x4152_5354; // "ARST"

export interface CycleResult {
  readonly locked: boolean;
  readonly claimed: number;
  readonly accepted: number;
  readonly duplicate: number;
  readonly rejected: number;
  /** Rows dead-lettered this cycle (timestamps Stripe would refuse). */
  readonly unbillable?: number;
  /** Reports parked for review this cycle (first attempt over 20 h ago). */
  readonly review?: number;
  /** Stripe asked us to back off (429/5xx/network): the cycle stopped early. */
  readonly retry: boolean;
}

export interface StripeReporter {
  /** One claim + send cycle (tests call this directly; `start` calls it on a timer). */
  runOnce(): Promise<CycleResult>;
  start(): void;
  /** Stop the timer and wait for a running cycle. Idempotent. */
  close(): Promise<void>;
}

/** Pause before the next cycle: doubles (from `interval_ms`) while Stripe asks to back off, else `interval_ms`. */
export function nextDelay(current: number, backOff: boolean, cfg: Pick<StripeConfig, 'interval_ms' | 'max_backoff_ms'>): number {
  return backOff ? Math.min(Math.max(current, cfg.interval_ms) * 2, cfg.max_backoff_ms) : cfg.interval_ms;
}

/** The identifier of the n-th (1-based) meter event for (customer, meter, window). */
export function meterIdentifier(customer: string, meter: string, windowStartS: number, n = 1): string {
  const h = createHash('sha256').update(`${customer}\0${meter}\0${windowStartS}`).digest('base64url').slice(0, 32);
  return n <= 1 ? `am_${h}` : `am_${h}_${n}`;
}

export function createStripeReporter(
  cfg: StripeConfig,
  deps: { pool: Pool; sender: MeterEventSender; metrics: Metrics; log: Logger; now?: () => number },
): StripeReporter {
  const now = deps.now ?? Date.now;
  const log = deps.log.child({ component: 'stripe-reporter' });
  const wm = workerMetrics(deps.metrics);
  const lm = stripeLimitMetrics(deps.metrics);
  const meters = new Map<UsageKind, string>();
  for (const kind of usageKinds()) {
    const name = cfg.meters[kind];
    if (name) meters.set(kind, name);
  }
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<CycleResult> | null = null;
  let delay = cfg.interval_ms;
  let closed = false;
  let closing: Promise<void> | null = null;

  /** Claim closed windows' unclaimed rows into new pending reports. Returns reports created. */
  async function claim(client: PoolClient): Promise<number> {
    const nowS = Math.floor(now() / 1000);
    const cutoffS = Math.floor((nowS - cfg.settle_s) / cfg.window_s) * cfg.window_s;
    const kinds = [...meters.keys()];
    if (kinds.length === 0) return 0;
    const groups = await pendingWindows(client, { windowS: cfg.window_s, kinds, cutoffS, oldestS: nowS - SENDABLE_AGE_S, limit: cfg.batch_limit });
    let created = 0;
    for (const g of groups) {
      if (!g.customer) continue;
      const meter = meters.get(g.kind as UsageKind);
      if (!meter) continue;
      const ws = Number(g.window_start);
      await client.query('BEGIN');
      try {
        const prior = await client.query<{ n: string }>(
          'SELECT count(*) AS n FROM stripe_meter_reports WHERE stripe_customer = $1 AND meter = $2 AND window_start = to_timestamp($3)',
          [g.customer, meter, ws],
        );
        const identifier = meterIdentifier(g.customer, meter, ws, Number(prior.rows[0]?.n ?? 0) + 1);
        const stamped = await claimRows(client, {
          identifier,
          kind: g.kind,
          windowStartS: ws,
          windowS: cfg.window_s,
          customer: g.customer,
          oldestS: nowS - SENDABLE_AGE_S,
        });
        if (stamped.n > 0) {
          // Whole units to Stripe, the fraction carried to the customer's next window (exact numeric arithmetic).
          const split = await client.query<{ carried: string; value: string; rest: string }>(
            `WITH c AS (SELECT COALESCE((SELECT remainder FROM stripe_meter_remainders WHERE stripe_customer = $1 AND meter = $2 FOR UPDATE), 0) AS carried)
             SELECT carried::text, floor($3::numeric + carried)::text AS value, (($3::numeric + carried) - floor($3::numeric + carried))::text AS rest FROM c`,
            [g.customer, meter, stamped.total],
          );
          const { carried, value, rest } = split.rows[0]!;
          await client.query(
            `INSERT INTO stripe_meter_remainders (stripe_customer, meter, remainder) VALUES ($1, $2, $3)
             ON CONFLICT (stripe_customer, meter) DO UPDATE SET remainder = EXCLUDED.remainder, updated_at = now()`,
            [g.customer, meter, rest],
          );
          const nothingToSend = Number(value) === 0;
          await client.query(
            `INSERT INTO stripe_meter_reports (identifier, stripe_customer, meter, kind, window_start, value, ledger_total, carried_in, accepted_at)
             VALUES ($1, $2, $3, $4, to_timestamp($5), $6, $7, $8, ${nothingToSend ? 'now()' : 'NULL'})`,
            [identifier, g.customer, meter, g.kind, ws, value, stamped.total, carried],
          );
          // All of it carried on: the rows are accounted for, Stripe has nothing to take.
          if (nothingToSend) await markReported(client, identifier);
          else created++;
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }
    return created;
  }

  async function sendPending(client: PoolClient): Promise<{ accepted: number; duplicate: number; rejected: number; review: number; retry: boolean }> {
    const pending = await client.query<{
      identifier: string;
      stripe_customer: string;
      meter: string;
      window_start_s: string;
      value: string;
      first_attempt_s: string | null;
    }>(
      `SELECT identifier, stripe_customer, meter, extract(epoch FROM window_start)::bigint AS window_start_s, value::text AS value,
              extract(epoch FROM first_attempt_at)::float8::text AS first_attempt_s
         FROM stripe_meter_reports WHERE accepted_at IS NULL AND rejected_at IS NULL AND review_at IS NULL
        ORDER BY created_at, identifier LIMIT $1`,
      [cfg.batch_limit],
    );
    const res = { accepted: 0, duplicate: 0, rejected: 0, review: 0, retry: false };
    for (const r of pending.rows) {
      if (closed) break;
      const nowS = Math.floor(now() / 1000);
      if (r.first_attempt_s !== null && nowS - Number(r.first_attempt_s) > REVIEW_AFTER_S) {
        // Stripe may have stored an earlier attempt whose answer was lost, and no longer dedupes its identifier.
        await client.query('UPDATE stripe_meter_reports SET review_at = to_timestamp($2) WHERE identifier = $1', [r.identifier, nowS]);
        res.review++;
        log.error('stripe: meter report first attempted over 20 h ago parked for review, not resent (argus-sidecar usage review)', {
          identifier: r.identifier,
          meter: r.meter,
          customer: r.stripe_customer,
          value: r.value,
          first_attempt_at: new Date(Number(r.first_attempt_s) * 1000).toISOString(),
        });
        continue;
      }
      if (r.first_attempt_s === null)
        await client.query('UPDATE stripe_meter_reports SET first_attempt_at = to_timestamp($2) WHERE identifier = $1', [r.identifier, now() / 1000]);
      const timestamp = Math.max(Number(r.window_start_s), nowS - SENDABLE_AGE_S);
      const out = await deps.sender.send({ meter: r.meter, customer: r.stripe_customer, value: r.value, identifier: r.identifier, timestamp });
      wm.stripeReported.inc({ outcome: out.outcome });
      if (out.outcome === 'accepted' || out.outcome === 'duplicate') {
        await client.query('BEGIN');
        try {
          await client.query('UPDATE stripe_meter_reports SET accepted_at = now(), attempts = attempts + 1, last_error = NULL WHERE identifier = $1', [
            r.identifier,
          ]);
          await markReported(client, r.identifier);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        res[out.outcome]++;
        continue;
      }
      const failure = out as Extract<typeof out, { error: string }>;
      const rejected = failure.outcome === 'rejected';
      await client.query(
        `UPDATE stripe_meter_reports SET attempts = attempts + 1, last_error = $2${rejected ? ', rejected_at = now()' : ''} WHERE identifier = $1`,
        [r.identifier, failure.error],
      );
      if (rejected) {
        res.rejected++;
        log.error('stripe: meter event rejected; rows stay unreported', {
          identifier: r.identifier,
          meter: r.meter,
          status: failure.status,
          error: failure.error,
        });
        continue;
      }
      res.retry = true;
      log.warn('stripe: backing off', { identifier: r.identifier, status: failure.status, error: failure.error });
      break;
    }
    return res;
  }

  async function updateLag(client: PoolClient): Promise<void> {
    await updateLimitGauges(client, lm);
    wm.lag.set({ stage: 'stripe' }, await reportLagS(client, { nowS: now() / 1000, kinds: [...meters.keys()] }));
  }

  async function cycle(): Promise<CycleResult> {
    const client = await deps.pool.connect();
    try {
      const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [REPORT_LOCK]);
      if (!got.rows[0]?.ok) return { locked: false, claimed: 0, accepted: 0, duplicate: 0, rejected: 0, unbillable: 0, review: 0, retry: false };
      try {
        // Resend what a crashed cycle left pending before claiming more.
        const first = await sendPending(client);
        if (first.retry) return { locked: true, claimed: 0, ...first };
        const unbillable = meters.size > 0 ? await deadLetter(client, { nowS: Math.floor(now() / 1000), kinds: [...meters.keys()], log, m: lm }) : 0;
        const claimed = await claim(client);
        const second = claimed > 0 ? await sendPending(client) : { accepted: 0, duplicate: 0, rejected: 0, review: 0, retry: false };
        await updateLag(client);
        return {
          locked: true,
          claimed,
          accepted: first.accepted + second.accepted,
          duplicate: first.duplicate + second.duplicate,
          rejected: first.rejected + second.rejected,
          unbillable,
          review: first.review + second.review,
          retry: second.retry,
        };
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [REPORT_LOCK]).catch(() => undefined);
      }
    } finally {
      client.release();
    }
  }

  function runOnce(): Promise<CycleResult> {
    running ??= cycle().finally(() => {
      running = null;
    });
    return running;
  }

  function schedule(): void {
    if (closed) return;
    timer = setTimeout(() => {
      runOnce()
        .then(
          (r) => {
            delay = nextDelay(delay, r.retry, cfg);
            if (r.claimed + r.accepted + r.duplicate + r.rejected + (r.unbillable ?? 0) + (r.review ?? 0) > 0) log.info('stripe: cycle', { ...r });
          },
          (err: unknown) => {
            delay = nextDelay(delay, true, cfg);
            log.warn('stripe: cycle failed', { err });
          },
        )
        .finally(schedule);
    }, delay);
  }

  return {
    runOnce,
    start() {
      if (!timer && !closed) {
        delay = Math.min(cfg.interval_ms, 1000);
        schedule();
      }
    },
    close() {
      closing ??= (async () => {
        closed = true;
        if (timer) clearTimeout(timer);
        await running?.catch(() => undefined);
      })();
      return closing;
    },
  };
}
