/**
 * The uWS HTTP front: listens, copies each request head out of uWS, and hands
 * the exchange to the pipeline. One instance per thread; nothing module-global.
 */
import { randomBytes } from 'node:crypto';
import { requestIdFrom, requestIdGenerator } from '../forward/headers.js';
import { Exchange } from './exchange.js';
import type { HeaderStats } from './hygiene.js';
import type { RequestHead } from './request.js';
import { closeListenSocket, listenPort, loadUws, textOf, type TemplatedApp, type us_listen_socket, type UwsModule } from './uws.js';

export interface RequestHandler {
  handle(ex: Exchange, stats: HeaderStats): void;
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly allowJsFallback: boolean;
  readonly now: () => number;
}

export class HttpServer {
  readonly uws: UwsModule;
  readonly app: TemplatedApp;
  /** Requests being served (drain waits for 0). */
  inflight = 0;
  private listenSocket: us_listen_socket | undefined;
  private idleWaiters: Array<() => void> = [];
  private readonly nextRequestId = requestIdGenerator(randomBytes(6).toString('hex'));

  constructor(private readonly opts: HttpServerOptions, private readonly handler: RequestHandler) {
    this.uws = loadUws({ allowJsFallback: opts.allowJsFallback });
    this.app = this.uws.App();
    this.app.any('/*', (res, req) => {
      const method = req.getCaseSensitiveMethod().toUpperCase();
      const path = req.getUrl();
      const query = req.getQuery() ?? '';
      const headers: string[] = [];
      const stats: HeaderStats = { bytes: method.length + path.length + query.length + 12, count: 0, contentLengths: 0, contentLength: undefined, transferEncoding: undefined };
      let clientRequestId: string | undefined;
      req.forEach((name, value) => {
        headers.push(name, value);
        stats.bytes += name.length + value.length + 4;
        stats.count++;
        if (name === 'content-length') {
          stats.contentLengths++;
          stats.contentLength = value;
        } else if (name === 'transfer-encoding') stats.transferEncoding = value;
        else if (name === 'x-request-id') clientRequestId = value;
      });
      const head: RequestHead = {
        method,
        path,
        query,
        headers,
        remoteAddress: textOf(res.getRemoteAddressAsText()),
        requestId: requestIdFrom(clientRequestId, this.nextRequestId),
      };
      const ex = new Exchange(res, head, this.opts.now());
      res.onAborted(() => ex.markAborted());
      this.inflight++;
      ex.onFinish = () => this.finished();
      this.handler.handle(ex, stats);
    });
  }

  private finished(): void {
    this.inflight--;
    if (this.inflight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Start listening; resolves with the bound port (0 picks a free one). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen(this.opts.host, this.opts.port, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on ${this.opts.host}:${this.opts.port}`));
        this.listenSocket = socket;
        resolve(listenPort(this.uws, socket));
      });
    });
  }

  /** Stop accepting new connections (existing ones finish their requests). */
  stopAccepting(): void {
    if (this.listenSocket) {
      closeListenSocket(this.uws, this.listenSocket);
      this.listenSocket = undefined;
    }
  }

  /** Resolves when no request is in flight, or after `timeoutMs`; true if idle. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.inflight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Close every connection at once (after the drain). */
  closeAll(): void {
    this.stopAccepting();
    (this.app as unknown as { close?: () => void }).close?.();
  }
}
