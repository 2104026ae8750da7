/**
 * The upstream: one connection pool per sidecar thread — the proxy's own
 * keep-alive HTTP/1.1 client (src/forward/h1).
 */
import type { Readable } from 'node:stream';
import type { UpstreamConfig } from './upstream-schema.js';
import type { TrustedHeaders, UpstreamHandler } from './h1/exchange.js';
import { H1Pool } from './h1/pool.js';

export interface ForwardRequest {
  readonly method: string;
  /** Path plus "?query" when present. */
  readonly path: string;
  readonly headers: string[];
  /** Identity headers, rendered once per AuthContext; sent after `headers`. */
  readonly trusted?: TrustedHeaders;
  /** Headers built from parts the sidecar validated (the trace context), sent without per-character checks. */
  readonly checked?: readonly string[] | undefined;
  readonly body: Buffer | Readable | null;
  /** Per-route override of upstream.body_timeout_ms (0 = none: long streams); undefined: the upstream's. */
  readonly bodyTimeoutMs?: number | undefined;
}

export class Upstream {
  private readonly client: H1Pool;
  private closing: Promise<void> | undefined;

  constructor(cfg: UpstreamConfig) {
    const opts = {
      connections: cfg.connections,
      keepAliveTimeoutMs: cfg.keep_alive_timeout_ms,
      headersTimeoutMs: cfg.headers_timeout_ms,
      bodyTimeoutMs: cfg.body_timeout_ms,
    };
    this.client = new H1Pool({ url: cfg.url, ...opts });
  }

  forward(req: ForwardRequest, handler: UpstreamHandler): void {
    this.client.dispatch(req, handler);
  }

  /** Finish in-flight requests, then close every connection. Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= this.client.close());
  }
}
