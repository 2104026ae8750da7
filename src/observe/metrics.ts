/**
 * Prometheus metrics, all named `argus_*`, served on the admin port.
 *
 * One {@link Metrics} per process (created in lifecycle, passed down): no
 * module-level registry, so tests can run several sidecars in one process.
 * Stages that need their own metrics register them on `metrics.registry`.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { collectProcessMetrics } from './process-metrics.js';
import { RequestMetrics } from './request-metrics.js';
import { cellCounter, type Cell } from './cells.js';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

export class Metrics {
  readonly registry = new Registry();
  /** argus_requests_total and argus_request_duration_seconds (see request-metrics.ts). */
  private readonly perRequest: RequestMetrics;
  readonly upstreamErrors: Counter<'kind'>;
  /** Requests refused by the sidecar: `metrics.rejected(code).n++` (hot path: the 429 path under abuse). */
  readonly rejected: (code: string) => Cell;
  readonly inflight: Gauge;
  readonly shadowDecisions: Counter<'route' | 'code'>;
  readonly wsConnections: Gauge;
  readonly wsClosed: Counter<'code'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectProcessMetrics(this.registry);
    this.perRequest = new RequestMetrics(this.registry);
    this.upstreamErrors = new Counter({
      name: 'argus_upstream_errors_total',
      help: 'Upstream failures by kind (refused, reset, timeout, body_timeout, protocol, other)',
      labelNames: ['kind'],
      registers,
    });
    this.rejected = cellCounter(this.registry, { name: 'argus_rejected_total', help: 'Requests refused by the sidecar, by error code', labelNames: ['code'] });
    this.shadowDecisions = new Counter({
      name: 'argus_auth_shadow_decisions_total',
      help: 'Requests a shadow / partially enforced route would have refused, by code',
      labelNames: ['route', 'code'],
      registers,
    });
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

  /** Count one answered request and its duration. */
  observeRequest(route: string, rawMethod: string, status: number, seconds: number): void {
    // Clients choose the method token: bound the label's cardinality.
    const method = KNOWN_METHODS.has(rawMethod) ? rawMethod : 'OTHER';
    this.perRequest.observe(route, method, status, seconds);
  }
}
