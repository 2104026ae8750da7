/** Config schema of the `server:` section: the front's limits, drain, WebSocket and header rules. */
import { z } from 'zod';

export const serverSchema = z
  .object({
    /**
     * Nice value given at start to the process's helper threads (V8's optimizing
     * compiler, libuv's file-system pool; src/server/helper-threads.ts), above the
     * request threads' 0: they run in the request threads' idle time instead of
     * taking whole scheduler slices from them on a shared core. 0 leaves them as they are. Linux only.
     */
    helper_thread_nice: z.number().int().min(0).max(19).default(10),
    /** Allow uWebSockets.js's pure-JS fallback (slow). Never in production. */
    allow_js_fallback: z.boolean().default(false),
    /** Largest request header section (request line + headers) in bytes. */
    max_header_bytes: z.number().int().min(4096).max(65536).default(16384),
    /** Most request headers accepted. uWS v20.30 never delivers a request with more than ~47 header lines (it holds it unanswered until its idle timeout), so the limit stays below that. */
    max_headers: z.number().int().min(8).max(46).default(40),
    /** Largest request body in bytes (per route override: routes[].max_body_bytes). */
    max_body_bytes: z
      .number()
      .int()
      .positive()
      .default(10 * 1024 * 1024),
    /** SIGTERM: how long (from the signal) in-flight requests may take to finish; streams still open then get a shutdown event. */
    drain_timeout_ms: z.number().int().nonnegative().default(25000),
    /** SIGTERM: keep serving (with `Connection: close`) this long while load balancers remove the endpoint. Default 5000, at most drain_timeout_ms. */
    drain_delay_ms: z.number().int().nonnegative().optional(),
    /** Largest WebSocket message accepted from a client (bigger: the connection is closed). */
    ws_max_payload_bytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    /** A WebSocket client silent this long (pinged half-way) is closed with 1001, upstream too (src/forward/ws-idle.ts). */
    ws_idle_timeout_s: z.number().int().min(2).max(900).default(120),
    /** Bytes buffered towards a slow WebSocket peer before backpressure (pause, or close 1013). */
    ws_max_buffered_bytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    /** Trust an incoming X-Forwarded-For and append to it (behind a trusted LB). */
    trust_forwarded: z.boolean().default(false),
    /** Accept `Transfer-Encoding: chunked` request bodies (uWS's chunk parser is lenient: see docs/http.md, Request hygiene). Off: 411. */
    chunked_request_bodies: z.boolean().default(false),
    /** Merge repeated slashes in the request path before routing (src/server/path.ts). */
    merge_slashes: z.boolean().default(true),
    /** Client request headers never forwarded, added to the built-in list (case-insensitive); x-argus-* is always removed too. */
    strip_request_headers: z.array(z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'a header name')).default([]),
    /** Names from the built-in strip list to forward anyway (a trusted proxy in front sets them). */
    forward_request_headers: z.array(z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'a header name')).default([]),
    /** When set, only these Host values (name or name:port, case-insensitive) are served; others get 421. */
    allowed_hosts: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict()
  .refine((s) => s.drain_delay_ms === undefined || s.drain_delay_ms <= s.drain_timeout_ms, {
    path: ['drain_delay_ms'],
    message: 'must not exceed server.drain_timeout_ms',
  })
  .transform((s) => ({ ...s, drain_delay_ms: s.drain_delay_ms ?? Math.min(5000, s.drain_timeout_ms) }))
  .default({});

export type ServerConfig = z.infer<typeof serverSchema>;
