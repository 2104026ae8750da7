/**
 * Start and stop the sidecar: the admin port first (a taken port fails before
 * anything else starts; /readyz says "not started" meanwhile), then the proxy
 * (one core in this thread, or one per worker thread with `threads: N`).
 * Shutdown reverses it: readiness false at once → keep serving with
 * `Connection: close` (server.drain_delay_ms) → stop accepting → drain in-flight
 * until server.drain_timeout_ms → close idle connections, pools, clients → admin
 * port last (see docs/operations.md, "Drain and rollout order").
 */
import { performance } from 'node:perf_hooks';
import { featuresRoute } from './admin/features.js';
import { AdminServer, send, type AdminRoute } from './admin/server.js';
import { availableCores, type Config } from './config.js';
import { createLogger, type Logger } from './observe/log.js';
import { Metrics } from './observe/metrics.js';
import { startCore, type DrainPlan } from './proxy-core.js';
import { portFailure } from './startup.js';
import { startThreadPool } from './threads/main.js';
import { createAuthenticator } from './authenticate/index.js';

/** What the admin port scrapes (one thread's Metrics, or the threads' aggregate). */
export interface MetricsView {
  readonly registry: { metrics(): Promise<string>; readonly contentType: string };
}

export interface RunningProxy {
  readonly port: number;
  readonly adminPort: number;
  readonly threads: number;
  readonly metrics: MetricsView;
  /** Requests being served now (all threads). */
  inflight(): Promise<number>;
  /**
   * Drain and close everything. Idempotent. Readiness is false at once; see
   * {@link DrainPlan} (default: no delay, deadline `server.drain_timeout_ms` from now).
   * Resolves true when the drain finished before the deadline.
   */
  stop(plan?: Partial<DrainPlan>): Promise<boolean>;
  /** Cut the rest of `drain_delay_ms` short (a second SIGTERM/SIGINT). */
  hurry(): void;
}

export interface StartOptions {
  readonly log?: Logger;
  /** Milliseconds clock (monotonic). */
  readonly now?: () => number;
  /** Collect prom-client default process metrics (off in tests running several proxies). */
  readonly defaultMetrics?: boolean;
  /** Where access log lines go (default stdout; `observability.access_log`). */
  readonly accessLog?: (line: string) => void;
}

/** `threads: auto` → the cores this process may use. */
export function threadCount(cfg: Readonly<Config>): number {
  return cfg.threads === 'auto' ? availableCores() : cfg.threads;
}

export async function startProxy(cfg: Readonly<Config>, opts: StartOptions = {}): Promise<RunningProxy> {
  const log = opts.log ?? createLogger(cfg.log.level, { component: 'proxy' });
  const threads = threadCount(cfg);
  let draining = false;

  type Proxy = {
    port: number;
    metrics: MetricsView;
    readiness(): Record<string, boolean> | Promise<Record<string, boolean>>;
    inflight(): number | Promise<number>;
    stop(plan?: DrainPlan): Promise<boolean>;
    hurry(): void;
  };
  let proxy: Proxy | undefined;
  let features: AdminRoute | undefined;
  const metricsView: MetricsView = {
    registry: { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: async () => (proxy ? proxy.metrics.registry.metrics() : '') },
  };
  let jwksStatus: () => unknown = () => null;

  // The admin port first: a port another process holds fails before anything
  // else starts, and /readyz says "not started" until the proxy listens.
  const admin = new AdminServer({
    host: cfg.admin.host,
    port: cfg.admin.port,
    metrics: metricsView,
    readiness: async (): Promise<Record<string, boolean>> => (proxy ? { ...(await proxy.readiness()), accepting: !draining } : { started: false }),
    routes: {
      '/v1/features': (req, url, res) => (features ? features(req, url, res) : send(res, 503, { error: { code: 'ARGUS_DRAINING', message: 'starting' } })),
    },
    readinessDetail: () => {
      const jwks = jwksStatus();
      return jwks === null ? {} : { jwks };
    },
  });
  const adminPort = await admin.listen().catch((err: NodeJS.ErrnoException) => {
    throw portFailure('admin.port', cfg.admin.host, cfg.admin.port, err);
  });

  let closeExtra: () => Promise<void> = async () => undefined;
  try {
    if (threads === 1) {
      const metrics = new Metrics({ defaultMetrics: opts.defaultMetrics ?? true });
      const core = await startCore(cfg, { log, metrics, now: opts.now ?? (() => performance.now()), ...(opts.accessLog ? { accessLog: opts.accessLog } : {}) });
      proxy = core;
      features = featuresRoute(core.authenticator);
      jwksStatus = () => core.authenticator.jwksStatus();
    } else {
      const pool = await startThreadPool(cfg, threads, log);
      proxy = {
        port: pool.port,
        metrics: pool,
        readiness: () => pool.readiness(),
        inflight: () => pool.inflight(),
        stop: (plan) => pool.stop(plan),
        hurry: () => pool.hurry(),
      };
      // The batch feature check reads Redis records: the main thread keeps its own small authenticator for it.
      const auth = await createAuthenticator(cfg, { metrics: new Metrics({ defaultMetrics: false }), log });
      features = featuresRoute(auth);
      // The main thread's key set refreshes from the same source as the threads' (what /readyz shows).
      jwksStatus = () => auth.jwksStatus();
      closeExtra = () => auth.close();
    }
  } catch (err) {
    await proxy?.stop();
    await admin.close();
    throw err;
  }
  const running = proxy;
  log.info('proxy listening', { port: running.port, admin_port: adminPort, threads, upstream: cfg.upstream.url });

  let stopping: Promise<boolean> | undefined;
  const stop = (plan?: Partial<DrainPlan>) =>
    (stopping ??= (async () => {
      // Readiness turns false at once; the admin port stays up until everything else is closed.
      draining = true;
      const drained = await running.stop({ delayMs: plan?.delayMs ?? 0, deadline: plan?.deadline ?? Date.now() + cfg.server.drain_timeout_ms });
      await closeExtra();
      await admin.close();
      return drained;
    })());

  return { port: running.port, adminPort, threads, metrics: running.metrics, inflight: async () => running.inflight(), stop, hurry: () => running.hurry() };
}
