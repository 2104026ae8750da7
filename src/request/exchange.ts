/**
 * One request/response exchange: the uWS response handle plus the state every
 * stage shares. uWS forbids touching a response after it was aborted (the native
 * object is gone), so every write goes through here and checks `aborted` first.
 */
import { deny, errorBody, shouldRetry, statusLine, type Denial, statusOf } from '../errors.js';
import type { AuthContext } from './principal.js';
import type { CompiledRoute } from './route.js';
import type { RequestBody } from '../server/body.js';
import { padToClose } from '../server/closing.js';
import type { RequestHead } from './head.js';
import type { HttpResponse } from '../server/uws.js';
import type { RequestTrace } from '../observe/request-trace.js';

/**
 * Holds a response's last bytes (and a stream's bytes) until the usage they
 * deliver is in the metering spool (src/meter/durable.ts). Absent: no metering.
 */
export interface DurableGate {
  /**
   * Record the response's usage: `final`, its last bytes go out next (the final
   * events); else stream bytes go out (a start record / checkpoint). True: the
   * write must wait for `after`.
   */
  hold(ex: Exchange, final: boolean): boolean;
  /**
   * Run `write` (or its `spooled()`) once what was recorded is in the spool (at the end of
   * this event-loop turn; in order). An object saves a closure per held response.
   */
  after(write: (() => void) | { spooled(): void }): void;
}

/** Something to tell when the client disconnects. */
export interface AbortTarget {
  clientAborted(): void;
  /** The sidecar's drain ran out of time: end the response now, as honestly as its state allows. */
  shutdown?(): void;
}

/** The server's drain flag, shared by all its exchanges (see src/server/http.ts). */
export interface DrainFlag {
  readonly closeConnections: boolean;
}

const NOT_DRAINING: DrainFlag = { closeConnections: false };

export class Exchange {
  /** Index in the server's list of exchanges in flight (src/server/live-exchanges.ts), -1 when not in it. */
  liveSlot = -1;
  aborted = false;
  /** Status line written (headers sent). */
  started = false;
  /** Response ended. */
  finished = false;
  status = 0;
  bytesOut = 0;
  /** Route label for metrics (the matched route's path pattern). */
  routeLabel = 'unmatched';
  body: RequestBody | undefined;
  /** Matched route, once known. */
  route: CompiledRoute | undefined;
  /** Caller identity, once authenticated (null: anonymous). */
  ctx: AuthContext | null = null;
  /** Identity served from cache while a dependency is down (route fails open). */
  stale = false;
  /** Headers the sidecar adds to the response, flat [name, value, …] (e.g. RateLimit). */
  responseHeaders: ReadonlyArray<string | Uint8Array> | undefined;
  /** CORS headers for this response, flat [name, value, …] (routes with `cors:`, src/cors/stage.ts). */
  corsHeaders: readonly string[] | undefined;
  /** The upstream's `x-argus-usage` report, if it sent one (metering validates it). */
  reportedUsage: string | undefined;
  /** The sidecar refused the request itself (nothing was forwarded). */
  denied = false;
  /** The refusal's code (`ARGUS_*`), when the sidecar refused or failed it itself. */
  code: string | undefined;
  /** The request's trace context and span, when tracing is on (src/observe/request-trace.ts). */
  trace: RequestTrace | undefined;
  /** Metering: see {@link DurableGate}. */
  durable: DurableGate | undefined;
  /** The final usage events were recorded (before the last byte, by the durable gate). */
  metered = false;
  /** A start record of this streamed response was recorded. */
  checkpointed = false;
  /** A closing refusal to HEAD (no body to pad): what follows from this address in this turn is held (src/server/closing.ts). */
  closing = false;
  /** Called once, when the response ends or the client aborts (the server's bookkeeping). */
  onFinish: ((ex: Exchange) => void) | undefined;
  /** Called once after onFinish (the pipeline's metrics and metering). */
  onDone: ((ex: Exchange) => void) | undefined;
  /** Told when the client goes away mid-exchange (the upstream relay). */
  private abortTarget: AbortTarget | undefined;

  constructor(
    readonly res: HttpResponse,
    readonly head: RequestHead,
    readonly startedAt: number,
    /** Sidecar-chosen id unique to this request (usage event ids derive from it). */
    private readonly key: string,
    /** While the sidecar drains, responses carry `Connection: close`. */
    readonly drain: DrainFlag = NOT_DRAINING,
  ) {}

