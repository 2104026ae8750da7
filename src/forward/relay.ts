/**
 * Relays an upstream response to the uWS client as it arrives, with backpressure
 * both ways: when the client's socket is full, the upstream read is paused
 * (`controller.pause()`) until uWS calls `onWritable`. Nothing is buffered whole,
 * so SSE and chunked streams pass through chunk by chunk.
 *
 * Framing: with an upstream Content-Length the client gets the same length
 * (`tryEnd`); otherwise chunks are written as they come (chunked encoding).
 */
import { STATUS_CODES } from 'node:http';
import { deny, type Denial } from '../errors.js';
import type { AbortTarget, Exchange } from '../request/exchange.js';
import { clientResponseHeaders, headerValue } from './headers.js';
import type { UpstreamController, UpstreamHandler } from './h1/exchange.js';

/** Observes the response as it passes (metering, an extension's usage extraction). */
export interface ResponseObserver {
  /** Headers flat [lower-case name, value, …]. */
  onStart?(status: number, headers: readonly string[]): void;
  onChunk?(chunk: Buffer): void;
  onEnd?(outcome: 'complete' | 'aborted' | 'error'): void;
}

/** Response header an upstream uses to report its own usage (validated and metered, then stripped). */
export const USAGE_HEADER = 'x-argus-usage';

export type RelayFailure = 'refused' | 'reset' | 'timeout' | 'body_timeout' | 'protocol' | 'other';

/**
 * After a client disconnects, keep reading the upstream (bounded) instead of
 * cancelling it: a metered upstream (e.g. a model provider) charges for the whole generation, and its usage
 * arrives at the end of the stream.
 */
export interface DrainPolicy {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** The observer has what it needs (final usage seen): stop early. */
  readonly done: () => boolean;
}

export interface RelayOptions {
  /** Response headers the sidecar consumes instead of passing on. */
  readonly stripHeaders?: ReadonlySet<string>;
  readonly observer?: ResponseObserver;
  /** Absent: a client abort cancels the upstream at once. */
  readonly drain?: DrainPolicy;
}

export class UpstreamRelay implements UpstreamHandler, AbortTarget {
  private controller: UpstreamController | undefined;
  /** Content-Length to send, or -1 for streamed (chunked) framing. */
  private total = -1;
  private pending: Buffer | undefined;
  /** Response headers not yet written (sent with the first body bytes). */
  private pendingHead: string[] | undefined;
  private pendingOffset = 0;
  private ended = false;
  private observerEnded = false;
  private drainedBytes = 0;
  private drainTimer: NodeJS.Timeout | undefined;
  /** The response is server-sent events (a drain that runs out of time ends it with a shutdown event). */
  private sse = false;
  /**
   * The response was cut: by the sidecar's shutdown (the upstream abort that follows
   * is not an upstream failure) or by an upstream error mid-response. Either way held
   * writes are dropped and nothing more is written.
   */
  private cut = false;
  private readonly stripHeaders: ReadonlySet<string> | undefined;
  private readonly observer: ResponseObserver | undefined;
  /** Writes waiting for the metering spool (Exchange.durable): later writes wait behind them. */
  private held = 0;
  /** The held last chunk of a response of known length (written by `spooled`). */
  private heldLast: Buffer | undefined;

  constructor(
    private readonly ex: Exchange,
    private readonly onFailure: (kind: RelayFailure, err: Error) => void,
    private readonly opts: RelayOptions = {},
  ) {
    this.stripHeaders = opts.stripHeaders;
    this.observer = opts.observer;
    ex.onAbort(this);
  }

  /** The client went away: cancel the upstream, or keep draining it (see DrainPolicy). */
  clientAborted(): void {
    const drain = this.opts.drain;
    if (drain && !drain.done()) {
      // Keep reading (nothing is written any more) until done, the byte cap or the time cap.
      this.drainTimer = setTimeout(() => this.stopDrain(), drain.timeoutMs);
      this.drainTimer.unref();
      this.controller?.resume();
      return;
    }
    this.controller?.abort(new Error('client aborted'));
    this.endObserver('aborted');
  }

  private endObserver(outcome: 'complete' | 'aborted' | 'error'): void {
    if (this.observerEnded) return;
    this.observerEnded = true;
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.observer?.onEnd?.(outcome);
  }

  private stopDrain(): void {
    this.controller?.abort(new Error('drain limit reached'));
    this.endObserver('aborted');
  }

  onRequestStart(controller: UpstreamController): void {
    this.controller = controller;
    if (this.ex.aborted) controller.abort(new Error('client aborted'));
  }

