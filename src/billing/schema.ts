/** Config schema of the `billing:` section: how the worker keeps the ledger's storage (src/billing/ledger.ts). */
import { z } from 'zod';

export const billingSchema = z
  .object({
    ledger: z
      .object({
        /** Daily partitions of `usage_events` the worker keeps created ahead of today (UTC). */
        partition_days_ahead: z.number().int().min(1).max(366).default(7),
        /**
         * Drop daily partitions that ended more than this many days ago. 0 (default):
         * keep everything. Otherwise at least 40, past Stripe's 35-day limit, so no
         * row that could still be billed is dropped.
         */
        retention_days: z
          .number()
          .int()
          .min(0)
          .default(0)
          .refine((d) => d === 0 || d >= 40, '0 (keep everything) or at least 40 days (Stripe takes events up to 35 days old)'),
        /** How often the worker creates partitions ahead and applies retention (also once at start). */
        maintenance_interval_ms: z.number().int().min(1000).default(3_600_000),
      })
      .strict()
      .default({}),
  })
  .strict();

export type BillingConfig = z.infer<typeof billingSchema>;
