/**
 * The usage ledger (docs/contract.md, "Usage ledger"): one row per usage event, unique
 * `event_id`, plus what Stripe reporting needs.
 *
 * - `usage_events.stripe_identifier` names the Stripe meter event a row was
 *   claimed into; `reported_at` is set only after Stripe accepted that event.
 * - `billing_customers` maps a user to a Stripe customer (written by the control
 *   plane). A row's own `stripe_customer` (from the AuthContext) wins over it;
 *   rows with neither stay unreported.
 * - `stripe_meter_reports` is the outbox: one row per meter event, created with
 *   its identifier before the call, so a retry after a crash resends the same
 *   identifier and value.
 */
export const sql = `
CREATE TABLE IF NOT EXISTS usage_events (
  event_id          text PRIMARY KEY,
  kind              text NOT NULL CHECK (kind IN ('request', 'llm', 'trading')),
  user_id           text,
  key_id            text,
  stripe_customer   text,
  service           text NOT NULL,
  route             text NOT NULL,
  request_id        text NOT NULL,
  quantity          numeric NOT NULL,
  occurred_at       timestamptz NOT NULL,
  -- request
  method            text,
  status            integer,
  bytes_in          bigint,
  bytes_out         bigint,
  latency_ms        double precision,
  -- llm
  provider          text,
  model             text,
  input_tokens      bigint,
  output_tokens     bigint,
  cost_usd          numeric,
  -- trading
  exchange          text,
  symbol            text,
  trading_type      text CHECK (trading_type IN ('trade', 'data_stream', 'backtest')),
  value_usd         numeric,
  data_bytes        bigint,
  compute_s         double precision,
  -- bookkeeping
  inserted_at       timestamptz NOT NULL DEFAULT now(),
  stripe_identifier text,
  reported_at       timestamptz
);
CREATE INDEX IF NOT EXISTS usage_events_unreported ON usage_events (occurred_at) WHERE reported_at IS NULL;
CREATE INDEX IF NOT EXISTS usage_events_claimed ON usage_events (stripe_identifier) WHERE reported_at IS NULL AND stripe_identifier IS NOT NULL;
CREATE INDEX IF NOT EXISTS usage_events_user_time ON usage_events (user_id, occurred_at);

CREATE TABLE IF NOT EXISTS billing_customers (
  user_id         text PRIMARY KEY,
  stripe_customer text NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS stripe_meter_reports (
  identifier      text PRIMARY KEY,
  stripe_customer text NOT NULL,
  meter           text NOT NULL,
  kind            text NOT NULL,
  window_start    timestamptz NOT NULL,
  value           numeric NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  accepted_at     timestamptz,
  rejected_at     timestamptz
);
CREATE INDEX IF NOT EXISTS stripe_meter_reports_pending ON stripe_meter_reports (created_at) WHERE accepted_at IS NULL AND rejected_at IS NULL;
`;
