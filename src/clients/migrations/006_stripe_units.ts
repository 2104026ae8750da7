/**
 * What Stripe accepts (src/billing/stripe-reporter.ts):
 * - meter event values are whole numbers: a window's fractional rest is carried
 *   per (customer, meter) in `stripe_meter_remainders` into the next window, and
 *   each report records what it carried in and what its rows summed to;
 * - events Stripe would refuse for their timestamp (older than its 35 days, or
 *   more than 5 minutes ahead) are dead-lettered on their ledger row
 *   (`unbillable_at`, `unbillable_reason`), never skipped silently;
 * - a report first attempted more than 20 h ago (Stripe deduplicates identifiers
 *   for about 24 h) is not resent blind: `review_at` parks it for an operator.
 */
export const sql = `
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS unbillable_at timestamptz;
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS unbillable_reason text;
CREATE INDEX IF NOT EXISTS usage_events_unbillable ON usage_events (unbillable_at) WHERE unbillable_at IS NOT NULL;

ALTER TABLE stripe_meter_reports ADD COLUMN IF NOT EXISTS ledger_total numeric;
ALTER TABLE stripe_meter_reports ADD COLUMN IF NOT EXISTS carried_in numeric NOT NULL DEFAULT 0;
ALTER TABLE stripe_meter_reports ADD COLUMN IF NOT EXISTS first_attempt_at timestamptz;
ALTER TABLE stripe_meter_reports ADD COLUMN IF NOT EXISTS review_at timestamptz;
CREATE INDEX IF NOT EXISTS stripe_meter_reports_review ON stripe_meter_reports (review_at) WHERE review_at IS NOT NULL AND accepted_at IS NULL;

CREATE TABLE IF NOT EXISTS stripe_meter_remainders (
  stripe_customer text NOT NULL,
  meter           text NOT NULL,
  remainder       numeric NOT NULL DEFAULT 0 CHECK (remainder >= 0 AND remainder < 1),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stripe_customer, meter)
);
`;
