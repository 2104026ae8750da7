/**
 * Node process metrics (`argus_process_*`) from prom-client's defaults, with
 * the three gauges prom-client names `*_total` renamed: a `_total` suffix
 * means a counter to Prometheus, and `promtool check metrics` rejects a gauge
 * that carries it. Renames (also in docs/metrics.md):
 *
 *   argus_process_nodejs_active_handles_total   → argus_process_nodejs_active_handles_all
 *   argus_process_nodejs_active_requests_total  → argus_process_nodejs_active_requests_all
 *   argus_process_nodejs_active_resources_total → argus_process_nodejs_active_resources_all
 *
 * (`_count`, `_sum` and `_bucket` are reserved for histograms and summaries, so
 * the new names end in `_all`; each equals the sum of its per-`type` gauge.)
 */
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';

const PREFIX = 'argus_process_';

interface ProcessWithHandles {
  _getActiveHandles?: () => unknown[];
  _getActiveRequests?: () => unknown[];
  getActiveResourcesInfo?: () => string[];
}

const SOURCES: ReadonlyArray<{ name: string; help: string; count: (p: ProcessWithHandles) => number | undefined }> = [
  { name: 'nodejs_active_handles', help: 'Active libuv handles, all types', count: (p) => p._getActiveHandles?.().length },
  { name: 'nodejs_active_requests', help: 'Active libuv requests, all types', count: (p) => p._getActiveRequests?.().length },
  { name: 'nodejs_active_resources', help: 'Resources keeping the event loop alive, all types', count: (p) => p.getActiveResourcesInfo?.().length },
];

/** prom-client's default process metrics on `registry`, prefixed `argus_process_`, every gauge named as Prometheus expects. */
export function collectProcessMetrics(registry: Registry): void {
  // The literal prefix: test/k8s-chart-metrics-exported.test.ts finds the default metrics' names by it.
  collectDefaultMetrics({ register: registry, prefix: 'argus_process_' });
  const proc = process as unknown as ProcessWithHandles;
  for (const s of SOURCES) {
    if (registry.getSingleMetric(`${PREFIX}${s.name}_total`) === undefined) continue;
    registry.removeSingleMetric(`${PREFIX}${s.name}_total`);
    new Gauge({
      name: `${PREFIX}${s.name}_all`,
      help: s.help,
      registers: [registry],
      collect() {
        const n = s.count(proc);
        if (n !== undefined) this.set(n);
      },
    });
  }
}
