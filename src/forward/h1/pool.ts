/**
 * A pooled keep-alive HTTP/1.1 client specialised for the proxy's upstream: up
 * to `connections` sockets, one request each at a time (pipelining off), idle
 * sockets reused newest first, requests queued FIFO when every socket is busy.
 *
 * Why not undici: on this 2-core machine undici's per-request machinery cost
 * ~90 µs CPU per proxied request against ~20 µs for a plain socket
 * (bench/results/2026-12-02-dc3cff4/upstream-client.md); this client keeps per-request allocation
 * to the exchange object, the head string and the parsed header list.
 *
 * Timeouts run off one coarse sweep per pool (a tenth of the shortest timeout,
 * 10 ms to 1 s) instead of a timer per request, so each fires within ±10% of
 * its setting: headers (from sending the request, or from connecting), body
 * (idle time between response bytes while the client reads), and keep-alive
 * idle (config, shortened by the upstream's `Keep-Alive: timeout=` hint).
 *
 * A request that fails on a reused connection before any response byte (the
 * upstream closed the idle socket as we wrote) is sent once more on a fresh
 * connection when it is idempotent and its body is a Buffer or absent.
 */
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Connection, type ConnectionOwner } from './connection.js';
import { H1Error } from './errors.js';
import { H1Exchange, type H1Request, type UpstreamHandler } from './exchange.js';
import type { ParserLimits } from './parser.js';
import { connectOptions, parseUpstreamTarget } from './target.js';

export interface H1PoolOptions {
  /** http://host:port (the origin; a path is ignored) or unix:/path/to/app.sock (src/forward/h1/target.ts). */
  readonly url: string;
  readonly connections: number;
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  /** 0: none. */
  readonly bodyTimeoutMs: number;
  /** Largest response head, bytes (default 64 KiB). */
  readonly maxHeadBytes?: number;
  /** Most response header lines (default 200). */
  readonly maxHeaders?: number;
}

export class H1Pool implements ConnectionOwner {
  clock = performance.now();
  readonly hostHeader: string;
  readonly limits: ParserLimits;
  /** Where each new connection goes (TCP host and port, or a socket path). */
  private readonly target: net.NetConnectOpts;
  private readonly conns: Connection[] = [];
  private readonly idle: Connection[] = [];
  private queue: H1Exchange[] = [];
  private readonly defaults: { headersTimeoutMs: number; bodyTimeoutMs: number };
  private timer: NodeJS.Timeout | undefined;
  private tickMs: number;
  private closed = false;
  private closing: Promise<void> | undefined;
  private whenClosed: (() => void) | undefined;
  private readonly dequeue = (ex: H1Exchange) => {
    const i = this.queue.indexOf(ex);
    if (i !== -1) this.queue.splice(i, 1);
  };

  constructor(private readonly opts: H1PoolOptions) {
    const target = parseUpstreamTarget(opts.url);
    this.target = connectOptions(target);
    this.hostHeader = target.hostHeader;
    this.limits = { maxHeadBytes: opts.maxHeadBytes ?? 64 * 1024, maxHeaders: opts.maxHeaders ?? 200 };
    this.defaults = { headersTimeoutMs: opts.headersTimeoutMs, bodyTimeoutMs: opts.bodyTimeoutMs };
    this.tickMs = tickFor(Math.min(opts.headersTimeoutMs, opts.keepAliveTimeoutMs, opts.bodyTimeoutMs > 0 ? opts.bodyTimeoutMs : Infinity));
  }

  /** Connections open / idle, and requests waiting for one. */
  stats(): { connections: number; idle: number; queued: number } {
    return { connections: this.conns.length, idle: this.idle.length, queued: this.queue.length };
  }

