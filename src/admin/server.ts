/**
 * The admin port: `/healthz` (process alive), `/readyz` (dependencies ready, and
 * false from the moment draining starts), `/metrics` (Prometheus text).
 * node:http is plenty here: this is not the request path.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type AdminRoute = (req: IncomingMessage, url: URL, res: ServerResponse) => Promise<void> | void;

export interface AdminOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: { readonly registry: { metrics(): Promise<string>; readonly contentType: string } };
  /** Named readiness checks; all must be true for /readyz to answer 200. */
  readonly readiness: () => Record<string, boolean> | Promise<Record<string, boolean>>;
  /** Detail shown beside the checks in /readyz (e.g. `jwks`: why auth is not ready). */
  readonly readinessDetail?: () => Record<string, unknown>;
  /** Extra GET routes by exact path (e.g. the batch feature check). */
  readonly routes?: Readonly<Record<string, AdminRoute>>;
}

export class AdminServer {
  private readonly server: Server;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: AdminOptions) {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, { error: { code: 'ARGUS_INTERNAL', message: String((err as Error).message) } });
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 5000;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: { code: 'ARGUS_METHOD_NOT_ALLOWED', message: 'GET only' } });
    switch (url.pathname) {
      case '/healthz':
        return send(res, 200, { status: 'ok' });
      case '/readyz': {
        const checks = await this.opts.readiness();
        const ready = Object.values(checks).every(Boolean);
        return send(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', checks, ...this.opts.readinessDetail?.() });
      }
      case '/metrics': {
        const body = await this.opts.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.opts.metrics.registry.contentType });
        res.end(body);
        return;
      }
      default: {
        const extra = this.opts.routes?.[url.pathname];
        if (extra) return extra(req, url, res);
        return send(res, 404, { error: { code: 'ARGUS_NOT_FOUND', message: 'no such admin endpoint' } });
      }
    }
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  /** Stop listening and close idle connections. Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    }));
  }
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
