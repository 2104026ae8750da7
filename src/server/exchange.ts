/**
 * One request/response exchange: the uWS response handle plus the state every
 * stage shares. uWS forbids touching a response after it was aborted (the native
 * object is gone), so every write goes through here and checks `aborted` first.
 */
import { errorBody, statusLine, type Denial, statusOf } from '../errors.js';
import type { AuthContext } from '../authenticate/context.js';
import type { CompiledRoute } from '../routes.js';
import type { RequestBody } from './body.js';
import { padToClose } from './closing.js';
import type { RequestHead } from './request.js';
import type { HttpResponse } from './uws.js';

/** Something to tell when the client disconnects. */
export interface AbortTarget {
  clientAborted(): void;
}

export class Exchange {
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
  /** The upstream's `x-argus-usage` report, if it sent one (metering validates it). */
  reportedUsage: string | undefined;
  /** The sidecar refused the request itself (nothing was forwarded). */
  denied = false;
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
  ) {}

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
    this.reply(status, denial.headers, errorBody(denial.code, denial.message, this.head.requestId), close);
  }

  /** Answer a whole response at once (errors, admin-style replies). */
  reply(status: number, headers: ReadonlyArray<readonly [string, string]> | undefined, body: string, close = false): void {
    if (this.aborted || this.started) return;
    this.started = true;
    this.status = status;
    const head = this.head.method === 'HEAD';
    // A closing answer must end the connection before uWS parses what follows (src/server/closing.ts).
    const sent = close && !head ? padToClose(body) : body;
    this.bytesOut = head ? 0 : Buffer.byteLength(sent);
    const res = this.res;
    const requestId = this.head.requestId;
    res.cork(() => {
      res.writeStatus(statusLine(status));
      res.writeHeader('content-type', 'application/json');
      res.writeHeader('x-request-id', requestId);
      if (headers) for (const [k, v] of headers) res.writeHeader(k, v);
      const extra = this.responseHeaders;
      if (extra) for (let i = 0; i < extra.length; i += 2) res.writeHeader(extra[i]!, extra[i + 1]!);
      // A response to HEAD carries no body (RFC 9110 §9.3.2), the sidecar's own refusals included.
      // (endWithoutBody with a non-zero length would leave uWS waiting for that many bytes.)
      if (head) res.endWithoutBody(0, close);
      else res.end(sent, close);
    });
    if (close && head) this.closing = true;
    this.done();
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
