/** Config schema of the `metering:` and `stripe:` sections. */
import { z } from 'zod';

export const meteringSchema = z.object({
  enabled: z.boolean().default(true),
  queue: z.string().min(1).default('argus-usage'),
  spool_dir: z.string().min(1).default('./var/spool'),
  /** Service name stamped on every event (sibyl, prism, jane…). */
  service: z.string().min(1).default('default'),
}).strict();

export const stripeSchema = z.object({
  api_key: z.string().min(1),
}).strict();

export type MeteringConfig = z.infer<typeof meteringSchema>;
export type StripeConfig = z.infer<typeof stripeSchema>;
