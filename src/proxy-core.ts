/**
 * One sidecar thread's proxy: everything but the admin port. Startup builds each
 * part in order; shutdown runs in reverse, each step time-boxed:
 *
 *   start: Redis → auth → rate limit → metering → extensions (registry order) → upstream pool
 *          → pipeline → uWS listener
 *   stop:  Connection: close on every response, still accepting (drain_delay_ms)
 *          → stop accepting, WebSockets 1001 → drain in-flight (until the
 *          deadline, then streams end with a shutdown event) → … closed in
 *          reverse, the upstream pool after the last request → the process may exit
 *
 * Threads: `lifecycle.ts` runs one core in the main thread, or one per worker
 * thread on the same port (`threads: N`), sharing the rate-limit buckets.
 */
import { performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';
import { createAuthenticator, type Authenticator } from './authenticate/index.js';
import { authorize, identityBlock, shouldEnforce } from './authorize/index.js';
import type { Config } from './config.js';
import { Upstream } from './forward/upstream.js';
import { CLOSE, type WsSession } from './forward/websocket.js';
import { createHeartbeats } from './forward/ws-heartbeat.js';
import { createIdleSweeper } from './forward/ws-idle.js';
import { createGateFactory } from './forward/ws-gates.js';
import { startExtensions } from './extensions/start.js';
import { createMeter } from './meter/producer.js';
import { createMeterSinks } from './meter/stage.js';
import { createDurableGate } from './meter/durable.js';
import type { Logger } from './observe/log.js';
import type { Metrics } from './observe/metrics.js';
import { createPipeline } from './pipeline.js';
import { createRateLimiter, type BucketStore } from './ratelimit/index.js';
import { createRateLimitStage } from './ratelimit/stage.js';
import { HttpServer } from './server/http.js';
import { explainListenFailure } from './startup.js';
import { closeRedis, createRedis, type Redis, type RedisTarget } from './clients/redis.js';

export interface CoreOptions {
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Milliseconds clock (monotonic). */
  readonly now?: () => number;
  /** Rate-limit buckets shared with the other threads of this sidecar. */
  readonly store?: BucketStore;
  /** Listen here instead of listen.port (threads agree on one port). */
  readonly port?: number;
  /** Share the port with this sidecar's other threads (SO_REUSEPORT); else bind it exclusively. */
  readonly sharePort?: boolean;
}

/**
 * How to stop: keep serving (every response `Connection: close`) for `delayMs`
 * while load balancers remove the endpoint, then stop accepting and let requests
 * finish until `deadline` (epoch ms, `Date.now()`: threads share it), then end
 * what is left. Default: no delay, deadline `server.drain_timeout_ms` from now.
 */
export interface DrainPlan {
  readonly delayMs: number;
  readonly deadline: number;
}

export interface ProxyCore {
  readonly port: number;
  readonly metrics: Metrics;
  readonly authenticator: Authenticator;
  inflight(): number;
  /** Named readiness checks of this thread. */
  readiness(): Record<string, boolean>;
  /** Drain and close everything. Idempotent. Resolves true when the drain finished in time. */
  stop(plan?: DrainPlan): Promise<boolean>;
  /** Cut the rest of the drain delay short (an operator's second signal). */
  hurry(): void;
}

/** A step of shutdown: name + close function, run in reverse order of startup. */
type Closer = readonly [name: string, close: () => Promise<unknown> | unknown];

export async function startCore(cfg: Readonly<Config>, opts: CoreOptions): Promise<ProxyCore> {
  const { log, metrics } = opts;
  const now = opts.now ?? (() => performance.now());
  const closers: Closer[] = [];
  let draining = false;

  // Redis (absent: standalone mode). One fail-fast connection shared by the stages.
  const redis = cfg.redis ? connectRedis(cfg.redis, log, closers) : undefined;

  const authenticator = await createAuthenticator(cfg, { ...(redis ? { redis } : {}), metrics, log });
  closers.push(['auth', () => authenticator.close()]);

  // Buckets live in shared memory when several threads serve one sidecar (limits per sidecar, not per thread).
  const limiter = createRateLimiter(cfg, { ...(redis ? { redis } : {}), ...(opts.store ? { store: opts.store } : {}), metrics, log });
  closers.push(['ratelimit', () => limiter.close()]);

  // Metering: every event spooled to disk before its response completes, batched into BullMQ, kept until the ledger has it.
  const meter = cfg.metering.enabled ? createMeter(cfg, { metrics, log }) : undefined;
  if (meter) closers.push(['metering', () => meter.close()]);
  const sinks = meter ? createMeterSinks(meter, cfg.metering, log, now) : undefined;

  // Product extensions (src/extensions/registry.ts): each started when some route uses it.
  const extensions = startExtensions(cfg, { ...(redis ? { redis } : {}), limiter, metrics, log, now, ...(sinks ? { usage: sinks.usage } : {}) });
  closers.push(...extensions.closers);
  const gateFor = createGateFactory({
    limiter,
    extensionsOf: (route) => extensions.byRoute[route.index] ?? [],
    authorize: (ctx, route) => authorize(ctx, route, cfg.tiers),
  });

  const upstream = new Upstream(cfg.upstream);
  closers.push(['upstream', () => upstream.close()]);

  const sessions = new Set<WsSession>();
  const heartbeats = createHeartbeats({ sessions, revalidate: (ctx) => authenticator.revalidate(ctx), now: Date.now, log });
  closers.push(['heartbeats', () => heartbeats.stop()]);
  // Silent clients get a close frame from the sidecar; uWS's own idle timeout (8 s later) is the backstop.
  const idle = createIdleSweeper({ sessions, idleMs: cfg.server.ws_idle_timeout_s * 1000, now: () => performance.now() });
  closers.push(['websocket idle sweep', () => idle.stop()]);
  const pipeline = createPipeline({
    sessions,
    heartbeats,
    gateFor,
    extensions: extensions.byRoute,
    sessionsFailClosed: (route) => extensions.sessionsFailClosed[route.index] === true,
    cfg,
    metrics,
    log,
    upstream,
    now,
    authenticate: authenticator,
    authorize: (ctx, route) => authorize(ctx, route, cfg.tiers),
    identity: identityBlock,
    shouldEnforce,
    ...(cfg.ratelimit.enabled ? { rateLimit: createRateLimitStage(limiter, cfg.tiers) } : {}),
    ...(sinks && meter ? { meter: sinks.request, durable: createDurableGate(meter, sinks, extensions.meters) } : {}),
  });

  // Kill switch: a revocation closes the caller's WebSocket sessions at once (4403).
  const unsubscribe = authenticator.onRevoke((r) => {
    for (const session of [...sessions]) if (session.matches(r.kind, r.id)) session.end(CLOSE.REVOKED, 'revoked');
  });
  closers.push(['revocation listener', unsubscribe]);

  const http = new HttpServer(httpOptions(cfg, opts, now), pipeline);
  let port: number;
  try {
    port = await http.listen();
  } catch {
    await closeAll(closers, log, () => 5000);
    throw await explainListenFailure('listen.port', cfg.listen.host, opts.port ?? cfg.listen.port);
  }
  metrics.trackInflight(() => http.inflight);

  log.info('proxy thread listening', { port, thread: threadId });

  let stopping: Promise<boolean> | undefined;
  let hurried = false;
  let endDelay: () => void = () => undefined;
  const stop = (plan: DrainPlan = { delayMs: 0, deadline: Date.now() + cfg.server.drain_timeout_ms }) =>
    (stopping ??= (async () => {
      draining = true;
      // Still accepting: the endpoint is being removed from load balancers meanwhile.
      http.beginDrain();
      const delay = Math.min(plan.delayMs, plan.deadline - Date.now());
      if (delay > 0 && !hurried) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          endDelay = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      http.stopAccepting();
      // WebSocket sessions are told to reconnect elsewhere (1001 going away).
      for (const session of [...sessions]) session.end(CLOSE.DRAINING, 'sidecar draining');
      const drained = await http.whenQuiet(100, Math.max(0, plan.deadline - Date.now()));
      if (!drained) {
        const cut = http.cutInflight();
        log.warn('drain timeout: ended the requests still in flight', { cut });
        await http.whenIdle(200);
      }
      // Nothing reaches the upstream pool from here on: it closes after the last request.
      http.close();
      // Past the deadline the closers share what is left of the last second.
      await closeAll(closers, log, () => (drained ? 5000 : Math.max(50, plan.deadline + 800 - Date.now())));
      return drained;
    })());

  return {
    port,
    metrics,
    authenticator,
    inflight: () => http.inflight,
    // Metering is not a readiness condition: its spool keeps events while Redis is away.
    readiness: () => ({ listening: !draining, auth: authenticator.ready(), ...(redis ? { redis: redis.status === 'ready' } : {}) }),
    stop,
    hurry: () => {
      hurried = true;
      endDelay();
    },
  };
}

/** The shared Redis connection; its outages are logged once each way. */
function connectRedis(target: RedisTarget, log: Logger, closers: Closer[]): Redis {
  const r = createRedis(target);
  let reported = false;
  r.on('error', (err: Error) => {
    if (!reported) log.warn('redis unreachable', { err });
    reported = true;
  });
  r.on('ready', () => {
    if (reported) log.info('redis reachable again');
    reported = false;
  });
  closers.push(['redis', () => closeRedis(r)]);
  return r;
}

/** The uWS front's options: its port, WebSocket limits (the largest route limit wins uWS's own ceiling). */
function httpOptions(cfg: Readonly<Config>, opts: CoreOptions, now: () => number): ConstructorParameters<typeof HttpServer>[0] {
  return {
    host: cfg.listen.host,
    port: opts.port ?? cfg.listen.port,
    allowJsFallback: cfg.server.allow_js_fallback,
    now,
    wsMaxPayloadBytes: Math.max(cfg.server.ws_max_payload_bytes, ...cfg.routes.map((r) => r.websocket?.max_message_bytes ?? 0)),
    wsMaxBufferedBytes: cfg.server.ws_max_buffered_bytes,
    wsIdleTimeoutS: cfg.server.ws_idle_timeout_s + 8,
    sharePort: opts.sharePort === true,
  };
}

/** Run the closers in reverse order of startup, each time-boxed; a failure is logged, never thrown. */
async function closeAll(closers: Closer[], log: Logger, budgetMs: () => number): Promise<void> {
  for (const [name, close] of [...closers].reverse()) {
    await withTimeout(Promise.resolve().then(close), budgetMs()).catch((err: unknown) => log.warn('close failed', { step: name, err: err as Error }));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e as Error);
      },
    );
  });
}
