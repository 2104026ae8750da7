/**
 * One request's place in a trace, as the pipeline sees it. Free of OpenTelemetry
 * at run time (type imports only): the SDK lives in ./tracing.ts, loaded with a
 * dynamic import only when tracing is on, so a sidecar without tracing loads
 * none of it and pays nothing.
 *
 * A request that is not sampled gets no span object: `span` stays undefined,
 * {@link RequestTrace.mark} is one property test, and ids are made only when
 * something reads them.
 */
import type { Attributes, Span } from '@opentelemetry/api';
import { formatTraceparent, newSpanId, type TraceParent } from './trace-context.js';

export class RequestTrace {
  /** The recording span, when this request is sampled (set by the tracer). */
  span: Span | undefined = undefined;
  private tid: string | undefined;
  private sid: string | undefined;

  constructor(
    /** The caller's trace id; undefined for a new trace (read from `header`). */
    traceId: string | undefined,
    /** The sidecar's span id when already chosen; else made on first use (see {@link spanId}). */
    spanId: string | undefined,
    /** The caller's span, when it sent a valid `traceparent`. */
    readonly parent: TraceParent | null,
    /** The caller's `tracestate`, validated (null: none or invalid). */
    readonly state: string | null,
    /** Head sampling decision. */
    readonly sampled: boolean,
    /** A `traceparent` ready to send while nothing is recorded: a new trace's, or the caller's (version 00). */
    private readonly header: string | undefined,
  ) {
    this.tid = traceId;
    this.sid = spanId;
  }

  /** The trace: the caller's, or new. */
  get traceId(): string {
    return (this.tid ??= this.header!.slice(3, 35));
  }

  /** The sidecar's span for this request. Made on first use: a request that is neither sampled nor refused never needs one. */
  get spanId(): string {
    return (this.sid ??= this.parent === null && this.header !== undefined ? this.header.slice(36, 52) : newSpanId());
  }

  /** Record a stage's timing as a span event (sampled requests only). `time`: performance.now() milliseconds, default now. */
  mark(name: string, attributes?: Attributes, time?: number): void {
    const span = this.span;
    if (span !== undefined) span.addEvent(name, attributes, time);
  }

  /**
   * The `traceparent` the upstream gets: this trace and the sidecar's span. A
   * request that is not sampled records nothing: it sends the new trace's header
   * as made, or passes the caller's version-00 `traceparent` on unchanged (W3C
   * Trace Context lets a participant leave parent-id and flags as they are,
   * "Mutating the traceparent field"), so the app's spans hang off the caller's.
   */
  traceparent(): string {
    if (this.span === undefined && this.header !== undefined) return this.header;
    return formatTraceparent(this.traceId, this.spanId, this.sampled);
  }
}

/** What a request ended as, for its span and the access log. */
export interface RequestSummary {
  readonly method: string;
  /** The matched route's pattern, or "unmatched". */
  readonly route: string;
  /** Normalised path, no query (a query may carry a credential). */
  readonly path: string;
  readonly status: number;
  /** The sidecar's refusal code (`ARGUS_*`), when it refused. */
  readonly code: string | undefined;
  readonly userId: string | undefined;
  readonly keyId: string | undefined;
  readonly authKind: string | undefined;
  readonly tier: string | undefined;
  readonly clientAddress: string;
  /** performance.now() milliseconds. */
  readonly startedAt: number;
  readonly endedAt: number;
}

/** The tracer the pipeline holds (src/observe/tracing.ts implements it). */
export interface RequestTracer {
  /** A request arrived: read its trace context (headers flat [lower-case name, value, …]), decide sampling, maybe start its span. */
  begin(headers: readonly string[], startTime: number): RequestTrace;
  /** Append `traceparent` (and `tracestate`) for the upstream to a flat header list. */
  propagate(trace: RequestTrace, out: string[]): void;
  /**
   * The same as a list of its own, for the h1 client's `checked` headers: every
   * part is the sidecar's own or validated on the way in, so the client does not
   * scan it again character by character.
   */
  headers(trace: RequestTrace): string[];
  /** End the request's span (a refused request not head-sampled is sampled here at `refused_ratio`). */
  finish(trace: RequestTrace, summary: RequestSummary): void;
}
