/**
 * The ledger at fleet scale: `usage_events` becomes a table range-partitioned by
 * `occurred_at` (one partition per UTC day, `usage_events_pYYYYMMDD`), and
 * `usage_windows` keeps per-hour aggregates that Stripe reporting reads to find
 * its work instead of scanning raw rows.
 *
 * In one transaction: the old table is renamed, the partitioned one created with
 * the same columns, every existing row moved into `usage_events_before` (all time
 * up to today, UTC), today's and the next two days' partitions created (the
 * worker keeps creating them ahead: src/billing/ledger.ts), the unpartitioned
 * table dropped. A big existing ledger is copied once here: it takes its size in
 * extra disk until the commit, and writes wait on it (docs/operations.md).
 *
 * Dedupe: a primary key on a partitioned table must contain the partition key,
 * so it is `(event_id, occurred_at)` and the ledger inserts with
 * `ON CONFLICT (event_id, occurred_at) DO NOTHING`. That is still exactly once:
 * an event's `occurred_at` is fixed when it is created and travels with it
 * (spool, queue, retries), so a re-delivery always carries the same pair.
 *
 * `usage_windows` (hour, kind, user, row customer): events and quantity added in
 * the same statement that inserts the raw rows (only rows newly inserted count,
 * so the aggregates are exactly once too), and `settled_events`: how many of the
 * hour's rows Stripe reporting has claimed or dead-lettered. An hour with
 * `events > settled_events` has work; others are never looked at again.
 * Existing rows are aggregated here once.
 */
export const sql = `
DROP INDEX IF EXISTS usage_events_unreported;
DROP INDEX IF EXISTS usage_events_claimed;
DROP INDEX IF EXISTS usage_events_user_time;
DROP INDEX IF EXISTS usage_events_unbillable;
ALTER TABLE usage_events RENAME TO usage_events_unpartitioned;
ALTER TABLE usage_events_unpartitioned RENAME CONSTRAINT usage_events_pkey TO usage_events_unpartitioned_pkey;

CREATE TABLE usage_events (
  event_id            text NOT NULL,
  kind                text NOT NULL CHECK (kind IN ('request', 'llm', 'trading')),
  user_id             text,
  key_id              text,
  stripe_customer     text,
  service             text NOT NULL,
  route               text NOT NULL,
  request_id          text NOT NULL,
  quantity            numeric NOT NULL,
  occurred_at         timestamptz NOT NULL,
  method              text,
  status              integer,
  bytes_in            bigint,
  bytes_out           bigint,
  latency_ms          double precision,
  provider            text,
  model               text,
  input_tokens        bigint,
  output_tokens       bigint,
  cost_usd            numeric,
  exchange            text,
  symbol              text,
  trading_type        text CHECK (trading_type IN ('trade', 'data_stream', 'backtest')),
  value_usd           numeric,
  data_bytes          bigint,
  compute_s           double precision,
  inserted_at         timestamptz NOT NULL DEFAULT now(),
  stripe_identifier   text,
  reported_at         timestamptz,
  cached_input_tokens bigint,
  ttft_ms             double precision,
  estimated           boolean,
  partial             boolean,
  unbillable_at       timestamptz,
  unbillable_reason   text,
  PRIMARY KEY (event_id, occurred_at)
) PARTITION BY RANGE (occurred_at);

CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT;
DO $$
DECLARE
  today date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
  EXECUTE format('CREATE TABLE usage_events_before PARTITION OF usage_events FOR VALUES FROM (MINVALUE) TO (%L)', today::timestamp AT TIME ZONE 'UTC');
  FOR i IN 0..2 LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF usage_events FOR VALUES FROM (%L) TO (%L)',
      'usage_events_p' || to_char(today + i, 'YYYYMMDD'), (today + i)::timestamp AT TIME ZONE 'UTC', (today + i + 1)::timestamp AT TIME ZONE 'UTC');
  END LOOP;
END $$;

INSERT INTO usage_events (event_id, kind, user_id, key_id, stripe_customer, service, route, request_id, quantity, occurred_at, method, status,
  bytes_in, bytes_out, latency_ms, provider, model, input_tokens, output_tokens, cost_usd, exchange, symbol, trading_type, value_usd, data_bytes,
  compute_s, inserted_at, stripe_identifier, reported_at, cached_input_tokens, ttft_ms, estimated, partial, unbillable_at, unbillable_reason)
SELECT event_id, kind, user_id, key_id, stripe_customer, service, route, request_id, quantity, occurred_at, method, status,
  bytes_in, bytes_out, latency_ms, provider, model, input_tokens, output_tokens, cost_usd, exchange, symbol, trading_type, value_usd, data_bytes,
  compute_s, inserted_at, stripe_identifier, reported_at, cached_input_tokens, ttft_ms, estimated, partial, unbillable_at, unbillable_reason
FROM usage_events_unpartitioned;
DROP TABLE usage_events_unpartitioned;

CREATE INDEX usage_events_unreported ON usage_events (occurred_at) WHERE reported_at IS NULL;
CREATE INDEX usage_events_claimed ON usage_events (stripe_identifier) WHERE reported_at IS NULL AND stripe_identifier IS NOT NULL;
CREATE INDEX usage_events_user_time ON usage_events (user_id, occurred_at);
CREATE INDEX usage_events_unbillable ON usage_events (unbillable_at) WHERE unbillable_at IS NOT NULL;

CREATE TABLE usage_windows (
  hour_start      timestamptz NOT NULL,
  kind            text NOT NULL,
  user_id         text NOT NULL,
  stripe_customer text NOT NULL,
  events          bigint NOT NULL,
  quantity        numeric NOT NULL,
  settled_events  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (hour_start, kind, user_id, stripe_customer)
);
CREATE INDEX usage_windows_pending ON usage_windows (hour_start) WHERE events > settled_events;

INSERT INTO usage_windows (hour_start, kind, user_id, stripe_customer, events, quantity, settled_events)
SELECT to_timestamp(floor(extract(epoch FROM occurred_at) / 3600) * 3600), kind, COALESCE(user_id, ''), COALESCE(stripe_customer, ''),
       count(*), sum(quantity), count(*) FILTER (WHERE stripe_identifier IS NOT NULL OR reported_at IS NOT NULL OR unbillable_at IS NOT NULL)
  FROM usage_events GROUP BY 1, 2, 3, 4;
`;
