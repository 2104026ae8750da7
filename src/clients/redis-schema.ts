/** Config schema of the `redis:` section (absent: standalone mode). */
import { z } from 'zod';

export const redisSchema = z
  .object({
    url: z.string().min(1),
    key_prefix: z.string().default('argus:'),
    /** Refuse (503) uncached credentials whenever the projection epoch is missing, even before this process has seen a complete one (src/authenticate/projection.ts). */
    require_projection: z.boolean().default(false),
  })
  .strict()
  .optional();

export type RedisConfig = NonNullable<z.infer<typeof redisSchema>>;