  /** Send `req`; the handler hears about its response (or its failure) exactly once. */
  dispatch(req: H1Request, handler: UpstreamHandler): void {
    const ex = new H1Exchange(req, handler, this.defaults, this.dequeue);
    if (this.closed) {
      ex.end();
      return handler.onResponseError(ex, new H1Error('H1_POOL_CLOSED', 'the upstream pool is closed'));
    }
    handler.onRequestStart?.(ex);
    if (ex.done) return;
    this.clock = performance.now();
    const shortest = Math.min(ex.headersTimeoutMs, ex.bodyTimeoutMs > 0 ? ex.bodyTimeoutMs : Infinity);
    if (this.timer === undefined || tickFor(shortest) < this.tickMs) this.startSweep(Math.min(this.tickMs, tickFor(shortest)));
    this.assign(ex, false);
  }

  private assign(ex: H1Exchange, fresh: boolean): void {
    if (!fresh) {
      const conn = this.idle.pop();
      if (conn) return conn.start(ex);
    }
    if (this.conns.length < this.opts.connections) {
      const conn = new Connection(this, this.target, this.opts.keepAliveTimeoutMs);
      this.conns.push(conn);
      return conn.start(ex);
    }
    this.queue.push(ex);
  }

  released(conn: Connection): void {
    const next = this.queue.shift();
    if (next) return conn.start(next);
    conn.idleSince = this.clock;
    this.idle.push(conn);
    this.checkClosed();
  }

  removed(conn: Connection): void {
    removeFrom(this.conns, conn);
    removeFrom(this.idle, conn);
    const next = this.queue.shift();
    if (next) this.assign(next, true);
    this.checkClosed();
  }

  retry(ex: H1Exchange): void {
    this.assign(ex, true);
  }

  private startSweep(ms: number): void {
    if (this.timer) clearInterval(this.timer);
    this.tickMs = ms;
    this.timer = setInterval(() => this.sweep(), ms);
    this.timer.unref();
  }

  private sweep(): void {
    const now = (this.clock = performance.now());
    for (let i = this.conns.length - 1; i >= 0; i--) {
      const conn = this.conns[i];
      if (conn === undefined) continue;
      const ex = conn.ex;
      if (ex === undefined) {
        if (now - conn.idleSince > conn.idleLimitMs) conn.destroy();
      } else if (!ex.headReceived) {
        if (now - ex.sentAt > ex.headersTimeoutMs) conn.fail(new H1Error('H1_HEADERS_TIMEOUT', `no response head within ${ex.headersTimeoutMs} ms`), false);
      } else if (ex.bodyTimeoutMs > 0 && !ex.paused && now - ex.lastActivity > ex.bodyTimeoutMs) {
        conn.fail(new H1Error('H1_BODY_TIMEOUT', `no response bytes for ${ex.bodyTimeoutMs} ms`), false);
      }
    }
  }

  /** Stop taking requests, let in-flight and queued ones finish, then close every socket. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = new Promise<void>((resolve) => (this.whenClosed = resolve));
    this.checkClosed();
    return this.closing;
  }

  /** Fail everything now (every in-flight request gets `err`) and close. */
  destroy(err: Error = new H1Error('H1_POOL_CLOSED', 'the upstream pool was destroyed')): Promise<void> {
    const closing = this.close();
    const queued = this.queue;
    this.queue = [];
    for (const ex of queued) ex.abort(err);
    for (const conn of [...this.conns]) conn.ex ? conn.fail(err, false) : conn.destroy();
    return closing;
  }

  private checkClosed(): void {
    if (!this.closed || !this.whenClosed || this.queue.length > 0) return;
    if (this.conns.some((c) => c.ex !== undefined)) return;
    const resolve = this.whenClosed;
    this.whenClosed = undefined; // destroying below re-enters through removed()
    for (const conn of [...this.idle]) conn.destroy();
    if (this.timer) clearInterval(this.timer);
    resolve();
  }
}

function tickFor(timeoutMs: number): number {
  return Math.max(10, Math.min(1000, Math.floor(timeoutMs / 10)));
}

function removeFrom(list: Connection[], conn: Connection): void {
  const i = list.indexOf(conn);
  if (i === -1) return;
  const last = list.pop()!;
  if (i < list.length) list[i] = last;
}
