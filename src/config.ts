/**
 * Configuration: the only module that reads `process.env`.
 *
 * A YAML file (keys: docs/configuration.md) is parsed, `${ENV}` references are
 * substituted (`${ENV:-default}` when ENV is unset or empty; a port given as
 * `"${PORT:-8080}"` becomes a number), the result is validated once with zod (unknown keys are errors),
 * deeply frozen and passed down. Any problem throws a {@link UsageError} whose
 * message names the key path and what was expected; the CLI exits 2 on it.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseYaml } from './yaml.js';
import { z } from 'zod';
import { UsageError } from './errors.js';
import { authSchema } from './authenticate/schema.js';
import { meteringSchema, stripeSchema } from './meter/schema.js';
import { ratelimitSchema } from './ratelimit/schema.js';
import { routeSchema } from './authorize/route-schema.js';
import { llmSchema } from './llm/schema.js';
import { tradingSchema } from './trading/schema.js';
import { DEFAULT_STRIP_REQUEST_HEADERS } from './forward/strip.js';
import { billingProblems, billingSchema } from './billing/plans.js';
import { controlSchema } from './control-schema.js';

/** A port; digits in a string (what `"${PORT:-8080}"` substitutes to) count as the number. */
const portNumber = z.preprocess((v) => (typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : v), z.number().int().min(0).max(65535));

const hostPort = (host: string, port: number) =>
  z
    .object({
      host: z.string().min(1).default(host),
      port: portNumber.default(port),
    })
    .strict();

const tierSchema = z
  .object({
    requests_per_minute: z.number().int().positive(),
    /** Extra tokens above the per-minute rate that may be spent at once. Default: 10% of the rate. */
    burst: z.number().int().nonnegative().optional(),
  })
  .strict();

/** Built-in tiers, lowest first. `none` is what a lapsed subscription falls to (`billing.inactive_tier`). */
export const TIER_ORDER = ['none', 'explorer', 'professional', 'business', 'enterprise'] as const;
export type TierName = (typeof TIER_ORDER)[number];

export const configSchema = z
  .object({
    listen: hostPort('0.0.0.0', 8080).default({}),
    admin: hostPort('0.0.0.0', 9090).default({}),
    /** uWS apps in worker threads on the same port; `auto`: the cores this process may use. */
    threads: z.union([z.literal('auto'), z.number().int().min(1).max(64)]).default('auto'),
    server: z
      .object({
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
        /** Client request headers never forwarded (case-insensitive); x-argus-* is always removed too. */
        strip_request_headers: z.array(z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'a header name')).default([...DEFAULT_STRIP_REQUEST_HEADERS]),
        /** When set, only these Host values (name or name:port, case-insensitive) are served; others get 421. */
        allowed_hosts: z.array(z.string().min(1)).min(1).optional(),
      })
      .strict()
      .refine((s) => s.drain_delay_ms === undefined || s.drain_delay_ms <= s.drain_timeout_ms, {
        path: ['drain_delay_ms'],
        message: 'must not exceed server.drain_timeout_ms',
      })
      .transform((s) => ({ ...s, drain_delay_ms: s.drain_delay_ms ?? Math.min(5000, s.drain_timeout_ms) }))
      .default({}),
    upstream: z
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
      .strict(),
    redis: z
      .object({
        url: z.string().min(1),
        key_prefix: z.string().default('argus:'),
        /** Refuse (503) uncached credentials whenever the projection epoch is missing, even before this process has seen a complete one (src/authenticate/projection.ts). */
        require_projection: z.boolean().default(false),
      })
      .strict()
      .optional(),
    postgres: z
      .object({ url: z.string().min(1) })
      .strict()
      .optional(),
    auth: authSchema.default({}),
    tiers: z.record(z.string(), tierSchema).default({}),
    ratelimit: ratelimitSchema.default({}),
    routes: z.array(routeSchema).min(1),
    metering: meteringSchema.default({}),
    llm: llmSchema.default({}),
    stripe: stripeSchema.optional(),
    trading: tradingSchema.default({}),
    /** `argus-sidecar control` (src/control/): listeners, reconciler, API limits. Ignored by the proxy. */
    control: controlSchema.default({}),
    billing: billingSchema.default({}),
    log: z
      .object({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') })
      .strict()
      .default({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type RouteConfig = Config['routes'][number];

const DEFAULT_TIERS: Record<TierName, { requests_per_minute: number }> = {
  // Below every plan: a small allowance, no features (routes with a `tier` minimum refuse it).
  none: { requests_per_minute: 10 },
  explorer: { requests_per_minute: 100 },
  professional: { requests_per_minute: 1000 },
  business: { requests_per_minute: 10000 },
  enterprise: { requests_per_minute: 100000 },
};

/** Read, substitute, validate and freeze a config file. Throws UsageError. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`config: cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new UsageError(`config: ${file} is not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(raw, env);
}

/** Validate an already-parsed config object (used by tests and `loadConfig`). */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const substituted = substituteEnv(raw, [], env);
  const result = configSchema.safeParse(substituted ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${formatPath(issue.path)}: ${describeIssue(issue)}`);
    throw new UsageError(`config: invalid configuration\n${lines.join('\n')}`);
  }
  const cfg = result.data;
  cfg.tiers = { ...DEFAULT_TIERS, ...cfg.tiers };
  const problems = billingProblems(cfg.billing, Object.keys(cfg.tiers));
  if (problems.length > 0) throw new UsageError(`config: invalid configuration\n${problems.map(([k, m]) => `  ${k}: ${m}`).join('\n')}`);
  return deepFreeze(cfg);
}

/** Cores this process may use: the default for `threads`-like settings. */
export function availableCores(): number {
  return availableParallelism();
}

function formatPath(path: ReadonlyArray<string | number>): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function describeIssue(issue: z.ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.received === 'undefined') return `required (expected ${issue.expected})`;
  if (issue.code === 'invalid_type') return `expected ${issue.expected}, got ${issue.received}`;
  if (issue.code === 'invalid_enum_value')
    return `expected one of ${issue.options.map((o) => JSON.stringify(o)).join(' | ')}, got ${JSON.stringify(issue.received)}`;
  return issue.message;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function substituteEnv(node: unknown, path: Array<string | number>, env: NodeJS.ProcessEnv): unknown {
  if (typeof node === 'string') {
    return node.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const value = fallback !== undefined && !env[name] ? fallback : env[name];
      if (value === undefined) {
        throw new UsageError(`config: ${formatPath(path)}: environment variable ${name} is not set`);
      }
      return value;
    });
  }
  if (Array.isArray(node)) return node.map((v, i) => substituteEnv(v, [...path, i], env));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = substituteEnv(v, [...path, k], env);
    return out;
  }
  return node;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
