/** Config schema of the `upstream:` section: the app behind the sidecar and the h1 pool. */
import { z } from 'zod';

export const upstreamSchema = z
  .object({
    url: z.string().url(),
    connections: z.number().int().positive().default(128),
    headers_timeout_ms: z.number().int().positive().default(10000),
    body_timeout_ms: z.number().int().nonnegative().default(300000),
    keep_alive_timeout_ms: z.number().int().positive().default(4000),
    /** Accepted for old configs: the proxy's own HTTP/1.1 client (h1) is the only one; `undici` was removed. */
    client: z
      .literal('h1', { errorMap: () => ({ message: 'the only upstream client is "h1" (undici was removed): delete the key or set it to h1' }) })
      .optional(),
  })
  .strict();

export type UpstreamConfig = z.infer<typeof upstreamSchema>;
