/**
 * Config schema of a route's `cors:` (src/cors/policy.ts applies it; docs/http.md, "CORS").
 *
 * ```yaml
 * cors:
 *   origins: [https://app.example.com]   # exact origins (scheme://host[:port]) or "*"
 *   methods: [GET, POST]                  # default: the route's methods, else GET, HEAD, POST
 *   headers: [authorization, content-type, x-api-key]   # request headers allowed ("*": any)
 *   expose_headers: [x-trace]             # response headers scripts may read (the sidecar's own are always exposed)
 *   credentials: false                    # true: cookies / Authorization allowed; "*" then echoes the origin
 *   max_age_s: 600                        # how long a browser may cache the preflight
 * ```
 */
import { z } from 'zod';

const ORIGIN = /^(\*|null|[a-z][a-z0-9+.-]*:\/\/[^/\s?#]+)$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const corsSchema = z
  .object({
    origins: z.array(z.string().regex(ORIGIN, 'an origin like "https://app.example.com" (scheme://host[:port], no path) or "*"')).min(1),
    methods: z.array(z.string().regex(TOKEN, 'an HTTP method')).min(1).optional(),
    headers: z.array(z.string().regex(TOKEN, 'a header name or "*"')).default([]),
    expose_headers: z.array(z.string().regex(TOKEN, 'a header name or "*"')).default([]),
    credentials: z.boolean().default(false),
    max_age_s: z.number().int().nonnegative().max(86400).default(600),
  })
  .strict()
  .refine((c) => !(c.credentials && c.expose_headers.includes('*')), {
    // Fetch standard, CORS protocol: for a credentialed request `*` is a literal header name.
    message: 'expose_headers: "*" is not a wildcard when credentials is true (Fetch standard): list the headers',
    path: ['expose_headers'],
  });

export type CorsConfig = z.infer<typeof corsSchema>;
