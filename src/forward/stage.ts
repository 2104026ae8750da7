/**
 * Stage 6: forward. Client identity headers stripped and the trusted ones set,
 * the body streamed to the upstream through the h1 pool, the response relayed
 * as it arrives. Routes of an extension that prepares requests (reads the body,
 * checks, reserves) go through its `prepare` first (src/extensions/contract.ts).
 */
import type { Denial } from '../errors.js';
import type { ExtensionRuntime, PreparedRequest } from '../extensions/contract.js';
import type { Exchange } from '../request/exchange.js';
import type { AuthContext } from '../request/principal.js';
import type { CompiledRoute, RouteConfig } from '../request/route.js';
import { afterParse } from '../server/after-parse.js';
import type { ServerConfig } from '../server/schema.js';
import type { TrustedHeaders } from './h1/exchange.js';
import { upstreamRequestHeaders } from './headers.js';
import { UpstreamRelay, USAGE_HEADER, type RelayFailure, type RelayOptions } from './relay.js';
import { stripSet } from './strip.js';
import type { Upstream } from './upstream.js';
import type { RequestObserver } from '../observe/request-observer.js';

export interface ForwardDeps {
  readonly server: ServerConfig;
  readonly routes: readonly RouteConfig[];
  readonly upstream: Upstream;
  /** The identity headers for the upstream (authorize/identity.ts), built once per context. */
  readonly identity: (ctx: AuthContext | null, opts?: { stale?: boolean }) => TrustedHeaders;
  /** The running extensions each route uses, by route index. */
  readonly extensions: readonly (readonly ExtensionRuntime[])[];
  readonly onUpstreamFailure: (kind: RelayFailure, err: Error) => void;
  readonly refuse: (ex: Exchange, denial: Denial) => void;
  readonly internalError: (ex: Exchange, err: unknown) => void;
  /** Tracing: the client's trace headers are replaced by the sidecar's `traceparent`. */
  readonly observe?: RequestObserver | undefined;
}

/** `preparers`: per route, the extension that prepares its requests, if any. */
export function createForwardStage(deps: ForwardDeps) {
  const { upstream, onUpstreamFailure, refuse, internalError } = deps;
  const tracer = deps.observe?.tracer;
  // With tracing on, the client's trace headers never reach the upstream as sent (W3C Trace Context; src/observe/trace-context.ts).
  const traceHeaders = tracer ? TRACE_HEADERS : [];
  const strip = deps.routes.map((r) => stripSet(deps.server, [...r.strip_request_headers, ...traceHeaders]));
  const preparers = deps.routes.map((_r, i) => deps.extensions[i]?.find((e) => e.prepare !== undefined));

  /** Headers rewritten, body streamed, response relayed as it arrives. */
  function forward(ex: Exchange, route: CompiledRoute, ctx: AuthContext | null): void {
    const preparer = preparers[route.index];
    if (preparer) return forwardPrepared(ex, route, ctx, preparer);
    const head = ex.head;
    const headers = upstreamRequestHeaders(head.headers, {
      clientAddress: head.remoteAddress,
      proto: 'http',
      requestId: head.requestId,
      trustForwarded: deps.server.trust_forwarded,
      strip: strip[route.index]!,
    });
    const checked = tracer && ex.trace ? tracer.headers(ex.trace) : undefined;
    const trusted = deps.identity(ctx, ex.stale ? STALE : undefined);
    const body = ex.body;
    const relay = new UpstreamRelay(ex, onUpstreamFailure, usageHeaderOptions);
    const path = head.query ? `${head.path}?${head.query}` : head.path;
    const bodyTimeoutMs = route.cfg.body_timeout_ms;
    const send = () => {
      if (ex.aborted || ex.started) return;
      ex.trace?.mark('upstream.request');
      upstream.forward({ method: head.method, path, headers, trusted, checked, body: body ? (body.whole() ?? body.toStream()) : null, bodyTimeoutMs }, relay);
    };
    // A small body that is still arriving is awaited, so it goes out as one Buffer.
    // Sent from the check phase either way: a request pipelined behind it must be able to abort it first (src/server/after-parse.ts).
    const pending = body?.settled();
    if (pending)
      pending.then(
        () => afterParse(send),
        (err: unknown) => internalError(ex, err),
      );
    else afterParse(send);
  }

  // 6b. Routes of an extension that prepares requests: the body is read (bounded) and checked first, the response relayed with its options.
  function forwardPrepared(ex: Exchange, route: CompiledRoute, ctx: AuthContext | null, ext: ExtensionRuntime): void {
    // From the check phase, like forward(): a request pipelined behind this one aborts it first.
    ext.prepare!(ex, route, ctx).then(
      (prepared) =>
        afterParse(() => {
          if (ex.aborted) {
            if (!('code' in prepared)) prepared.release();
            return;
          }
          if ('code' in prepared) return refuse(ex, prepared);
          sendPrepared(ex, route, ctx, prepared);
        }),
      (err: unknown) => internalError(ex, err),
    );
  }

  function sendPrepared(ex: Exchange, route: CompiledRoute, ctx: AuthContext | null, prepared: PreparedRequest): void {
    const head = ex.head;
    const headers = upstreamRequestHeaders(prepared.clientHeaders(head.headers), {
      clientAddress: head.remoteAddress,
      proto: 'http',
      requestId: head.requestId,
      trustForwarded: deps.server.trust_forwarded,
      strip: strip[route.index]!,
    });
    headers.push(...prepared.extraHeaders);
    ex.trace?.mark('upstream.request');
    const relay = new UpstreamRelay(ex, onUpstreamFailure, prepared.relayOptions());
    upstream.forward(
      {
        method: head.method,
        path: head.query ? `${head.path}?${head.query}` : head.path,
        headers,
        trusted: deps.identity(ctx, ex.stale ? STALE : undefined),
        checked: tracer && ex.trace ? tracer.headers(ex.trace) : undefined,
        body: Buffer.from(prepared.body.buffer, prepared.body.byteOffset, prepared.body.byteLength),
        ...(route.cfg.body_timeout_ms !== undefined ? { bodyTimeoutMs: route.cfg.body_timeout_ms } : {}),
      },
      relay,
    );
  }

  return forward;
}

const STALE = { stale: true };
const TRACE_HEADERS = ['traceparent', 'tracestate'];

/** Upstreams report their own usage in `x-argus-usage`: consumed by metering, never passed to the client. */
const usageHeaderOptions: RelayOptions = { stripHeaders: new Set([USAGE_HEADER]) };
