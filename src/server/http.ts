/**
 * The uWS HTTP front: listens, copies each request head out of uWS, and hands
 * the exchange to the pipeline. One instance per thread; nothing module-global.
 */
import { LiveExchanges } from './live-exchanges.js';
import { randomBytes } from 'node:crypto';
import { deny } from '../errors.js';
import { isWellFormedRequestId } from '../forward/headers.js';
import { ClosingConnections } from './closing.js';
import { Exchange } from '../request/exchange.js';
import type { HeaderStats } from './hygiene.js';
import type { RequestHead } from '../request/head.js';
import type { WsUserData } from '../forward/websocket.js';
import {
  closeApp,
  closeListenSocket,
  listenPort,
  listenOnUws,
  loadUws,
  textOf,
  type HttpRequest,
  type HttpResponse,
  type TemplatedApp,
  type us_listen_socket,
  type us_socket_context_t,
  type UwsModule,
} from './uws.js';

export interface RequestHandler {
  handle(ex: Exchange, stats: HeaderStats): void;
  upgrade(ex: Exchange, stats: HeaderStats, upgrade: UpgradeInfo): void;
}

/** What a WebSocket upgrade needs besides the head (valid after the uWS handler returns). */
export interface UpgradeInfo {
  readonly key: string;
  readonly protocol: string;
  readonly extensions: string;
  readonly context: us_socket_context_t;
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly allowJsFallback: boolean;
  readonly now: () => number;
  /** Largest WebSocket message accepted from a client. */
  readonly wsMaxPayloadBytes: number;
  /** Bytes buffered towards a WebSocket peer before backpressure applies. */
  readonly wsMaxBufferedBytes: number;
  /** Seconds a WebSocket client may stay silent (uWS pings it first); default 120. */
  readonly wsIdleTimeoutS?: number;
  /**
   * Share the port with this sidecar's other threads (SO_REUSEPORT). False: bind it
   * exclusively, so a port another process holds fails to listen instead of splitting
   * its traffic (the exclusive pre-bind check: src/startup.ts).
   */
  readonly sharePort?: boolean;
}

/** What every exchange of one server reads while it answers (see {@link HttpServer.beginDrain}). */
export interface DrainState {
  /** Every response from now on says `Connection: close`, so keep-alive clients move away. */
  closeConnections: boolean;
}

/** Methods as uWS reports them → the pipeline's upper-case form (the common ones without toUpperCase). */
const UPPER_METHODS = new Map(
  ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].flatMap(
    (m) =>
      [
        [m, m],
        [m.toLowerCase(), m],
      ] as const,
  ),
);

export class HttpServer {
  readonly uws: UwsModule;
  readonly app: TemplatedApp;
  /** Requests being served (drain waits for 0). */
  inflight = 0;
  /** Shared with every exchange (one object, read per response). */
  readonly drain: DrainState = { closeConnections: false };
  /** Exchanges in flight, so a drain that runs out of time can end each one honestly. */
  private readonly live = new LiveExchanges<Exchange>();
  /** Past the drain: the upstream pool is closing, a late request is refused with 503. */
  private closed = false;
  private listenSocket: us_listen_socket | undefined;
  private idleWaiters: Array<() => void> = [];
  /** Per-process random prefix + counter: unique ids without per-request crypto. */
  private readonly idPrefix = randomBytes(6).toString('hex') + '-';
  private serial = 0;

