/**
 * `observability.*` config: tracing (OpenTelemetry over OTLP/HTTP), the access
 * log and the auth event stream (docs/observability.md). Tracing keys left out of
 * the file take the standard `OTEL_*` environment variables, which `config.ts`
 * (the only reader of the environment) passes to {@link resolveTracing}.
 */
import { z } from 'zod';

const ratio = z.number().min(0).max(1);

export const tracingSchema = z
  .object({
    /** Off (the default): no OpenTelemetry module is loaded and trace headers pass through untouched. */
    enabled: z.boolean().default(false),
    /** OTLP/HTTP traces URL. Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces, else http://localhost:4318/v1/traces. */
    endpoint: z.string().url().optional(),
    /** Extra export request headers (e.g. an API key for a vendor). Default: OTEL_EXPORTER_OTLP_TRACES_HEADERS / OTEL_EXPORTER_OTLP_HEADERS. */
    headers: z.record(z.string(), z.string()).optional(),
    /** Head sampling of new traces (parent-based: a caller's sampled flag wins). Default: OTEL_TRACES_SAMPLER_ARG, else 1. */
    sample_ratio: ratio.optional(),
    /** Requests the sidecar refuses are sampled at this ratio too, whatever the head decision. */
    refused_ratio: ratio.default(1),
    /** Follow the caller's sampled flag (parent-based). Off: the sidecar's own ratio decides every trace (clients cannot force sampling). */
    parent_based: z.boolean().default(true),
    /** `service.name`. Default: OTEL_SERVICE_NAME, else argus-sidecar. */
    service_name: z.string().min(1).optional(),
    /** Extra resource attributes. Default: OTEL_RESOURCE_ATTRIBUTES (k=v,…). */
    resource_attributes: z.record(z.string(), z.string()).optional(),
    /** Spans are exported in batches this often. */
    export_interval_ms: z.number().int().min(10).max(60000).default(2000),
    /** Spans waiting for export at most; more are dropped (counted by the SDK, never blocking a request). */
    max_queue: z.number().int().min(16).max(100000).default(2048),
    /** One export request may take this long. */
    export_timeout_ms: z.number().int().positive().default(10000),
  })
  .strict();

export const accessLogSchema = z
  .object({
    /** off | sampled (`ratio` of requests) | refusals (only requests the sidecar refused). */
    mode: z.enum(['off', 'sampled', 'refusals']).default('off'),
    /** The share of requests logged in `sampled` mode. */
    ratio: ratio.default(1),
  })
  .strict();

export const authEventsSchema = z
  .object({
    /** Publish refusals, kill-switch closes, revocations and tier changes to a Redis Stream (needs `redis`). */
    enabled: z.boolean().default(false),
    /** Stream key, after `redis.key_prefix`. */
    stream: z.string().min(1).default('auth-events'),
    /** Approximate stream length cap (XADD MAXLEN ~): the oldest entries go first when the worker falls behind. */
    max_len: z.number().int().min(1000).default(100000),
    /** Events waiting in a sidecar for the next write at most; more are dropped and counted. */
    buffer: z.number().int().min(1).max(100000).default(1000),
  })
  .strict();

export const observabilitySchema = z
  .object({
    tracing: tracingSchema.default({}),
    access_log: accessLogSchema.default({}),
    auth_events: authEventsSchema.default({}),
  })
  .strict();

export type TracingConfig = z.infer<typeof tracingSchema>;
export type AccessLogConfig = z.infer<typeof accessLogSchema>;
export type AuthEventsConfig = z.infer<typeof authEventsSchema>;

/** Tracing settings with every default applied: what {@link createTracing} in ./tracing.ts takes. */
export interface TracingSettings {
  readonly endpoint: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly sampleRatio: number;
  readonly refusedRatio: number;
  readonly parentBased: boolean;
  readonly serviceName: string;
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly exportIntervalMs: number;
  readonly maxQueue: number;
  readonly exportTimeoutMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/** `k=v,k2=v2` (OTEL_*_HEADERS, OTEL_RESOURCE_ATTRIBUTES): values percent-decoded, malformed pairs skipped. */
export function parseKeyValues(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      /* kept as written */
    }
    if (key) out[key] = value;
  }
  return out;
}

/** The sampling ratio the standard variables ask for, if any (always_on/off, *traceidratio with an argument). */
function envRatio(env: Env): number | undefined {
  const sampler = env['OTEL_TRACES_SAMPLER'];
  if (sampler === 'always_off' || sampler === 'parentbased_always_off') return 0;
  if (sampler === 'always_on' || sampler === 'parentbased_always_on') return 1;
  const arg = env['OTEL_TRACES_SAMPLER_ARG'];
  if (arg === undefined || arg === '') return undefined;
  const n = Number(arg);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : undefined;
}

/** Tracing settings: the file's keys, else the `OTEL_*` variables in `env`, else the defaults. */
export function resolveTracing(t: TracingConfig, env: Env): TracingSettings {
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  const endpoint =
    t.endpoint ?? env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? (base ? `${base.replace(/\/$/, '')}/v1/traces` : 'http://localhost:4318/v1/traces');
  return {
    endpoint,
    headers: t.headers ?? { ...parseKeyValues(env['OTEL_EXPORTER_OTLP_HEADERS']), ...parseKeyValues(env['OTEL_EXPORTER_OTLP_TRACES_HEADERS']) },
    sampleRatio: t.sample_ratio ?? envRatio(env) ?? 1,
    refusedRatio: t.refused_ratio,
    parentBased: t.parent_based,
    serviceName: t.service_name ?? env['OTEL_SERVICE_NAME'] ?? 'argus-sidecar',
    resourceAttributes: t.resource_attributes ?? parseKeyValues(env['OTEL_RESOURCE_ATTRIBUTES']),
    exportIntervalMs: t.export_interval_ms,
    maxQueue: t.max_queue,
    exportTimeoutMs: t.export_timeout_ms,
  };
}

/** Tracing is on: the file says so and OTEL_SDK_DISABLED does not say otherwise. */
export function tracingEnabled(t: TracingConfig, env: Env): boolean {
  return t.enabled && env['OTEL_SDK_DISABLED'] !== 'true';
}
