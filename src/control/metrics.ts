/**
 * The control process's metrics (docs/metrics.md, "Control plane"), on its
 * admin port beside the process metrics and the authenticator's own.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Metrics } from '../observe/metrics.js';

export interface ControlMetrics {
  observe(operation: string, status: number, seconds: number): void;
  projection(outcome: 'ok' | 'failed'): void;
  reconciled(kind: string, n: number): void;
  behind(kind: string, n: number): void;
}

export function createControlMetrics(metrics: Metrics): ControlMetrics {
  const registers = [metrics.registry];
  const requests = new Counter({
    name: 'argus_control_requests_total',
    help: 'Control API requests answered, by operation id and HTTP status',
    labelNames: ['operation', 'status'],
    registers,
  });
  const duration = new Histogram({
    name: 'argus_control_request_duration_seconds',
    help: 'Control API request duration in seconds, by operation id',
    labelNames: ['operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const projections = new Counter({
    name: 'argus_control_projections_total',
    help: 'Projections into Redis right after a commit, by outcome (ok, failed: left to the reconciler)',
    labelNames: ['outcome'],
    registers,
  });
  const reconciled = new Counter({
    name: 'argus_control_reconciled_total',
    help: 'Rows the reconciler re-projected into Redis, by kind (user, org, key)',
    labelNames: ['kind'],
    registers,
  });
  const behind = new Gauge({
    name: 'argus_control_unprojected_rows',
    help: 'Rows committed but not yet projected into Redis at the last reconciler pass, by kind',
    labelNames: ['kind'],
    registers,
  });
  for (const outcome of ['ok', 'failed']) projections.inc({ outcome }, 0);
  for (const kind of ['user', 'org', 'key']) {
    reconciled.inc({ kind }, 0);
    behind.set({ kind }, 0);
  }
  return {
    observe(operation, status, seconds) {
      requests.inc({ operation, status: String(status) });
      duration.observe({ operation }, seconds);
    },
    projection: (outcome) => projections.inc({ outcome }),
    reconciled: (kind, n) => n > 0 && reconciled.inc({ kind }, n),
    behind: (kind, n) => behind.set({ kind }, n),
  };
}
