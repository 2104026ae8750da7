/**
 * The data path, top to bottom — read this file first.
 *
 *   uWS request ─► hygiene ─► route match ─► authenticate ─► authorize ─► rate limit
 *       ─► forward (h1 client, streamed both ways) ─► respond ─► meter (async, off the response path)
 *
 * Each stage returns a value (ok, or a Denial with a stable code); only bugs and
 * infrastructure faults throw. Cheap checks come first; side effects (tokens taken,
 * usage recorded) happen only after every earlier stage passed.
 */
import type { AuthContext } from './authenticate/context.js';
import type { Config } from './config.js';
import { deny, statusOf, type Denial } from './errors.js';
import { upstreamRequestHeaders } from './forward/headers.js';
import { UpstreamRelay, USAGE_HEADER, type RelayFailure, type RelayOptions } from './forward/relay.js';
import type { Upstream } from './forward/upstream.js';
import type { TrustedHeaders } from './forward/h1/exchange.js';
import type { Logger } from './observe/log.js';
import type { Metrics } from './observe/metrics.js';
import { compileRoutes, type CompiledRoute } from './routes.js';
import { RequestBody } from './server/body.js';
import type { DurableGate, Exchange } from './server/exchange.js';
import { checkHygiene, hasBody, type HeaderStats } from './server/hygiene.js';
import { afterParse } from './server/after-parse.js';
import { allowedHostSet, checkHost } from './server/host.js';
import { normalisePath } from './server/path.js';
import { stripSet } from './forward/strip.js';
import type { UpgradeInfo } from './server/http.js';
import { createWebSocketOpener } from './forward/open-websocket.js';
import { checkHandshake, checkOrigin, refusePlainRequest } from './forward/ws-handshake.js';
import type { WsSession } from './forward/websocket.js';
import type { GateFactory } from './forward/ws-gates.js';
import type { RouteLlmConfig } from './llm/schema.js';
import type { LlmStage } from './llm/stage.js';
import { createCorsStage } from './cors/stage.js';
import type { RequestObserver } from './observe/request-observer.js';

/** authenticate: who is calling (sync on a cache hit). */
export type AuthOutcome = { readonly ok: true; readonly ctx: AuthContext | null; readonly stale?: boolean } | { readonly ok: false; readonly denial: Denial };
export interface AuthStage {
  authenticate(head: Exchange['head'], route: CompiledRoute['cfg']): AuthOutcome | Promise<AuthOutcome>;
}
/** authorize: may this caller use this route. */
export type AuthorizeStage = (ctx: AuthContext | null, route: CompiledRoute['cfg']) => Denial | null;
/** rate limit: take a token, or say when to come back. Extra headers go on every response. */
export type LimitOutcome = { ok: true; headers?: ReadonlyArray<string | Uint8Array> } | { ok: false; denial: Denial };
export type RateLimitStage = (ctx: AuthContext, route: CompiledRoute) => LimitOutcome | Promise<LimitOutcome>;
/** meter: record what was served, after the response (never on its critical path). */
export type MeterStage = (ex: Exchange, route: CompiledRoute, ctx: AuthContext | null) => void;

export interface PipelineDeps {
  readonly cfg: Readonly<Config>;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly upstream: Upstream;
  readonly now: () => number;
  readonly authenticate: AuthStage;
  readonly authorize: AuthorizeStage;
  /** The identity headers for the upstream (authorize/identity.ts), built once per context. */
  readonly identity: (ctx: AuthContext | null, opts?: { stale?: boolean }) => TrustedHeaders;
  /** Phased rollout: false when this route (mode shadow / enforce_percent) should not enforce for `subject`. */
  readonly shouldEnforce: (route: CompiledRoute['cfg'], subject: string) => boolean;
  readonly rateLimit?: RateLimitStage;
  readonly meter?: MeterStage;
  /** Metering: responses' last bytes wait for their usage to be spooled (src/meter/durable.ts). */
  readonly durable?: DurableGate;
  /** LLM routes: model entitlements, token budgets, usage metering. */
  readonly llm?: LlmStage;
  /** Open WebSocket sessions (closed with 1001 on drain, 4403 on revocation). */
  readonly sessions: Set<WsSession>;
  readonly heartbeats: { watch(s: WsSession): void };
  readonly gateFor?: GateFactory;
  /** Fail-closed dependencies of trading routes (Redis) are reachable now. */
  readonly tradingReady: () => boolean;
  /** Tracing, access log, auth events (src/observe/request-observer.ts); absent when all are off. */
  readonly observe?: RequestObserver | undefined;
}