  onResponseStart(_controller: UpstreamController, statusCode: number, headers: string[]): void {
    const ex = this.ex;
    this.observer?.onStart?.(statusCode, headers);
    if (ex.aborted) return;
    const res = ex.res;
    const reported = headerValue(headers, USAGE_HEADER);
    if (reported !== undefined) ex.reportedUsage = reported;
    const cl = headerValue(headers, 'content-length');
    const bodyless = ex.head.method === 'HEAD' || statusCode === 204 || statusCode === 304;
    this.total = cl !== undefined && /^\d+$/.test(cl) && headerValue(headers, 'transfer-encoding') === undefined ? Number(cl) : -1;
    const list = clientResponseHeaders(headers, this.stripHeaders);
    this.sse = headerValue(headers, 'content-type')?.toLowerCase().startsWith('text/event-stream') === true;
    ex.started = true;
    ex.status = statusCode;
    if (!bodyless && this.total > 0) {
      // A body of known length follows (usually in the same read): send the head with its
      // first bytes, one write instead of two. Streams (unknown length) get the head now.
      this.pendingHead = list;
      return;
    }
    const final = bodyless || this.total === 0;
    if (final) this.ended = true;
    // A stream's head is its first byte: its usage (a start record) is spooled before it goes out.
    const write = () => {
      if (!ex.aborted && !this.cut) {
        res.cork(() => {
          this.writeHead(list);
          if (bodyless) {
            // uWS v20.30's endWithoutBody(n > 0) leaves the response pending (the connection's next
            // request is then dropped) and endWithoutBody(undefined) writes a bogus length: the HEAD's
            // Content-Length is written as a plain header, then the response ends with no body.
            if (this.total >= 0 && ex.head.method === 'HEAD') res.writeHeader('content-length', String(this.total));
            res.endWithoutBody();
          } else if (this.total === 0) res.end();
        });
      }
      if (final) ex.done();
    };
    if (this.mustHold(final)) this.hold(write);
    else write();
  }

  /** The metering gate says this write must wait for the spool (or an earlier write of this response waits). */
  private mustHold(final: boolean): boolean {
    const gate = this.ex.durable;
    if (!gate) return false;
    return gate.hold(this.ex, final) || this.held > 0;
  }

  private hold(write: () => void): void {
    this.held++;
    this.ex.durable!.after(() => {
      this.held--;
      write();
    });
  }

  /** Status line and headers (inside a cork). */
  private writeHead(list: string[]): void {
    const ex = this.ex;
    const res = ex.res;
    // Reason phrases carry no meaning (RFC 9112 §4): the standard one per code, built once.
    res.writeStatus(statusText(ex.status));
    const cors = ex.corsHeaders;
    for (let i = 0; i < list.length; i += 2) {
      // On a route with `cors:` the sidecar's CORS answer is the only one.
      if (cors && list[i]!.startsWith('access-control-')) continue;
      res.writeHeader(list[i]!, list[i + 1]!);
    }
    // Every response carries the request's id (the one the upstream was sent; its own echo is dropped).
    res.writeHeader('x-request-id', ex.head.requestId);
    const extra = ex.responseHeaders;
    if (extra) for (let i = 0; i < extra.length; i += 2) res.writeHeader(extra[i]!, extra[i + 1]!);
    if (cors) for (let i = 0; i < cors.length; i += 2) res.writeHeader(cors[i]!, cors[i + 1]!);
    // Draining: tell the client to open its next request elsewhere. (uWS's own
    // end(…, closeConnection) would write this header into a body already streaming.)
    if (ex.drain.closeConnections) res.writeHeader('connection', 'close');
  }

  /**
   * The sidecar's drain deadline passed with this response still running. Nothing
   * written yet: 503 `ARGUS_DRAINING`. An event stream: a final `argus.shutdown`
   * event, then a clean end, so the client knows why and can reconnect elsewhere.
   * Anything else already started can only be cut. The upstream request is
   * cancelled and the observer told `aborted` (usage is metered as partial).
   */
  shutdown(): void {
    const ex = this.ex;
    if (this.cut || ex.aborted || ex.finished) return;
    this.cut = true;
    if (this.pendingHead) {
      this.pendingHead = undefined;
      ex.started = false;
    }
    if (!ex.started) {
      ex.replyError(deny('ARGUS_DRAINING', 'the sidecar is shutting down; retry'), true);
    } else if (!this.ended) {
      this.ended = true;
      const res = ex.res;
      if (this.sse && this.total < 0) {
        const event = shutdownEvent(ex.head.requestId);
        ex.bytesOut += event.length;
        res.cork(() => {
          res.write(event);
          res.end();
        });
      } else {
        res.close();
      }
      ex.done();
    }
    this.controller?.abort(new Error('sidecar shutting down'));
    this.endObserver('aborted');
  }

  onResponseData(controller: UpstreamController, chunk: Buffer): void {
    const ex = this.ex;
    if (this.observerEnded) return;
    this.observer?.onChunk?.(chunk);
    if (ex.aborted) {
      // Draining after the client left (see DrainPolicy).
      this.drainedBytes += chunk.byteLength;
      const drain = this.opts.drain;
      if (!drain || drain.done() || this.drainedBytes > drain.maxBytes) this.stopDrain();
      return;
    }
    if (this.ended) return;
    ex.bytesOut += chunk.byteLength;
    const final = this.total >= 0 && ex.bytesOut >= this.total;
    // The body's last byte: usage measured from the body (an extension's JSON) is final now, and is spooled before the byte goes out.
    if (final) this.endObserver('complete');
    if (this.mustHold(final)) {
      // Kept past this call: a copy (the h1 client reuses its read buffer).
      const copy = Buffer.from(chunk);
      if (final && this.heldLast === undefined) {
        // The response's last bytes (every metered response has them): the relay itself waits, no closures.
        this.heldLast = copy;
        this.controller = controller;
        this.held++;
        ex.durable!.after(this);
      } else {
        this.hold(() => {
          if (!ex.aborted && !this.cut) this.writeChunk(controller, copy);
        });
      }
      return;
    }
    this.writeChunk(controller, chunk);
  }

