/**
 * One upstream request while it is queued or in flight. It is also the
 * controller handed to the handler (pause, resume, abort), so a late call from a
 * handler whose response already ended cannot touch the connection's next request.
 */
import type { Readable } from 'node:stream';

/** What a handler may do to its request. */
export interface UpstreamController {
  /** Stop reading the response (backpressure): nothing more is delivered until resume(). */
  pause(): void;
  resume(): void;
  /** Cancel: the connection is destroyed, the handler gets onResponseError(reason). */
  abort(reason: Error): void;
}

/** Receives one response. Exactly one of onResponseEnd / onResponseError ends it. */
export interface UpstreamHandler {
  onRequestStart?(controller: UpstreamController): void;
  /** Headers flat [lower-case name, value, …], in arrival order. */
  onResponseStart(controller: UpstreamController, status: number, headers: string[]): void;
  /** `chunk` is valid only during the call (the h1 client reads into one shared buffer): copy it to keep it. */
  onResponseData(controller: UpstreamController, chunk: Buffer): void;
  onResponseEnd(controller: UpstreamController): void;
  onResponseError(controller: UpstreamController, err: Error): void;
}

/**
 * Header lines the caller built and checked itself (the sidecar's identity
 * headers, rendered once per AuthContext): `lines` goes out as it is, `list` is
 * the same as flat [name, value, …] for clients that take a list.
 */
export interface TrustedHeaders {
  readonly list: readonly string[];
  /** `name: value\r\n` per header. */
  readonly lines: string;
}

export interface H1Request {
  readonly method: string;
  /** Path plus "?query" when present. */
  readonly path: string;
  /** Flat [name, value, …]. Content-Length / Transfer-Encoding are replaced by the client's own framing. */
  readonly headers: readonly string[];
  /** Sent after `headers` without checks (see {@link TrustedHeaders}). */
  readonly trusted?: TrustedHeaders | undefined;
  /**
   * Flat [name, value, …] the caller built from parts it validated itself (the
   * trace context: src/observe/trace-context.ts): sent last, without the
   * per-character checks `headers` get, which cost ~30 instructions a character.
   */
  readonly checked?: readonly string[] | undefined;
  readonly body: Buffer | Readable | null;
  readonly headersTimeoutMs?: number | undefined;
  /** 0: no body timeout (long streams); undefined: the pool's. */
  readonly bodyTimeoutMs?: number | undefined;
}

/** What an exchange needs of the connection it runs on (implemented by `Connection` in ./connection.ts). */
export interface ExchangeConnection {
  pauseReading(): void;
  resumeReading(): void;
  fail(err: Error, socketFault: boolean): void;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export class H1Exchange implements UpstreamController {
  conn: ExchangeConnection | undefined;
  /** Ended (response complete, failed or aborted): every later call is a no-op. */
  done = false;
  paused = false;
  /** The response head arrived (the headers timeout no longer applies). */
  headReceived = false;
  /** Every request body byte was written. */
  bodySent = false;
  /** Already retried once on a fresh connection. */
  retried = false;
  /** Pool clock when the request was sent / the last response bytes arrived. */
  sentAt = 0;
  lastActivity = 0;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** Detaches the request body stream's listeners (streams only). */
  detachBody: (() => void) | undefined;

  constructor(
    readonly req: H1Request,
    readonly handler: UpstreamHandler,
    defaults: { headersTimeoutMs: number; bodyTimeoutMs: number },
    private readonly onAbortQueued: (ex: H1Exchange) => void,
  ) {
    this.headersTimeoutMs = req.headersTimeoutMs ?? defaults.headersTimeoutMs;
    this.bodyTimeoutMs = req.bodyTimeoutMs ?? defaults.bodyTimeoutMs;
  }

  /** Safe to send again on a fresh connection if a reused one turned out dead. */
  get replayable(): boolean {
    const body = this.req.body;
    return !this.retried && (body === null || Buffer.isBuffer(body)) && IDEMPOTENT.has(this.req.method);
  }

  pause(): void {
    if (this.done || this.paused) return;
    this.paused = true;
    this.conn?.pauseReading();
  }

  resume(): void {
    if (this.done || !this.paused) return;
    this.paused = false;
    this.conn?.resumeReading();
  }

  abort(reason: Error): void {
    if (this.done) return;
    if (this.conn) return this.conn.fail(reason, false);
    this.onAbortQueued(this);
    this.end();
    this.handler.onResponseError(this, reason);
  }

  /** Mark ended and release the body stream. */
  end(): void {
    this.done = true;
    this.conn = undefined;
    const detach = this.detachBody;
    this.detachBody = undefined;
    detach?.();
  }
}
