/**
 * The injector's HTTPS server: `POST /mutate` answers AdmissionReviews,
 * `GET /healthz` and `/readyz` answer probes (the kubelet's HTTPS probes do not
 * verify the certificate). node:https is enough here: this is the control plane,
 * a few requests per pod creation, not the proxy's hot path.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../observe/log.js';
import { answerReview, malformed, type ReviewResult } from './review.js';
import type { InjectorConfig } from './schema.js';

export interface InjectorServer {
  /** The bound port (useful with `listen.port: 0`). */
  readonly port: number;
  /** Re-read the TLS files; true when they changed and were swapped in. Throws if unreadable. */
  reloadTls(): boolean;
  /** Stop accepting, let in-flight reviews finish, close. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start the webhook. Fails (rejects) when the TLS files cannot be read or the
 * port cannot be bound: the pod should crash-loop loudly rather than serve
 * nothing while the API server's failurePolicy decides every pod's fate.
 */
export async function startInjectorServer(cfg: Readonly<InjectorConfig>, log: Logger): Promise<InjectorServer> {
  let tls = readTls(cfg);
  const server: Server = createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A bug, not an outcome: answer 500 so the API server applies failurePolicy.
      log.error('inject: handler failed', { err });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && (path === '/healthz' || path === '/readyz')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path !== '/mutate') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'POST' }).end('method not allowed\n');
      return;
    }
    const raw = await readBody(req, cfg.max_body_bytes);
    let answer: ReviewResult;
    if (raw === undefined) {
      answer = malformed('', `body larger than ${cfg.max_body_bytes} bytes`);
    } else {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = undefined;
      }
      answer = body === undefined ? malformed('', 'body is not valid JSON') : answerReview(body, cfg);
    }
    log[answer.outcome === 'malformed' ? 'warn' : 'info']('inject: review', { uid: answer.body.response.uid, outcome: answer.outcome, detail: answer.detail });
    const json = JSON.stringify(answer.body);
    res.writeHead(answer.httpStatus, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
  }

  function reloadTls(): boolean {
    const next = readTls(cfg);
    if (next.cert.equals(tls.cert) && next.key.equals(tls.key)) return false;
    server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' });
    tls = next;
    log.info('inject: TLS certificate reloaded');
    return true;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.listen.port, cfg.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const timer =
    cfg.tls.reload_interval_s > 0
      ? setInterval(() => {
          try {
            reloadTls();
          } catch (err) {
            // Keep serving the last good certificate; cert-manager may be mid-write.
            log.warn('inject: TLS reload failed, keeping the current certificate', { err });
          }
        }, cfg.tls.reload_interval_s * 1000).unref()
      : undefined;

  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    reloadTls,
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (timer) clearInterval(timer);
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

function readTls(cfg: Readonly<InjectorConfig>): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(cfg.tls.cert_file), key: readFileSync(cfg.tls.key_file) };
}

/** The request body, or undefined when it exceeds `limit` bytes (the rest is discarded). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      if (!over) chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
