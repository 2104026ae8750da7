/**
 * Prometheus metrics, all named `argus_*`, served on the admin port.
 *
 * One {@link Metrics} per process (created in lifecycle, passed down): no
 * module-level registry, so tests can run several sidecars in one process.
 * Stages that need their own metrics register them on `metrics.registry`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly requestDuration: Histogram<'route'>;
  readonly upstreamErrors: Counter<'kind'>;
  readonly rejected: Counter<'code'>;
  readonly inflight: Gauge;
  readonly shadowDecisions: Counter<'route' | 'code'>;
  readonly wsConnections: Gauge;
  readonly wsClosed: Counter<'code'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'argus_process_' });
    this.requests = new Counter({ name: 'argus_requests_total', help: 'Requests answered, by route, method and status', labelNames: ['route', 'method', 'status'], registers });
    this.requestDuration = new Histogram({
      name: 'argus_request_duration_seconds',
      help: 'Time from request head to response end, by route',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.upstreamErrors = new Counter({ name: 'argus_upstream_errors_total', help: 'Upstream failures by kind (refused, reset, timeout)', labelNames: ['kind'], registers });
    this.rejected = new Counter({ name: 'argus_rejected_total', help: 'Requests refused by the sidecar, by error code', labelNames: ['code'], registers });
    this.shadowDecisions = new Counter({ name: 'argus_auth_shadow_decisions_total', help: 'Requests a shadow / partially enforced route would have refused, by code', labelNames: ['route', 'code'], registers });
    this.wsConnections = new Gauge({ name: 'argus_ws_connections', help: 'Open WebSocket sessions', registers });
    this.wsClosed = new Counter({ name: 'argus_ws_closed_total', help: 'WebSocket sessions closed, by close code', labelNames: ['code'], registers });
    const inflight = { read: () => 0 };
    this.inflightSource = inflight;
    this.inflight = new Gauge({
      name: 'argus_inflight_requests',
      help: 'Requests being served now',
      registers,
      collect() {
        this.set(inflight.read());
      },
    });
  }

  private readonly inflightSource: { read: () => number };

  /** Where argus_inflight_requests reads its value at scrape time. */
  trackInflight(read: () => number): void {
    this.inflightSource.read = read;
  }

  private readonly answered = new Map<string, { inc(): void }>();
  private readonly durations = new Map<string, { observe(v: number): void }>();

  /**
   * Count one answered request and its duration. Label children are cached: the
   * label hashing prom-client does on every `labels()` call is measurable on the
   * hot path.
   */
  observeRequest(route: string, rawMethod: string, status: number, seconds: number): void {
    // Clients choose the method token: bound the label's cardinality.
    const method = KNOWN_METHODS.has(rawMethod) ? rawMethod : 'OTHER';
    const key = `${route}\u0000${method}\u0000${status}`;
    let counter = this.answered.get(key);
    if (!counter) {
      counter = this.requests.labels(route, method, String(status));
      this.answered.set(key, counter);
    }
    counter.inc();
    let histogram = this.durations.get(route);
    if (!histogram) {
      histogram = this.requestDuration.labels(route);
      this.durations.set(route, histogram);
    }
    histogram.observe(seconds);
  }
}
