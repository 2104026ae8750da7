/**
 * Config schema of one `routes[]` entry, without the extensions' keys (config.ts
 * adds each extension's `routes[].<name>`). First match wins.
 */
import { z } from 'zod';
import type { ExtensionRouteConfigs } from '../extensions/slots.js';
import { corsSchema } from '../cors/schema.js';

/** `websocket.allowed_origins` entry syntax, for the config schema. */
export const ORIGIN_ENTRY = /^(\*|[a-z][a-z0-9+.-]*:\/\/(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?)$/i;

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'] as const;

export const routeSchema = z
  .object({
    /** Exact path, or a prefix ending in `/*` (`/v1/*` matches `/v1` and `/v1/…`). */
    path: z.string().regex(/^\/[^\s?#]*$/, 'a path starting with "/" (prefix: end with "/*")'),
    methods: z.array(z.enum(METHODS)).min(1).optional(),
    /** Match the path case-insensitively and forward it lower-cased (default: case-sensitive). */
    case_insensitive: z.boolean().default(false),
    /** Client request headers this route also strips (added to server.strip_request_headers). */
    strip_request_headers: z.array(z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'a header name')).default([]),
    auth: z.enum(['none', 'optional', 'required']).default('required'),
    tier: z.string().min(1).optional(),
    features: z.array(z.string().min(1)).default([]),
    scopes: z.array(z.string().min(1)).default([]),
    role: z.string().min(1).optional(),
    on_auth_unavailable: z.enum(['open', 'closed']).default('closed'),
    /** shadow: authenticate and record, forward regardless. */
    mode: z.enum(['enforce', 'shadow']).default('enforce'),
    enforce_percent: z.number().min(0).max(100).default(100),
    max_body_bytes: z.number().int().positive().optional(),
    body_timeout_ms: z.number().int().nonnegative().optional(),
    websocket: z
      .object({
        /** Re-check each session's credential this often (expired → 4401, revoked → 4403). */
        heartbeat_ms: z.number().int().positive().default(1000),
        /** Accept `?access_token=` on the handshake (browsers that cannot send headers or subprotocols). */
        query_token: z.boolean().default(false),
        /** Fail-closed routes: a session that cannot be re-validated this long is closed 1011. */
        unavailable_grace_ms: z.number().int().nonnegative().default(5000),
        /** Client messages per minute per connection (over it: an error frame, the message is not forwarded). */
        messages_per_minute: z.number().int().positive().optional(),
        /** Client messages per minute per user across its connections on this sidecar. */
        user_messages_per_minute: z.number().int().positive().optional(),
        /** Browser Origins allowed to open a session (`https://app.example.com`, `https://*.example.com`, `*`). Absent: same origin as Host only. */
        allowed_origins: z.array(z.string().regex(ORIGIN_ENTRY, 'an origin like "https://app.example.com", "https://*.example.com" or "*"')).min(1).optional(),
        /** Largest message in either direction (default server.ws_max_payload_bytes); bigger closes both legs with 1009. */
        max_message_bytes: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    /** Rate-limit class: routes sharing a class share a caller's bucket. Default: one bucket per caller. */
    rate_class: z.string().min(1).default('default'),
    /** Browser cross-origin access: preflights answered by the sidecar (src/cors/schema.ts). */
    cors: corsSchema.optional(),
    /** Meter a `request` usage event for this route. */
    meter: z.boolean().default(true),
  })
  .strict();

export type RouteConfigSchema = z.infer<typeof routeSchema>;

/** One parsed `routes[]` entry: the core's keys plus each extension's (src/extensions/slots.ts). */
export type RouteConfig = RouteConfigSchema & ExtensionRouteConfigs;
