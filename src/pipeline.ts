/**
 * The data path, top to bottom — read this file first.
 *
 *   uWS request ─► front: hygiene, path, route (src/server/front.ts) ─► body claimed
 *       ─► authenticate (src/authenticate/) ─► authorize (src/authorize/stage.ts)
 *       ─► rate limit (src/ratelimit/stage.ts) ─► forward (src/forward/stage.ts: h1 client,
 *          streamed both ways) ─► respond ─► meter (src/meter/stage.ts, off the response path)
 *
 * Each stage returns a value (ok, or a Denial with a stable code; src/request/outcome.ts);
 * only bugs and infrastructure faults throw. Cheap checks come first; side effects
 * (tokens taken, usage recorded) happen only after every earlier stage passed.
 * Authentication and rate limiting answer synchronously when they can (an L1 hit, a
 * local bucket): the request then runs to the upstream in one call, no Promise made.
 */
import type { AuthContext } from './request/principal.js';
import type { AuthOutcome, LimitOutcome } from './request/outcome.js';
import type { AuthStage, AuthorizeStage, MeterStage, RateLimitStage } from './request/stages.js';
import type { CompiledRoute, RouteConfig } from './request/route.js';
import type { DurableGate, Exchange } from './request/exchange.js';
import type { ServerConfig } from './server/schema.js';
import type { UpstreamConfig } from './forward/upstream-schema.js';
import { deny, type Denial } from './errors.js';
import type { ExtensionRuntime } from './extensions/contract.js';
import type { RelayFailure } from './forward/relay.js';
import type { Upstream } from './forward/upstream.js';
import type { TrustedHeaders } from './forward/h1/exchange.js';
import type { Logger } from './observe/log.js';
import type { Metrics } from './observe/metrics.js';
import { compileRoutes } from './routes.js';
import type { HeaderStats } from './server/hygiene.js';
import type { UpgradeInfo } from './server/http.js';
import { ANSWERED, createFront, type FrontOutcome } from './server/front.js';
import { claimBody } from './server/claim-body.js';
import { createAdmission, SHADOW } from './authorize/stage.js';
import { createForwardStage } from './forward/stage.js';
import { createWebSocketOpener } from './forward/open-websocket.js';
import type { WsSession } from './forward/websocket.js';
import type { GateFactory } from './forward/ws-gates.js';
import { createCorsStage } from './cors/stage.js';

export interface PipelineDeps {
  /** Its slice: the front (`server`), the upstream, the routes. */
  readonly cfg: { readonly server: ServerConfig; readonly upstream: UpstreamConfig; readonly routes: readonly RouteConfig[] };
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
  /** The running extensions each route uses, by route index (src/extensions/contract.ts). */
  readonly extensions: readonly (readonly ExtensionRuntime[])[];
  /** Open WebSocket sessions (closed with 1001 on drain, 4403 on revocation). */
  readonly sessions: Set<WsSession>;
  readonly heartbeats: { watch(s: WsSession): void };
  readonly gateFor?: GateFactory;
  /** An extension of this route closes its sessions when re-validation is impossible. */
  readonly sessionsFailClosed: (route: CompiledRoute) => boolean;
}

