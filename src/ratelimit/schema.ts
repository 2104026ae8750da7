/** Config schema of the `ratelimit:` section. */
import { z } from 'zod';

export const ratelimitSchema = z.object({
  enabled: z.boolean().default(true),
  /** local: per sidecar; global: cluster-wide through Redis. */
  scope: z.enum(['local', 'global']).default('local'),
  /** With scope global and Redis down: enforce limit / replicas locally. */
  replicas: z.number().int().positive().default(1),
}).strict();

export type RatelimitConfig = z.infer<typeof ratelimitSchema>;