  /** The usage is in the spool: write the held last bytes (DurableGate.after, in order with the held writes before them). */
  spooled(): void {
    this.held--;
    const chunk = this.heldLast;
    this.heldLast = undefined;
    if (chunk && !this.ex.aborted && !this.cut) this.writeChunk(this.controller!, chunk);
  }

  private writeChunk(controller: UpstreamController, chunk: Buffer): void {
    const ex = this.ex;
    const res = ex.res;
    if (this.total >= 0) {
      let result: [boolean, boolean] = [true, false];
      let offset = 0;
      res.cork(() => {
        const head = this.pendingHead;
        if (head) {
          this.pendingHead = undefined;
          this.writeHead(head);
        }
        offset = res.getWriteOffset();
        result = res.tryEnd(chunk, this.total);
      });
      if (result[1]) {
        this.ended = true;
        ex.done();
      } else if (!result[0]) {
        // Kept past this call: a copy (the h1 client reuses its read buffer).
        this.pending = Buffer.from(chunk);
        this.pendingOffset = offset;
        controller.pause();
        res.onWritable((off) => this.retryPending(controller, off));
      }
      return;
    }
    let ok = true;
    res.cork(() => {
      ok = res.write(chunk);
    });
    if (!ok) {
      controller.pause();
      res.onWritable(() => {
        controller.resume();
        return true;
      });
    }
  }

  private retryPending(controller: UpstreamController, offset: number): boolean {
    const ex = this.ex;
    const chunk = this.pending;
    if (ex.aborted || !chunk) return true;
    const [ok, done] = ex.res.tryEnd(chunk.subarray(offset - this.pendingOffset), this.total);
    if (done) {
      this.pending = undefined;
      this.ended = true;
      ex.done();
    } else if (ok) {
      this.pending = undefined;
      controller.resume();
    }
    return ok;
  }

  onResponseEnd(): void {
    const ex = this.ex;
    this.endObserver('complete');
    if (ex.aborted || this.ended) return;
    if (this.total >= 0) return; // tryEnd finishes the response when the last byte is written
    this.ended = true;
    const write = () => {
      if (!ex.aborted && !this.cut) ex.res.cork(() => ex.res.end());
      ex.done();
    };
    if (this.mustHold(true)) this.hold(write);
    else write();
  }

  onResponseError(_controller: UpstreamController, err: Error): void {
    const ex = this.ex;
    this.endObserver(ex.aborted || this.cut ? 'aborted' : 'error');
    if (ex.aborted || this.cut) return;
    const kind = classify(err);
    this.onFailure(kind, err);
    if (this.pendingHead) {
      // Nothing reached the client yet: it can still get a proper error.
      this.pendingHead = undefined;
      ex.started = false;
    }
    if (!ex.started) {
      ex.replyError(denialFor(kind));
    } else if (!this.ended) {
      // Headers are out: the only honest signal left is to cut the connection.
      this.ended = true;
      this.cut = true;
      ex.res.close();
      ex.done();
    }
  }
}

/** The last event of a stream the sidecar's shutdown ended (`event: argus.shutdown`). */
export function shutdownEvent(requestId: string): Buffer {
  const data = JSON.stringify({
    code: 'ARGUS_DRAINING',
    message: 'the sidecar is shutting down: this stream was cut; reconnect to continue',
    request_id: requestId,
  });
  return Buffer.from(`event: argus.shutdown\ndata: ${data}\n\n`);
}

const STATUS_LINES = new Map<number, string>();

/** "200 OK" for a status code, built once per code. */
function statusText(code: number): string {
  let line = STATUS_LINES.get(code);
  if (line === undefined) {
    line = `${code} ${STATUS_CODES[code] ?? ''}`;
    if (code >= 100 && code < 600) STATUS_LINES.set(code, line);
  }
  return line;
}

/** Error code (ours from forward/h1, or node:net's) → failure kind. */
export function classify(err: Error): RelayFailure {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'H1_HEADERS_TIMEOUT' || code === 'ETIMEDOUT') return 'timeout';
  if (code === 'H1_BODY_TIMEOUT') return 'body_timeout';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'EAI_AGAIN') return 'refused';
  if (code === 'H1_CLOSED' || code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (code === 'H1_BAD_RESPONSE') return 'protocol';
  return 'other';
}

function denialFor(kind: RelayFailure): Denial {
  if (kind === 'timeout') return deny('ARGUS_UPSTREAM_TIMEOUT', 'the upstream did not answer in time');
  return deny('ARGUS_UPSTREAM_UNAVAILABLE', 'the upstream could not be reached');
}
