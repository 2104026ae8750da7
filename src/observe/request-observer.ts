/**
 * What the pipeline tells observability about a request: its start (trace
 * context, maybe a span), each refusal (an auth event for 401, 403 and 429),
 * its end (the span's attributes and end, the access log line) and kill-switch
 * WebSocket closes. One object, built once per proxy thread; undefined when
 * tracing, the access log and auth events are all off, so the pipeline's
 * `obs?.…` calls cost nothing then.
 */
import type { AuthContext } from '../request/principal.js';
import type { AccessLog } from './access-log.js';
import type { AuthEventSink } from './auth-events.js';
import type { RequestTrace, RequestTracer } from './request-trace.js';

/** The request facts the observer reads (a structural slice of the exchange). */
export interface ObservedRequest {
  readonly head: {
    readonly method: string;
    readonly path: string;
    readonly headers: readonly string[];
    readonly remoteAddress: string;
    readonly requestId: string;
  };
  readonly startedAt: number;
  readonly routeLabel: string;
  readonly ctx: AuthContext | null;
  readonly status: number;
  readonly bytesOut: number;
  readonly body?: { readonly received: number } | undefined;
  /** The sidecar's refusal code, when it refused. */
  readonly code: string | undefined;
  trace: RequestTrace | undefined;
}

/** Statuses whose refusals are auth decisions (published as auth events). */
const AUTH_STATUSES = new Set([401, 403, 429]);

export interface RequestObserver {
  /** The request tracer, when tracing is on (forwarders append its headers). */
  readonly tracer: RequestTracer | undefined;
  /** A request arrived: read its trace context. */
  begin(r: ObservedRequest): void;
  /** The sidecar refused it (`ctx`: the caller, when known). */
  refused(r: ObservedRequest, code: string, status: number, ctx: AuthContext | null): void;
  /** The response ended (or the client left); `status` as the metrics count it. */
  finish(r: ObservedRequest, status: number, endedAt: number): void;
  /** A WebSocket session was closed by the kill switch (4403: revoked). */
  killSwitchClose(ctx: AuthContext, route: string, requestId: string, code: number): void;
}

export function createRequestObserver(o: {
  tracer?: RequestTracer | undefined;
  accessLog?: AccessLog | undefined;
  authEvents?: AuthEventSink | undefined;
}): RequestObserver | undefined {
  const { tracer, accessLog, authEvents } = o;
  if (!tracer && !accessLog && !authEvents) return undefined;
  return {
    tracer,
    begin(r) {
      if (tracer) r.trace = tracer.begin(r.head.headers, r.startedAt);
    },
    refused(r, code, status, ctx) {
      if (!authEvents || !AUTH_STATUSES.has(status)) return;
      const trace = r.trace;
      authEvents.emit({
        kind: 'refusal',
        code,
        status,
        route: r.routeLabel,
        request_id: r.head.requestId,
        ...(ctx ? credentialOf(ctx) : {}),
        ...(trace ? { trace_id: trace.traceId, span_id: trace.spanId } : {}),
      });
    },
    finish(r, status, endedAt) {
      const trace = r.trace;
      const ctx = r.ctx;
      // Not sampled and not refused: the span's summary is not even built (the hot path of tracing at ratio 0).
      if (trace && tracer && (trace.span !== undefined || r.code !== undefined)) {
        tracer.finish(trace, {
          method: r.head.method,
          route: r.routeLabel,
          path: r.head.path,
          status,
          code: r.code,
          userId: ctx?.user_id,
          keyId: ctx?.key_id,
          authKind: ctx?.method,
          tier: ctx?.tier,
          clientAddress: r.head.remoteAddress,
          startedAt: r.startedAt,
          endedAt,
        });
      }
      accessLog?.({
        requestId: r.head.requestId,
        traceId: trace?.traceId,
        method: r.head.method,
        route: r.routeLabel,
        path: r.head.path,
        status,
        code: r.code,
        userId: ctx?.user_id,
        keyId: ctx?.key_id,
        latencyMs: endedAt - r.startedAt,
        bytesIn: r.body?.received ?? 0,
        bytesOut: r.bytesOut,
      });
    },
    killSwitchClose(ctx, route, requestId, code) {
      authEvents?.emit({ kind: 'ws_close', code: `WS_${code}`, route, request_id: requestId, ...credentialOf(ctx) });
    },
  };
}

/** Who, by ids only: the user, and the credential's id (API key id, else session id). */
function credentialOf(ctx: AuthContext): { user_id: string; credential_id?: string; credential_kind?: string } {
  if (ctx.key_id !== undefined) return { user_id: ctx.user_id, credential_id: ctx.key_id, credential_kind: 'key' };
  if (ctx.session_id !== undefined) return { user_id: ctx.user_id, credential_id: ctx.session_id, credential_kind: ctx.method === 'jwt' ? 'jwt' : 'session' };
  return { user_id: ctx.user_id, credential_kind: ctx.method };
}