  /**
   * The drain deadline passed with this exchange in flight: the relay ends its
   * stream (a final SSE event, or a cut), and a request that has not reached the
   * upstream yet is answered 503 `ARGUS_DRAINING`.
   */
  cutForShutdown(): void {
    if (this.finished || this.aborted) return;
    const target = this.abortTarget;
    if (target?.shutdown) return target.shutdown();
    this.body?.abort();
    if (!this.started) {
      this.replyError(deny('ARGUS_DRAINING', 'the sidecar is shutting down; retry'), true);
    } else {
      this.res.close();
      this.done();
    }
    // Stages still running for it (authentication, an extension's preparation) stop at their next `aborted` check.
    this.aborted = true;
  }

  eventKey(): string {
    return this.key;
  }

  /** uWS calls this when the client disconnects before the response ended. */
  markAborted(): void {
    if (this.aborted || this.finished) return;
    this.aborted = true;
    this.body?.abort();
    const target = this.abortTarget;
    this.abortTarget = undefined;
    target?.clientAborted();
    this.done();
  }

  /** `target.clientAborted()` runs when the client disconnects (at once if it already has). One target per exchange. */
  onAbort(target: AbortTarget): void {
    if (this.aborted) target.clientAborted();
    else this.abortTarget = target;
  }

  /** Answer with a contract error body. `close` ends the connection after it. */
  replyError(denial: Denial, close = false): void {
    const status = statusOf(denial.code);
    const retry = shouldRetry(denial.code);
    const headers = retry === undefined ? denial.headers : [...(denial.headers ?? []), ['x-should-retry', retry] as const];
    this.reply(status, headers, errorBody(denial.code, denial.message, this.head.requestId), close);
  }

  /** Answer with no body (a CORS preflight's 204). */
  replyEmpty(status: number, headers: ReadonlyArray<readonly [string, string]>): void {
    if (this.aborted || this.started) return;
    this.started = true;
    this.status = status;
    const res = this.res;
    const requestId = this.head.requestId;
    res.cork(() => {
      res.writeStatus(statusLine(status));
      res.writeHeader('x-request-id', requestId);
      for (const [k, v] of headers) res.writeHeader(k, v);
      res.endWithoutBody();
    });
    this.done();
  }

  /** Answer a whole response at once (errors, admin-style replies). */
  reply(status: number, headers: ReadonlyArray<readonly [string, string]> | undefined, body: string, close = false): void {
    if (this.aborted || this.started) return;
    this.started = true;
    this.status = status;
    const head = this.head.method === 'HEAD';
    // A closing answer must end the connection before uWS parses what follows (src/server/closing.ts);
    // so must one that says `Connection: close` because the sidecar drains (RFC 9112 §9.6).
    const sent = (close || this.drain.closeConnections) && !head ? padToClose(body) : body;
    this.bytesOut = head ? 0 : Buffer.byteLength(sent);
    const gate = this.durable;
    if (gate?.hold(this, true)) {
      gate.after(() => {
        if (!this.aborted) this.writeReply(status, headers, sent, close, head);
        this.done();
      });
      return;
    }
    this.writeReply(status, headers, sent, close, head);
    this.done();
  }

  private writeReply(status: number, headers: ReadonlyArray<readonly [string, string]> | undefined, sent: string, close: boolean, head: boolean): void {
    const res = this.res;
    const requestId = this.head.requestId;
    const closeConnection = close || this.drain.closeConnections;
    res.cork(() => {
      res.writeStatus(statusLine(status));
      res.writeHeader('content-type', 'application/json');
      res.writeHeader('x-request-id', requestId);
      if (headers) for (const [k, v] of headers) res.writeHeader(k, v);
      const extra = this.responseHeaders;
      if (extra) for (let i = 0; i < extra.length; i += 2) res.writeHeader(extra[i]!, extra[i + 1]!);
      const cors = this.corsHeaders;
      if (cors) for (let i = 0; i < cors.length; i += 2) res.writeHeader(cors[i]!, cors[i + 1]!);
      // A response to HEAD carries no body (RFC 9110 §9.3.2), the sidecar's own refusals included.
      // (endWithoutBody with a non-zero length would leave uWS waiting for that many bytes.)
      if (head) res.endWithoutBody(0, closeConnection);
      else res.end(sent, closeConnection);
    });
    // No body to pad: what follows from this address in this turn is held instead (during a drain too).
    if (closeConnection && head) this.closing = true;
  }

  /** Mark the exchange complete (response ended, or aborted). Idempotent. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    const server = this.onFinish;
    const pipeline = this.onDone;
    this.onFinish = this.onDone = undefined;
    server?.(this);
    pipeline?.(this);
  }
}
