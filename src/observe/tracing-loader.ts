/**
 * Tracing on demand: `observability.tracing.enabled` false → undefined, and no
 * OpenTelemetry module is loaded (the import below is dynamic). Every process
 * that traces (proxy thread, billing worker, control plane) starts it here.
 */
import type { Config } from '../config.js';
import { resolveTracing } from './schema.js';
import type { Tracing } from './tracing.js';

export type { Tracing } from './tracing.js';

/** Start tracing for this process, or undefined when it is off. `instanceId`: the sidecar id (or pod name). */
export async function loadTracing(cfg: Readonly<Config>, instanceId: string): Promise<Tracing | undefined> {
  const t = cfg.observability.tracing;
  if (!t.enabled) return undefined;
  // config.ts already folded the OTEL_* variables into these keys; an empty environment here only fills defaults.
  const { createTracing } = await import('./tracing.js');
  return createTracing(resolveTracing(t, {}), { instanceId });
}
