/**
 * The access log: one JSON line per request, optional (`observability.access_log`):
 * `off` (the default), `sampled` (a share `ratio` of requests) or `refusals`
 * (only requests the sidecar refused itself). Fields: docs/observability.md.
 *
 * A line names the caller by ids only (user id, API key id): never the token,
 * key, session header or query string; the path is the normalised path without
 * its query (a WebSocket `access_token` travels there).
 */
import type { AccessLogConfig } from './schema.js';

export interface AccessRecord {
  readonly requestId: string;
  readonly traceId: string | undefined;
  readonly method: string;
  readonly route: string;
  readonly path: string;
  readonly status: number;
  /** The refusal's `ARGUS_*` code; absent when the upstream answered. */
  readonly code: string | undefined;
  readonly userId: string | undefined;
  readonly keyId: string | undefined;
  readonly latencyMs: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** Write one line per chosen request; undefined when the log is off (nothing to call). */
export type AccessLog = (r: AccessRecord) => void;

export function createAccessLog(cfg: AccessLogConfig, out: (line: string) => void, random: () => number = Math.random): AccessLog | undefined {
  if (cfg.mode === 'off') return undefined;
  const refusalsOnly = cfg.mode === 'refusals';
  const ratio = cfg.ratio;
  return (r) => {
    if (refusalsOnly ? r.code === undefined : ratio < 1 && random() >= ratio) return;
    out(
      JSON.stringify({
        t: new Date().toISOString(),
        type: 'access',
        request_id: r.requestId,
        trace_id: r.traceId ?? null,
        method: r.method,
        route: r.route,
        path: r.path,
        status: r.status,
        code: r.code ?? null,
        user_id: r.userId ?? null,
        key_id: r.keyId ?? null,
        latency_ms: Math.round(r.latencyMs * 1000) / 1000,
        bytes_in: r.bytesIn,
        bytes_out: r.bytesOut,
      }),
    );
  };
}

/** The default destination: stdout (the JSON logs go to stderr, so the two streams can be shipped apart). */
export function writeStdout(line: string): void {
  process.stdout.write(line + '\n');
}