export function createPipeline(deps: PipelineDeps) {
  const { cfg, metrics } = deps;
  const matchRoute = compileRoutes(cfg.routes);
  const front = createFront(cfg.server, matchRoute, createCorsStage(matchRoute));
  const authorize = createAdmission(deps);
  const forward = createForwardStage({ ...cfg, ...deps, onUpstreamFailure, refuse, internalError });
  const websockets = createWebSocketOpener({ ...deps, onFailure: onUpstreamFailure });

  /** A request, stage by stage; each stage either hands on or refuses. */
  function handle(ex: Exchange, stats: HeaderStats): void {
    const route = routed(ex, front(watch(ex), stats, false));
    if (!route) return;
    const tooLarge = claimBody(ex, route, stats, cfg.server.max_body_bytes, refuseAndClose);
    if (tooLarge) return refuse(ex, tooLarge, true);
    authenticated(ex, route, deps.authenticate.authenticate(ex.head, route.cfg), forward);
  }

  /** A WebSocket upgrade: the same checks, then the upstream socket instead of a request. */
  function upgrade(ex: Exchange, stats: HeaderStats, up: UpgradeInfo): void {
    const route = routed(ex, front(watch(ex), stats, true));
    if (!route) return;
    const unavailable = extensionUnavailable(route);
    if (unavailable) return refuse(ex, unavailable);
    authenticated(ex, route, deps.authenticate.authenticate(ex.head, route.cfg), (e, r, ctx) => websockets.open(e, r, ctx, up));
  }

  /** Every exchange reports its end (metrics, metering) and holds its last bytes for the spool. */
  function watch(ex: Exchange): Exchange {
    ex.onDone = finished;
    if (deps.durable) ex.durable = deps.durable;
    return ex;
  }

  // 1–2. The front's verdict: a route, or a refusal (the preflight already answered).
  function routed(ex: Exchange, outcome: FrontOutcome): CompiledRoute | undefined {
    if (outcome === ANSWERED) return undefined;
    if ('denial' in outcome) return void refuse(ex, outcome.denial, outcome.close);
    return outcome;
  }

  // A fail-closed extension: no new session while its dependencies are down, whatever the auth cache holds.
  function extensionUnavailable(route: CompiledRoute): Denial | undefined {
    for (const ext of deps.extensions[route.index] ?? NONE) if (ext.ready && !ext.ready()) return ext.unavailable ?? UNAVAILABLE;
    return undefined;
  }

  type Next = (ex: Exchange, route: CompiledRoute, ctx: AuthContext | null) => void;

  // 3. Authenticated (synchronous on a cache hit) → 4. authorize → 5. rate limit → next.
  function authenticated(ex: Exchange, route: CompiledRoute, outcome: AuthOutcome | Promise<AuthOutcome>, next: Next): void {
    if (outcome instanceof Promise) {
      outcome.then(
        (o) => authenticated(ex, route, o, next),
        (err: unknown) => internalError(ex, err),
      );
      return;
    }
    if (ex.aborted) return;
    const verdict = authorize(ex, route, outcome);
    if (verdict === SHADOW) return next(ex, route, null);
    if (verdict) return refuse(ex, verdict);
    const ctx = outcome.ok ? outcome.ctx : null;
    ex.ctx = ctx;
    ex.stale = outcome.ok && outcome.stale === true;
    // Only callers that passed everything above take a token.
    if (deps.rateLimit && ctx) return limited(ex, route, ctx, deps.rateLimit(ctx, route), next);
    next(ex, route, ctx);
  }

  // 5. Rate limited (synchronous for local buckets) → next.
  function limited(ex: Exchange, route: CompiledRoute, ctx: AuthContext, outcome: LimitOutcome | Promise<LimitOutcome>, next: Next): void {
    if (outcome instanceof Promise) {
      outcome.then(
        (o) => limited(ex, route, ctx, o, next),
        (err: unknown) => internalError(ex, err),
      );
      return;
    }
    if (ex.aborted) return;
    if (!outcome.ok) return refuse(ex, outcome.denial);
    if (outcome.headers) ex.responseHeaders = outcome.headers;
    next(ex, route, ctx);
  }

  // 7. After the response: metrics, then metering (async, never on the response path).
  function finished(ex: Exchange): void {
    // 499: the client went away before any response (nginx's convention).
    const status = ex.aborted && !ex.started ? 499 : ex.status;
    metrics.observeRequest(ex.routeLabel, ex.head.method, status, (deps.now() - ex.startedAt) / 1000);
    if (ex.route && deps.meter && !ex.denied && !ex.metered) deps.meter(ex, ex.route, ex.ctx);
  }

  function refuse(ex: Exchange, denial: Denial, close = false): void {
    metrics.rejected(denial.code).n++;
    ex.denied = true;
    ex.replyError(denial, close);
  }

  function refuseAndClose(ex: Exchange, denial: Denial): void {
    refuse(ex, denial, true);
  }

  function internalError(ex: Exchange, err: unknown): void {
    deps.log.error('request failed', { err: err as Error, request_id: ex.head.requestId });
    ex.replyError(deny('ARGUS_INTERNAL', 'internal error'));
  }

  function onUpstreamFailure(kind: RelayFailure, err: Error): void {
    metrics.upstreamErrors.labels(kind).inc();
    deps.log.warn('upstream request failed', { kind, err });
  }

  return { handle, upgrade };
}

const NONE: readonly ExtensionRuntime[] = [];
const UNAVAILABLE = deny('ARGUS_DEPENDENCY_UNAVAILABLE', 'a dependency of this route is down');
