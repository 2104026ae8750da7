/**
 * Usage made with an org's API key is billed to the org's Stripe customer
 * (docs/billing.md, "Whose customer is billed"):
 *
 * - `usage_events.org_id`: the org whose key made the row. The worker sets it
 *   when it inserts the row, from `api_keys.org_id` of the row's `key_id`
 *   (src/billing/ledger.ts); it never changes afterwards.
 * - `usage_windows.org_id` ('' for none) joins the hourly aggregate's key, so an
 *   hour holding both a member's own usage and their org key's usage keeps the
 *   two apart: Stripe reporting resolves each one's customer on its own.
 *
 * The customer is resolved when the row is reported, not when it is made, so a
 * binding that appears after the usage still gets it.
 *
 * Rows already in the ledger and not yet reported are attributed here once:
 * those whose key belongs to an org get its `org_id`, and their counts move
 * from the hour's org-less aggregate to the org's (events, quantity and the
 * settled count together, so `events > settled_events` keeps meaning "has
 * work"). Reported rows keep what they were billed as.
 */
export const sql = `
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS org_id text;
ALTER TABLE usage_windows ADD COLUMN IF NOT EXISTS org_id text NOT NULL DEFAULT '';
ALTER TABLE usage_windows DROP CONSTRAINT IF EXISTS usage_windows_pkey;
ALTER TABLE usage_windows ADD PRIMARY KEY (hour_start, kind, user_id, stripe_customer, org_id);

CREATE TEMP TABLE argus_015_moved ON COMMIT DROP AS
WITH moved AS (
  UPDATE usage_events e SET org_id = k.org_id
    FROM api_keys k
   WHERE k.key_id = e.key_id AND k.org_id IS NOT NULL AND e.org_id IS NULL AND e.reported_at IS NULL
  RETURNING e.occurred_at, e.kind, e.user_id, e.stripe_customer, e.quantity, k.org_id,
            (e.stripe_identifier IS NOT NULL OR e.unbillable_at IS NOT NULL) AS settled
)
SELECT to_timestamp(floor(extract(epoch FROM occurred_at) / 3600) * 3600) AS hour_start, kind,
       COALESCE(user_id, '') AS user_id, COALESCE(stripe_customer, '') AS stripe_customer, org_id,
       count(*) AS events, sum(quantity) AS quantity, count(*) FILTER (WHERE settled) AS settled_events
  FROM moved GROUP BY 1, 2, 3, 4, 5;

UPDATE usage_windows w SET events = w.events - m.events, quantity = w.quantity - m.quantity, settled_events = w.settled_events - m.settled_events
  FROM (SELECT hour_start, kind, user_id, stripe_customer, sum(events) AS events, sum(quantity) AS quantity, sum(settled_events) AS settled_events
          FROM argus_015_moved GROUP BY 1, 2, 3, 4) m
 WHERE w.hour_start = m.hour_start AND w.kind = m.kind AND w.user_id = m.user_id AND w.stripe_customer = m.stripe_customer AND w.org_id = '';

INSERT INTO usage_windows (hour_start, kind, user_id, stripe_customer, org_id, events, quantity, settled_events)
SELECT hour_start, kind, user_id, stripe_customer, org_id, events, quantity, settled_events FROM argus_015_moved;

DELETE FROM usage_windows WHERE org_id = '' AND events = 0;
`;