  constructor(
    private readonly opts: HttpServerOptions,
    private readonly handler: RequestHandler,
  ) {
    this.uws = loadUws({ allowJsFallback: opts.allowJsFallback });
    this.app = this.uws.App();
    this.app.ws<WsUserData>('/*', {
      compression: this.uws.DISABLED,
      maxPayloadLength: opts.wsMaxPayloadBytes,
      maxBackpressure: opts.wsMaxBufferedBytes * 2,
      idleTimeout: opts.wsIdleTimeoutS ?? 120,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        const upgrade: UpgradeInfo = {
          key: req.getHeader('sec-websocket-key'),
          protocol: req.getHeader('sec-websocket-protocol'),
          extensions: req.getHeader('sec-websocket-extensions'),
          context,
        };
        const begun = this.begin(res, req);
        if (!begun) return;
        if (this.closed) return begun.ex.replyError(deny('ARGUS_DRAINING', 'the sidecar is shutting down; retry on a new connection'), true);
        this.handler.upgrade(begun.ex, begun.stats, upgrade);
      },
      open: (ws) => ws.getUserData().session.attach(ws),
      message: (ws, message, isBinary) => ws.getUserData().session.fromClient(message, isBinary),
      ping: (ws, message) => ws.getUserData().session.pingFromClient(message),
      pong: (ws) => ws.getUserData().session.heard(),
      drain: (ws) => ws.getUserData().session.drained(),
      close: (ws, code, message) => ws.getUserData().session.clientClosed(code, message),
    });
    this.app.any('/*', (res, req) => {
      const begun = this.begin(res, req);
      if (!begun) return;
      if (this.closed) return begun.ex.replyError(deny('ARGUS_DRAINING', 'the sidecar is shutting down; retry on a new connection'), true);
      this.handler.handle(begun.ex, begun.stats);
    });
  }

  /** After a closing refusal, nothing more on that connection is served (src/server/closing.ts). */
  private readonly closing = new ClosingConnections();

  /**
   * Copy the request head out of uWS (valid only during this call) and open an
   * exchange; undefined when the request came behind a closing refusal (held, then closed).
   */
  private begin(res: HttpResponse, req: HttpRequest): { ex: Exchange; stats: HeaderStats } | undefined {
    const remoteAddress = textOf(res.getRemoteAddressAsText());
    if (this.closing.hold(res, remoteAddress)) return undefined;
    const raw = req.getCaseSensitiveMethod();
    const method = UPPER_METHODS.get(raw) ?? raw.toUpperCase();
    const path = req.getUrl();
    const query = req.getQuery() ?? '';
    const headers: string[] = [];
    const stats: HeaderStats = {
      bytes: method.length + path.length + query.length + 12,
      count: 0,
      contentLengths: 0,
      contentLength: undefined,
      transferEncodings: 0,
      transferEncoding: undefined,
      hosts: 0,
      host: undefined,
    };
    // One callback for the server's life; the scratch fields carry this request's state.
    this.scratchHeaders = headers;
    this.scratchStats = stats;
    this.scratchRequestId = undefined;
    req.forEach(this.copyHeader);
    const clientRequestId = this.scratchRequestId as string | undefined;
    const head: { -readonly [K in keyof RequestHead]: RequestHead[K] } = {
      method,
      path,
      query,
      headers,
      remoteAddress,
      requestId: '',
    };
    const key = this.idPrefix + (++this.serial).toString(36);
    head.requestId = isWellFormedRequestId(clientRequestId) ? clientRequestId : key;
    const ex = new Exchange(res, head, this.opts.now(), key, this.drain);
    res.onAborted(() => ex.markAborted());
    this.inflight++;
    this.live.add(ex);
    ex.onFinish = this.exchangeFinished;
    return { ex, stats };
  }

  private scratchHeaders: string[] = [];
  private scratchStats: HeaderStats | undefined;
  private scratchRequestId: string | undefined;
  private readonly copyHeader = (name: string, value: string): void => {
    this.scratchHeaders.push(name, value);
    const stats = this.scratchStats!;
    stats.bytes += name.length + value.length + 4;
    stats.count++;
    if (name === 'content-length') {
      stats.contentLengths++;
      stats.contentLength = value;
    } else if (name === 'transfer-encoding') {
      stats.transferEncodings++;
      stats.transferEncoding = value;
    } else if (name === 'host') {
      stats.hosts++;
      stats.host = value;
    } else if (name === 'x-request-id') this.scratchRequestId = value;
  };
  private readonly exchangeFinished = (ex: Exchange): void => this.finished(ex);

  private finished(ex: Exchange): void {
    this.live.delete(ex);
    if (ex.closing) this.closing.mark(ex.head.remoteAddress);
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
      listenOnUws(this.uws, this.app, this.opts.host, this.opts.port, this.opts.sharePort === true, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on ${this.opts.host}:${this.opts.port}`));
        this.listenSocket = socket;
        resolve(listenPort(this.uws, socket));
      });
    });
  }

  /**
   * Drain begins: keep serving, but every response now carries `Connection: close`
   * (a keep-alive client opens its next request elsewhere), and a response written
   * whole also closes the connection behind it.
   */
  beginDrain(): void {
    this.drain.closeConnections = true;
  }

  /**
   * The drain ran out of time: end every exchange still in flight the honest way
   * (a stream gets a final shutdown event, a request still waiting gets 503), then
   * refuse anything that arrives on a connection still open. Returns how many were cut.
   */
  cutInflight(): number {
    this.closed = true;
    const cut = this.live.snapshot();
    for (const ex of cut) ex.cutForShutdown();
    return cut.length;
  }

  /**
   * After the drain: close the listener and every connection still open. They are
   * idle (no request in flight), so each is closed between requests, with a FIN.
   */
  close(): void {
    this.closed = true;
    this.listenSocket = undefined;
    closeApp(this.app);
  }

  /** Stop accepting new connections (existing ones finish their requests). */
  stopAccepting(): void {
    if (this.listenSocket) {
      closeListenSocket(this.uws, this.listenSocket);
      this.listenSocket = undefined;
    }
  }

  /**
   * Resolves true once no request has been in flight for `quietMs` (responses just
   * ended get time to leave uWS's buffers; a request that arrived meanwhile on an
   * open connection is served first), or false after `timeoutMs`.
   */
  async whenQuiet(quietMs: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!(await this.whenIdle(Math.max(0, deadline - Date.now())))) return false;
      const served = this.serial;
      await new Promise((resolve) => setTimeout(resolve, Math.min(quietMs, Math.max(0, deadline - Date.now()))));
      if (this.inflight === 0 && this.serial === served) return true;
      if (Date.now() >= deadline) return this.inflight === 0;
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
}
