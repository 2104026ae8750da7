/** Config schema of the `redis:` section (absent: standalone mode). */
import { z } from 'zod';

export const redisSchema = z
  .object({
    /** One Redis: `redis://`, `rediss://` (TLS) or `unix:` URL. Exactly one of `url` and `cluster`. */
    url: z.string().min(1).optional(),
    /** A Redis Cluster: seed node URLs (`redis://host:port`, `rediss://` for TLS; credentials from the first), see docs/configuration.md. */
    cluster: z
      .array(z.string().regex(/^rediss?:\/\/([^@/]*@)?[^/@:]+(:\d+)?\/?$/, 'a node URL like redis://host:6379'))
      .min(1)
      .optional(),
    key_prefix: z
      .string()
      .regex(/^[^{}]*$/, "no braces: the cluster hash tags are the sidecar's own")
      .default('argus:'),
    /** Refuse (503) uncached credentials whenever the projection epoch is missing, even before this process has seen a complete one (src/authenticate/projection.ts). */
    require_projection: z.boolean().default(false),
  })
  .strict()
  .superRefine((r, ctx) => {
    if ((r.url === undefined) === (r.cluster === undefined))
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [r.url === undefined ? 'url' : 'cluster'], message: 'set exactly one of redis.url and redis.cluster' });
  })
  .optional();

export type RedisConfig = NonNullable<z.infer<typeof redisSchema>>;
