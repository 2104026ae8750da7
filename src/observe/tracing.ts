/**
 * OpenTelemetry tracing: one TracerProvider per process (or worker thread) with
 * a batch span processor and the OTLP/HTTP exporter (JSON). Any process can use
 * it: the proxy (a server span per request, {@link Tracing.requests}), the
 * billing worker (a span per batch), the control plane. Load it with a dynamic
 * `import()` only when `observability.tracing.enabled` (see
 * `src/observe/tracing-loader.ts`): a process without tracing loads no OpenTelemetry code.
 *
 * Sampling is decided before any span exists (parent-based ratio on the trace
 * id, src/observe/trace-context.ts), so a request that is not sampled costs a
 * header scan and the caller's `traceparent` validated (or one pooled id),
 * never an SDK call. The SDK runs with AlwaysOn; the span and trace ids are
 * handed to it through {@link PresetIds}, so the span exported is the one named
 * in the upstream's `traceparent`.
 *
 * Export never blocks a request: the processor's queue is bounded (`max_queue`),
 * overflow is dropped by the SDK, and an unreachable collector only fails exports.
 */
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Link, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, RandomIdGenerator, type IdGenerator } from '@opentelemetry/sdk-trace-base';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import { RequestTrace, type RequestSummary, type RequestTracer } from './request-trace.js';
import { incomingTrace, lastTraceWord, newSpanId, newTraceparent, sampledByRatio, sampledWord } from './trace-context.js';
import type { TracingSettings } from './schema.js';

/** The SDK's id generator, except that the next ids can be set by the caller (the ids already sent upstream). */
class PresetIds implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  nextTrace: string | undefined;
  nextSpan: string | undefined;
  generateTraceId(): string {
    const t = this.nextTrace;
    this.nextTrace = undefined;
    return t ?? this.random.generateTraceId();
  }
  generateSpanId(): string {
    const s = this.nextSpan;
    this.nextSpan = undefined;
    return s ?? this.random.generateSpanId();
  }
}

export interface Tracing {
  /** For spans of this process's own work (a worker batch, a control-plane call). */
  readonly tracer: Tracer;
  /** The proxy's per-request tracer. */
  readonly requests: RequestTracer;
  /** A span with the given ids (trace, span) and optional remote parent: used for spans whose ids were chosen before. */
  startSpanWithIds(
    name: string,
    ids: { traceId: string; spanId: string; parent?: SpanContext },
    opts: { kind?: SpanKind; startTime?: number; attributes?: Attributes; links?: Link[] },
  ): Span;
  /** Export what is queued now. */
  flush(): Promise<void>;
  /** Export what is queued, then stop. Idempotent. */
  close(): Promise<void>;
}

/** Build the provider and exporter. `instanceId`: `service.instance.id` (a sidecar id, pod name). */
export function createTracing(s: TracingSettings, opts: { instanceId: string; version?: string }): Tracing {
  const ids = new PresetIds();
  const exporter = new OTLPTraceExporter({ url: s.endpoint, headers: { ...s.headers }, timeoutMillis: s.exportTimeoutMs });
  const processor = new BatchSpanProcessor(exporter, {
    maxQueueSize: s.maxQueue,
    maxExportBatchSize: Math.min(512, s.maxQueue),
    scheduledDelayMillis: s.exportIntervalMs,
    exportTimeoutMillis: s.exportTimeoutMs,
  });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ ...s.resourceAttributes, [ATTR_SERVICE_NAME]: s.serviceName, 'service.instance.id': opts.instanceId }),
    sampler: new AlwaysOnSampler(),
    idGenerator: ids,
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('argus-sidecar', opts.version);

  function startSpanWithIds(
    name: string,
    want: { traceId: string; spanId: string; parent?: SpanContext },
    o: { kind?: SpanKind; startTime?: number; attributes?: Attributes; links?: Link[] },
  ): Span {
    ids.nextTrace = want.traceId;
    ids.nextSpan = want.spanId;
    const ctx = want.parent ? trace.setSpanContext(context.active(), want.parent) : context.active();
    const span = tracer.startSpan(name, { ...o, root: want.parent === undefined }, ctx);
    ids.nextTrace = ids.nextSpan = undefined;
    return span;
  }

  const requests = createRequestTracer(s, startSpanWithIds);
  let closing: Promise<void> | undefined;
  return {
    tracer,
    requests,
    startSpanWithIds,
    flush: () => provider.forceFlush(),
    close: () => (closing ??= provider.shutdown().catch(() => undefined)),
  };
}

