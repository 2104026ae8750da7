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
import { billingSchema } from './billing/schema.js';
import { ratelimitSchema, tierSchema } from './ratelimit/schema.js';
import { routeSchema, type RouteConfig } from './request/route-schema.js';
import type { ExtensionConfigs } from './extensions/slots.js';
import { registeredExtensions, registrationGeneration } from './extensions/registered.js';
import './extensions/registry.js';
import { serverSchema } from './server/schema.js';
import { upstreamSchema } from './forward/upstream-schema.js';
import { redisSchema } from './clients/redis-schema.js';
import { billingPlansSchema, billingProblems } from './billing/plans.js';
import { controlSchema } from './control-schema.js';
import { dashboardProblems } from './dashboard-schema.js';
import { observabilitySchema, resolveTracing, tracingEnabled } from './observe/schema.js';

/** A port; digits in a string (what `"${PORT:-8080}"` substitutes to) count as the number. */
const portNumber = z.preprocess((v) => (typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : v), z.number().int().min(0).max(65535));

const hostPort = (host: string, port: number) =>
  z
    .object({
      host: z.string().min(1).default(host),
      port: portNumber.default(port),
    })
    .strict();

/** Built-in tiers, lowest first. `none` is what a lapsed subscription falls to (`billing.inactive_tier`). */
export const TIER_ORDER = ['none', 'explorer', 'professional', 'business', 'enterprise'] as const;
export type TierName = (typeof TIER_ORDER)[number];

const baseConfigSchema = z
  .object({
    listen: hostPort('0.0.0.0', 8080).default({}),
    admin: hostPort('0.0.0.0', 9090).default({}),
    /** uWS apps in worker threads on the same port; `auto`: the cores this process may use. */
    threads: z.union([z.literal('auto'), z.number().int().min(1).max(64)]).default('auto'),
    server: serverSchema,
    upstream: upstreamSchema,
    redis: redisSchema,
    postgres: z
      .object({ url: z.string().min(1) })
      .strict()
      .optional(),
    auth: authSchema.default({}),
    tiers: z.record(z.string(), tierSchema).default({}),
    ratelimit: ratelimitSchema.default({}),
    routes: z.array(routeSchema).min(1),
    metering: meteringSchema.default({}),
    stripe: stripeSchema.optional(),
    /** `argus-sidecar control` (src/control/): listeners, reconciler, API limits. Ignored by the proxy. */
    control: controlSchema.default({}),
    /** Tracing, access log, auth event stream (docs/observability.md). */
    observability: observabilitySchema.default({}),
    /** The worker's ledger storage (src/billing/schema.ts) and, for the control process, plans and subscription rules (src/billing/plans.ts). */
    billing: billingSchema.merge(billingPlansSchema).default({}),
    log: z
      .object({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') })
      .strict()
      .default({}),
  })
  .strict();

/**
 * The whole schema: the core's sections plus each registered extension's
 * top-level section (`<name>:`) and route key (`routes[].<name>`).
 */
function assembleSchema(): z.ZodType<Config, z.ZodTypeDef, unknown> {
  const sections: Record<string, z.ZodTypeAny> = {};
  const routeKeys: Record<string, z.ZodTypeAny> = {};
  for (const ext of registeredExtensions()) {
    if (ext.configSchema) sections[ext.name] = ext.configSchema;
    if (ext.routeSchema) routeKeys[ext.name] = ext.routeSchema;
  }
  return baseConfigSchema.extend({ routes: z.array(routeSchema.extend(routeKeys)).min(1), ...sections }) as unknown as z.ZodType<Config, z.ZodTypeDef, unknown>;
}

export type Config = Omit<z.infer<typeof baseConfigSchema>, 'routes'> & { routes: RouteConfig[] } & ExtensionConfigs;
export type { RouteConfig };

/** The schema of the registered extensions at load (the docs' key table is generated from it). */
export const configSchema = assembleSchema();
let schema = { generation: registrationGeneration(), zod: configSchema };

function currentSchema(): z.ZodType<Config, z.ZodTypeDef, unknown> {
  const generation = registrationGeneration();
  if (schema.generation !== generation) schema = { generation, zod: assembleSchema() };
  return schema.zod;
}

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
  const result = currentSchema().safeParse(substituted ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${formatPath(issue.path)}: ${describeIssue(issue)}`);
    throw new UsageError(`config: invalid configuration\n${lines.join('\n')}`);
  }
  const cfg = result.data;
  cfg.tiers = { ...DEFAULT_TIERS, ...cfg.tiers };
  const problems = [...billingProblems(cfg.billing, Object.keys(cfg.tiers)), ...dashboardProblems(cfg)];
  if (problems.length > 0) throw new UsageError(`config: invalid configuration\n${problems.map(([k, m]) => `  ${k}: ${m}`).join('\n')}`);
  // Tracing keys left out of the file take the standard OTEL_* variables (read here, the only reader of the environment).
  const t = cfg.observability.tracing;
  const s = resolveTracing(t, env);
  cfg.observability.tracing = {
    ...t,
    enabled: tracingEnabled(t, env),
    endpoint: s.endpoint,
    headers: { ...s.headers },
    sample_ratio: s.sampleRatio,
    service_name: s.serviceName,
    resource_attributes: { ...s.resourceAttributes },
  };
  return deepFreeze(cfg);
}

/**
 * The credential `argus-sidecar mcp --stdio` acts with: `ARGUS_MCP_TOKEN` (a
 * JWT or an `ak_` key, sent as a bearer) or `ARGUS_MCP_API_KEY` (sent in the
 * API-key header). Undefined when neither is set; the token wins when both are.
 */
export function mcpCredential(env: NodeJS.ProcessEnv = process.env): { readonly token?: string; readonly api_key?: string } | undefined {
  const token = env['ARGUS_MCP_TOKEN'];
  if (token) return { token };
  const key = env['ARGUS_MCP_API_KEY'];
  return key ? { api_key: key } : undefined;
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
