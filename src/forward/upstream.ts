/**
 * The upstream: one undici Pool (keep-alive, pipelining off) per sidecar thread.
 */
import { Pool } from 'undici';
import type { Readable } from 'node:stream';
import type { Config } from '../config.js';
import type { UpstreamRelay } from './relay.js';

export interface ForwardRequest {
  readonly method: string;
  /** Path plus "?query" when present. */
  readonly path: string;
  readonly headers: string[];
  readonly body: Buffer | Readable | null;
  /** Per-route override of upstream.body_timeout_ms (0 = none: long streams). */
  readonly bodyTimeoutMs?: number;
}

export class Upstream {
  private readonly pool: Pool;
  private closing: Promise<void> | undefined;

  constructor(private readonly cfg: Config['upstream']) {
    const url = new URL(cfg.url);
    this.pool = new Pool(url.origin, {
      connections: cfg.connections,
      pipelining: 1,
      keepAliveTimeout: cfg.keep_alive_timeout_ms,
      headersTimeout: cfg.headers_timeout_ms,
      bodyTimeout: cfg.body_timeout_ms,
    });
  }

  forward(req: ForwardRequest, relay: UpstreamRelay): void {
    this.pool.dispatch(
      {
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.body,
        headersTimeout: this.cfg.headers_timeout_ms,
        bodyTimeout: req.bodyTimeoutMs ?? this.cfg.body_timeout_ms,
      },
      relay,
    );
  }

  /** Finish in-flight requests, then close every connection. Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= this.pool.close());
  }
}