type StartWithIds = Tracing['startSpanWithIds'];

function createRequestTracer(s: TracingSettings, start: StartWithIds): RequestTracer {
  const { sampleRatio, refusedRatio, parentBased } = s;

  function open(t: RequestTrace, startTime: number): Span {
    const p = t.parent;
    const parent: SpanContext | undefined = p
      ? { traceId: p.traceId, spanId: p.spanId, traceFlags: p.flags & 1, isRemote: true, ...(t.state ? { traceState: new TraceState(t.state) } : {}) }
      : undefined;
    return start('HTTP', { traceId: t.traceId, spanId: t.spanId, ...(parent ? { parent } : {}) }, { kind: SpanKind.SERVER, startTime });
  }

  return {
    begin(headers, startTime) {
      const incoming = incomingTrace(headers);
      const p = incoming.parent;
      let t: RequestTrace;
      if (p) {
        const sampled = parentBased ? (p.flags & 1) === 1 : sampleRatio >= 1 || (sampleRatio > 0 && sampledByRatio(p.traceId, sampleRatio));
        // Unsampled: no id is made or cut; the caller's header goes on as it came (version 00),
        // and the trace id is read from it only if something asks (a refusal's span, the access log).
        const passOn = sampled ? undefined : (p.header ?? undefined);
        t = new RequestTrace(passOn === undefined ? p.traceId : undefined, sampled ? newSpanId() : undefined, p, incoming.state, sampled, passOn);
      } else {
        const header = newTraceparent();
        const sampled = sampleRatio >= 1 || (sampleRatio > 0 && sampledWord(lastTraceWord(), sampleRatio));
        t = new RequestTrace(undefined, undefined, null, null, sampled, header);
      }
      if (t.sampled) t.span = open(t, startTime);
      return t;
    },
    propagate(t, out) {
      out.push(...traceHeaders(t));
    },
    headers: traceHeaders,
    finish(t, r) {
      let span = t.span;
      if (span === undefined) {
        // Refusals get their own ratio: "who was refused and why" is worth more traces than a 200.
        if (r.code === undefined || refusedRatio <= 0 || Math.random() >= refusedRatio) return;
        span = t.span = open(t, r.startedAt);
      }
      span.updateName(`${r.method} ${r.route}`);
      span.setAttributes(attributesOf(r));
      if (r.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, ...(r.code ? { message: r.code } : {}) });
      span.end(r.endedAt);
    },
  };
}

/** `traceparent` (and `tracestate`) for the upstream, flat [name, value, …]. */
function traceHeaders(t: RequestTrace): string[] {
  return t.state === null ? ['traceparent', t.traceparent()] : ['traceparent', t.traceparent(), 'tracestate', t.state];
}

/** HTTP server semantic conventions plus argus.*; never a credential (only ids the operator issued). */
function attributesOf(r: RequestSummary): Attributes {
  const a: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: r.method,
    [ATTR_HTTP_ROUTE]: r.route,
    [ATTR_URL_PATH]: r.path,
    [ATTR_HTTP_RESPONSE_STATUS_CODE]: r.status,
    [ATTR_CLIENT_ADDRESS]: r.clientAddress,
    'argus.route': r.route,
  };
  if (r.code !== undefined) {
    a['argus.decision'] = r.code;
    a[ATTR_ERROR_TYPE] = r.code;
  } else {
    a['argus.decision'] = 'allowed';
    if (r.status >= 500) a[ATTR_ERROR_TYPE] = String(r.status);
  }
  if (r.authKind !== undefined) a['argus.auth.kind'] = r.authKind;
  if (r.tier !== undefined) a['argus.tier'] = r.tier;
  if (r.userId !== undefined) a['enduser.id'] = r.userId;
  if (r.keyId !== undefined) a['argus.key_id'] = r.keyId;
  return a;
}
