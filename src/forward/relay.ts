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
import type { AbortTarget, Exchange } from '../server/exchange.js';
import { clientResponseHeaders, headerValue } from './headers.js';
import type { UpstreamController, UpstreamHandler } from './h1/exchange.js';

/** Observes the response as it passes (metering, LLM usage extraction). */
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
 * cancelling it: an LLM provider charges for the whole generation, and its usage
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
  private readonly stripHeaders: ReadonlySet<string> | undefined;
  private readonly observer: ResponseObserver | undefined;

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
    ex.started = true;
    ex.status = statusCode;
    if (!bodyless && this.total > 0) {
      // A body of known length follows (usually in the same read): send the head with its
      // first bytes, one write instead of two. Streams (unknown length) get the head now.
      this.pendingHead = list;
      return;
    }
    res.cork(() => {
      this.writeHead(list);
      if (bodyless) {
        // uWS v20.30's endWithoutBody(n > 0) leaves the response pending (the connection's next
        // request is then dropped) and endWithoutBody(undefined) writes a bogus length: the HEAD's
        // Content-Length is written as a plain header, then the response ends with no body.
        if (this.total >= 0 && ex.head.method === 'HEAD') res.writeHeader('content-length', String(this.total));
        res.endWithoutBody();
        this.ended = true;
      } else if (this.total === 0) {
        res.end();
        this.ended = true;
      }
    });
    if (this.ended) ex.done();
  }

  /** Status line and headers (inside a cork). */
  private writeHead(list: string[]): void {
    const ex = this.ex;
    const res = ex.res;
    // Reason phrases carry no meaning (RFC 9112 §4): the standard one per code, built once.
    res.writeStatus(statusText(ex.status));
    for (let i = 0; i < list.length; i += 2) res.writeHeader(list[i]!, list[i + 1]!);
    const extra = ex.responseHeaders;
    if (extra) for (let i = 0; i < extra.length; i += 2) res.writeHeader(extra[i]!, extra[i + 1]!);
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
    ex.res.cork(() => ex.res.end());
    ex.done();
  }

  onResponseError(_controller: UpstreamController, err: Error): void {
    const ex = this.ex;
    this.endObserver(ex.aborted ? 'aborted' : 'error');
    if (ex.aborted) return;
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
      ex.res.close();
      ex.done();
    }
  }
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

/** Error code (ours from forward/h1, node:net's, or undici's) → failure kind. */
export function classify(err: Error): RelayFailure {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'H1_HEADERS_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'timeout';
  if (code === 'H1_BODY_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'body_timeout';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'EAI_AGAIN') return 'refused';
  if (code === 'H1_CLOSED' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'reset';
  if (code === 'H1_BAD_RESPONSE') return 'protocol';
  return 'other';
}

function denialFor(kind: RelayFailure): Denial {
  if (kind === 'timeout') return deny('ARGUS_UPSTREAM_TIMEOUT', 'the upstream did not answer in time');
  return deny('ARGUS_UPSTREAM_UNAVAILABLE', 'the upstream could not be reached');
}