export function createPipeline(deps: PipelineDeps) {
  const { cfg, metrics, upstream } = deps;
  const obs = deps.observe;
  const tracer = obs?.tracer;
  const matchRoute = compileRoutes(cfg.routes);
  const cors = createCorsStage(matchRoute);
  const limits = {
    maxHeaderBytes: cfg.server.max_header_bytes,
    maxHeaders: cfg.server.max_headers,
    maxBodyBytes: cfg.server.max_body_bytes,
    chunkedBodies: cfg.server.chunked_request_bodies,
  };
  const pathOptions = { mergeSlashes: cfg.server.merge_slashes };
  const allowedHosts = allowedHostSet(cfg.server.allowed_hosts);
  // With tracing on, the client's trace headers are replaced by the sidecar's (W3C Trace Context; src/observe/trace-context.ts).
  const traceHeaders = tracer ? TRACE_HEADERS : [];
  const strip = cfg.routes.map((r) => stripSet(cfg.server.strip_request_headers, [...r.strip_request_headers, ...traceHeaders]));
  const onUpstreamFailure = (kind: RelayFailure, err: Error) => {
    metrics.upstreamErrors.labels(kind).inc();
    deps.log.warn('upstream request failed', { kind, err });
  };

  function handle(ex: Exchange, stats: HeaderStats): void {
    const route = hygieneAndRoute(ex, stats, false);
    if (!route) return;

    // The body must be claimed now (uWS delivers it only to handlers registered
    // synchronously); it buffers a little, then pauses the socket until forwarded.
    if (hasBody(stats)) {
      const maxBody = route.cfg.max_body_bytes ?? cfg.server.max_body_bytes;
      if (stats.contentLength !== undefined && Number(stats.contentLength) > maxBody) {
        return refuse(ex, deny('ARGUS_PAYLOAD_TOO_LARGE', `request body exceeds ${maxBody} bytes`), true);
      }
      ex.body = new RequestBody(ex.res, maxBody, () => refuse(ex, deny('ARGUS_PAYLOAD_TOO_LARGE', `request body exceeds ${maxBody} bytes`), true));
    }

    admit(ex, route, forward);
  }

  /** A WebSocket upgrade: the same checks, then the upstream socket instead of a request. */
  function upgrade(ex: Exchange, stats: HeaderStats, up: UpgradeInfo): void {
    const route = hygieneAndRoute(ex, stats, true);
    if (!route) return;
    // Trading fails closed: no new session while its dependencies are down, whatever the auth cache holds.
    if (route.cfg.trading && !deps.tradingReady()) return refuse(ex, deny('ARGUS_DEPENDENCY_UNAVAILABLE', 'trading is unavailable: a dependency is down'));
    admit(ex, route, (e, r, ctx) => websockets.open(e, r, ctx, up));
  }

  // 1–2. Hygiene (ambiguous framing or oversized heads go no further), then the
  // first matching route. Refuses and returns undefined when either fails.
  function hygieneAndRoute(ex: Exchange, stats: HeaderStats, websocket: boolean): CompiledRoute | undefined {
    ex.onDone = finished;
    if (deps.durable) ex.durable = deps.durable;
    obs?.begin(ex);
    const bad = checkHygiene(stats, limits) ?? checkHost(stats.hosts, stats.host, allowedHosts);
    if (bad) return void refuse(ex, bad, true);
    // One normalised path is matched, metered and forwarded (src/server/path.ts).
    const path = normalisePath(ex.head.path, pathOptions);
    if (typeof path !== 'string') return void refuse(ex, path, true);
    ex.head.path = path;
    // A CORS preflight for a route with `cors:` is answered here, before authentication.
    const preflight = websocket ? null : cors.preflight(ex);
    if (preflight === true) return undefined;
    if (preflight) return void refuse(ex, preflight);
    const match = matchRoute(ex.head.method, path);
    const route = match.route;
    if (!route)
      return void refuse(
        ex,
        match.methodMismatch
          ? deny('ARGUS_METHOD_NOT_ALLOWED', `${ex.head.method} is not allowed here`, [['allow', match.allow!]])
          : deny('ARGUS_NOT_FOUND', 'no route matches this path'),
      );
    ex.head.path = route.caseInsensitive ? path.toLowerCase() : path;
    if (websocket && !route.cfg.websocket) return void refuse(ex, deny('ARGUS_NOT_FOUND', 'no WebSocket route matches this path'));
    // WebSocket routes: a valid RFC 6455 handshake from an allowed Origin, or nothing reaches the upstream.
    if (route.cfg.websocket) {
      const bad = websocket ? (checkHandshake(ex.head) ?? checkOrigin(ex.head, route.cfg.websocket)) : refusePlainRequest(ex.head);
      if (bad) return void refuse(ex, bad, statusOf(bad.code) === 400 || hasBody(stats));
    }
    ex.route = route;
    ex.routeLabel = route.label;
    ex.trace?.mark('route');
    cors.decorate(ex, route);
    return route;
  }

  type Next = (ex: Exchange, route: CompiledRoute, ctx: AuthContext | null) => void;

  // 3. Authenticate (synchronous on a cache hit), then 4–5, then `next`.
  function admit(ex: Exchange, route: CompiledRoute, next: Next): void {
    const outcome = deps.authenticate.authenticate(ex.head, route.cfg);
    if (outcome instanceof Promise) {
      outcome.then(
        (o) => {
          ex.trace?.mark('authenticate', CACHE_MISS);
          afterAuthenticate(ex, route, o, next);
        },
        (err: unknown) => internalError(ex, err),
      );
    } else {
      ex.trace?.mark('authenticate', CACHE_HIT);
      afterAuthenticate(ex, route, outcome, next);
    }
  }

  function afterAuthenticate(ex: Exchange, route: CompiledRoute, outcome: AuthOutcome, next: Next): void {
    if (ex.aborted) return;
    const ctx = outcome.ok ? outcome.ctx : null;
    // 4. Authorize: tier, features, scopes, role.
    const denial = outcome.ok ? deps.authorize(ctx, route.cfg) : outcome.denial;
    ex.trace?.mark('authorize');
    if (denial) {
      // Phased migration: a shadow (or not-yet-enforced) route records the decision and forwards anyway, as anonymous.
      if (route.cfg.mode === 'shadow' || route.cfg.enforce_percent < 100) {
        const subject = ctx?.user_id ?? ex.head.remoteAddress;
        if (!deps.shouldEnforce(route.cfg, subject)) {
          metrics.shadowDecisions.labels(route.label, denial.code).inc();
          deps.log.info('shadow: would refuse', { route: route.label, code: denial.code, request_id: ex.head.requestId });
          return next(ex, route, null);
        }
      }
      return refuse(ex, denial, false, ctx);
    }
    ex.ctx = ctx;
    ex.stale = outcome.ok && outcome.stale === true;

    // 5. Rate limit: only callers that passed everything above take a token.
    if (deps.rateLimit && ctx) {
      const limited = deps.rateLimit(ctx, route);
      if (limited instanceof Promise) {
        limited.then(
          (l) => afterRateLimit(ex, route, ctx, l, next),
          (err: unknown) => internalError(ex, err),
        );
        return;
      }
      return afterRateLimit(ex, route, ctx, limited, next);
    }
    next(ex, route, ctx);
  }

  function afterRateLimit(ex: Exchange, route: CompiledRoute, ctx: AuthContext, outcome: LimitOutcome, next: Next): void {
    if (ex.aborted) return;
    ex.trace?.mark('rate_limit');
    if (!outcome.ok) return refuse(ex, outcome.denial, false, ctx);
    if (outcome.headers) ex.responseHeaders = outcome.headers;
    next(ex, route, ctx);
  }

  // 6. Forward: headers rewritten, body streamed, response relayed as it arrives.
  function forward(ex: Exchange, route: CompiledRoute, ctx: AuthContext | null): void {
    if (route.cfg.llm && deps.llm) return forwardLlm(ex, route, ctx, route.cfg.llm, deps.llm);
    const head = ex.head;
    const headers = upstreamRequestHeaders(head.headers, {
      clientAddress: head.remoteAddress,
      proto: 'http',
      requestId: head.requestId,
      trustForwarded: cfg.server.trust_forwarded,
      strip: strip[route.index]!,
    });
    if (tracer && ex.trace) tracer.propagate(ex.trace, headers);
    const trusted = deps.identity(ctx, ex.stale ? STALE : undefined);
    const body = ex.body;
    const relay = new UpstreamRelay(ex, onUpstreamFailure, usageHeaderOptions);
    const path = head.query ? `${head.path}?${head.query}` : head.path;
    const bodyTimeoutMs = route.cfg.body_timeout_ms;
    const send = () => {
      if (ex.aborted || ex.started) return;
      ex.trace?.mark('upstream.request');
      upstream.forward({ method: head.method, path, headers, trusted, body: body ? (body.whole() ?? body.toStream()) : null, bodyTimeoutMs }, relay);
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

  // 6b. LLM routes: the body is read (bounded) for the model and budget, the response is metered as it streams.
  function forwardLlm(ex: Exchange, route: CompiledRoute, ctx: AuthContext | null, llmRoute: RouteLlmConfig, llm: LlmStage): void {
    // From the check phase, like forward(): a request pipelined behind this one aborts it first.
    llm.prepare(ex, llmRoute, ctx).then(
      (prepared) =>
        afterParse(() => {
          if (ex.aborted) {
            if (!('code' in prepared)) llm.release(prepared);
            return;
          }
          if ('code' in prepared) return refuse(ex, prepared);
          const head = ex.head;
          const headers = upstreamRequestHeaders(stripLlmRequestHeaders(head.headers), {
            clientAddress: head.remoteAddress,
            proto: 'http',
            requestId: head.requestId,
            trustForwarded: cfg.server.trust_forwarded,
            strip: strip[route.index]!,
          });
          // Compressed responses cannot be read for usage.
          headers.push('accept-encoding', 'identity');
          if (tracer && ex.trace) tracer.propagate(ex.trace, headers);
          ex.trace?.mark('upstream.request');
          const relay = new UpstreamRelay(ex, onUpstreamFailure, llm.relayOptions(ex, ctx, prepared));
          upstream.forward(
            {
              method: head.method,
              path: head.query ? `${head.path}?${head.query}` : head.path,
              headers,
              trusted: deps.identity(ctx, ex.stale ? STALE : undefined),
              body: Buffer.from(prepared.body.buffer, prepared.body.byteOffset, prepared.body.byteLength),
              ...(route.cfg.body_timeout_ms !== undefined ? { bodyTimeoutMs: route.cfg.body_timeout_ms } : {}),
            },
            relay,
          );
        }),
      (err: unknown) => internalError(ex, err),
    );
  }

  // 7. After the response: metrics, then metering (async, never on the response path).
  function finished(ex: Exchange): void {
    // 499: the client went away before any response (nginx's convention).
    const status = ex.aborted && !ex.started ? 499 : ex.status;
    const ended = deps.now();
    metrics.observeRequest(ex.routeLabel, ex.head.method, status, (ended - ex.startedAt) / 1000);
    if (ex.route && deps.meter && !ex.denied && !ex.metered) {
      deps.meter(ex, ex.route, ex.ctx);
      ex.trace?.mark('meter');
    }
    obs?.finish(ex, status, ended);
  }

  function refuse(ex: Exchange, denial: Denial, close = false, ctx: AuthContext | null = null): void {
    metrics.rejected(denial.code).n++;
    ex.denied = true;
    ex.code = denial.code;
    obs?.refused(ex, denial.code, statusOf(denial.code), ctx);
    ex.replyError(denial, close);
  }

  function internalError(ex: Exchange, err: unknown): void {
    deps.log.error('request failed', { err: err as Error, request_id: ex.head.requestId });
    ex.code = 'ARGUS_INTERNAL';
    ex.replyError(deny('ARGUS_INTERNAL', 'internal error'));
  }

  const websockets = createWebSocketOpener({
    cfg,
    log: deps.log,
    metrics,
    identity: deps.identity,
    sessions: deps.sessions,
    heartbeats: deps.heartbeats,
    ...(deps.gateFor ? { gateFor: deps.gateFor } : {}),
    ...(obs ? { observe: obs } : {}),
    onFailure: (kind, err) => onUpstreamFailure(kind, err),
  });

  return { handle, upgrade };
}

const STALE = { stale: true };
const TRACE_HEADERS = ['traceparent', 'tracestate'];
const CACHE_HIT = { 'argus.auth.cache': 'hit' };
const CACHE_MISS = { 'argus.auth.cache': 'miss' };

/** Upstreams report their own usage in `x-argus-usage`: consumed by metering, never passed to the client. */
const usageHeaderOptions: RelayOptions = { stripHeaders: new Set([USAGE_HEADER]) };

/** LLM bodies go out as one Buffer (maybe rewritten): the upstream client sets Content-Length; the sidecar picks the encoding. */
function stripLlmRequestHeaders(headers: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name === 'content-length' || name === 'accept-encoding' || name === 'transfer-encoding') continue;
    out.push(name, headers[i + 1]!);
  }
  return out;
}
