/**
 * One keep-alive connection (TCP or Unix domain socket) to the upstream, carrying one request at a time
 * (pipelining off). It writes the request (head and body, with backpressure),
 * feeds the response bytes to its parser and hands them to the exchange's
 * handler. Any fault destroys the connection; it is never reused after a
 * response it could not read to the end, nor after a request body it could not
 * finish writing.
 *
 * Reads land in one buffer shared by every connection of the thread (net's
 * `onread`): no ArrayBuffer per read for the scavenger to copy and sweep. So a
 * body chunk handed to `onResponseData` is only valid during that call; a
 * handler that keeps one must copy it.
 */
import net from 'node:net';
import type { Readable } from 'node:stream';
import { H1Error } from './errors.js';
import type { H1Exchange } from './exchange.js';
import { ResponseParser, type ParserLimits, type ParserSink } from './parser.js';
import { Framing, requestHead, type HeadOut } from './request.js';

/** What a connection needs from its pool. */
export interface ConnectionOwner {
  readonly clock: number;
  readonly hostHeader: string;
  readonly limits: ParserLimits;
  /** The exchange finished and the connection may take another request. */
  released(conn: Connection): void;
  /** The connection is gone (destroyed or closed by the upstream). */
  removed(conn: Connection): void;
  /** Send again on a fresh connection (a reused one was dead before answering). */
  retry(ex: H1Exchange): void;
}

const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';

/** Size of the shared read buffer: one read takes at most this much. */
const READ_BUFFER_BYTES = 64 * 1024;
/** Module state is per thread (each worker thread loads its own copy), and reads never interleave within one. */
let readBuffer: Buffer | undefined;

export class Connection implements ParserSink {
  readonly socket: net.Socket;
  readonly parser: ResponseParser;
  ex: H1Exchange | undefined;
  /** Has completed at least one exchange (a failure before any byte may be a stale keep-alive). */
  reused = false;
  dead = false;
  /** Pool clock when it went idle. */
  idleSince = 0;
  /** How long it may stay idle (the upstream's Keep-Alive hint can shorten it). */
  idleLimitMs: number;
  private saved: Buffer | undefined;
  private executing = false;
  private readonly headOut: HeadOut = { head: '', framing: Framing.None, length: 0 };

  constructor(
    private readonly owner: ConnectionOwner,
    target: net.NetConnectOpts,
    idleLimitMs: number,
  ) {
    this.idleLimitMs = idleLimitMs;
    this.parser = new ResponseParser(this, owner.limits);
    readBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
    // TCP or a Unix domain socket (noDelay and keepAlive apply to TCP only; net skips them on a pipe).
    const socket = net.connect({
      ...target,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: 60_000,
      onread: {
        buffer: readBuffer,
        // true: keep reading (backpressure pauses the socket itself, see pauseReading).
        callback: (n: number, buf: Uint8Array) => (this.onData((buf as Buffer).subarray(0, n)), true),
      },
    });
    this.socket = socket;
    socket.on('end', () => this.onEnd());
    socket.on('error', (err) => this.fail(err, true));
    // After our own destroy() the close is expected: no error to build.
    socket.on('close', () => this.dead || this.fail(new H1Error('H1_CLOSED', 'the upstream closed the connection'), true));
  }

  get halted(): boolean {
    const ex = this.ex;
    return ex === undefined || ex.paused || this.dead;
  }

  /** Write `ex`'s request and start reading its response. */
  start(ex: H1Exchange): void {
    this.ex = ex;
    ex.conn = this;
    ex.sentAt = ex.lastActivity = this.owner.clock;
    this.parser.reset(ex.req.method === 'HEAD');
    const req = ex.req;
    const body = req.body;
    const out = this.headOut;
    try {
      requestHead(
        req.method,
        req.path,
        req.headers,
        this.owner.hostHeader,
        body === null ? -2 : Buffer.isBuffer(body) ? body.length : -1,
        out,
        req.trusted?.lines,
        req.checked,
      );
    } catch (err) {
      return this.fail(err as Error, false);
    }
    const socket = this.socket;
    if (body === null || Buffer.isBuffer(body)) {
      if (body !== null && body.length > 0) {
        socket.cork();
        socket.write(out.head);
        socket.write(body);
        socket.uncork();
      } else socket.write(out.head);
      ex.bodySent = true;
      return;
    }
    socket.write(out.head);
    this.streamBody(ex, body, out.framing === Framing.Chunked, out.length);
  }

  private streamBody(ex: H1Exchange, body: Readable, chunked: boolean, expected: number): void {
    const socket = this.socket;
    let sent = 0;
    const onData = (chunk: Buffer) => {
      if (chunk.length === 0) return;
      sent += chunk.length;
      if (!chunked && sent > expected) return this.fail(new H1Error('H1_BAD_REQUEST', 'request body longer than its Content-Length'), false);
      let ok: boolean;
      if (chunked) {
        socket.cork();
        socket.write(chunk.length.toString(16) + CRLF);
        socket.write(chunk);
        ok = socket.write(CRLF);
        socket.uncork();
      } else ok = socket.write(chunk);
      if (!ok) body.pause();
    };
    const onDrain = () => body.resume();
    const onEnd = () => {
      if (!chunked && sent !== expected) return this.fail(new H1Error('H1_BAD_REQUEST', 'request body shorter than its Content-Length'), false);
      if (chunked) socket.write(LAST_CHUNK);
      ex.bodySent = true;
    };
    const onError = (err: Error) => this.fail(err, false);
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    socket.on('drain', onDrain);
    ex.detachBody = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      socket.off('drain', onDrain);
    };
  }

  onHead(status: number, headers: string[]): void {
    const ex = this.ex!;
    ex.headReceived = true;
    ex.handler.onResponseStart(ex, status, headers);
  }

  onBody(chunk: Buffer): void {
    const ex = this.ex!;
    ex.handler.onResponseData(ex, chunk);
  }

  private onData(buf: Buffer): void {
    const ex = this.ex;
    if (ex === undefined) {
      // Bytes nobody asked for: the connection is out of step with the upstream.
      return this.fail(new H1Error('H1_BAD_RESPONSE', 'unsolicited bytes from the upstream'), true);
    }
    ex.lastActivity = this.owner.clock;
    this.execute(ex, buf, 0);
  }

  private execute(ex: H1Exchange, buf: Buffer, offset: number): void {
    let off: number;
    this.executing = true;
    try {
      off = this.parser.execute(buf, offset);
    } catch (err) {
      this.executing = false;
      return this.fail(err as Error, false);
    }
    this.executing = false;
    if (this.ex !== ex || this.dead) return; // aborted from a callback
    if (this.parser.complete) return this.complete(ex, off < buf.length);
    if (off < buf.length) {
      // Paused mid-buffer: keep (a copy of) the rest for resume; the read buffer is shared.
      this.saved = Buffer.from(buf.subarray(off));
    }
  }

  private complete(ex: H1Exchange, extraBytes: boolean): void {
    const hint = this.parser.keepAliveHintMs;
    if (hint > 0) this.idleLimitMs = Math.min(this.idleLimitMs, Math.max(hint - 1000, hint / 2));
    const reusable = this.parser.keepAlive && ex.bodySent && !extraBytes && !this.dead;
    this.ex = undefined;
    this.reused = true;
    if (ex.paused) this.socket.resume();
    ex.end();
    if (reusable) this.owner.released(this);
    else this.destroy();
    ex.handler.onResponseEnd(ex);
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    const ex = this.ex;
    if (!ex || this.executing) return; // inside execute: the loop goes on by itself
    const saved = this.saved;
    if (saved) {
      this.saved = undefined;
      this.execute(ex, saved, 0);
      if (this.ex !== ex || ex.paused) return;
    }
    this.socket.resume();
  }

  private onEnd(): void {
    const ex = this.ex;
    if (ex === undefined || this.dead) return this.destroy();
    try {
      this.parser.eof();
    } catch (err) {
      return this.fail(err as Error, true);
    }
    this.complete(ex, false);
  }

  /**
   * The connection failed (socket error, timeout, bad bytes) or its request was
   * aborted. `socketFault`: the fault came from the network, so an exchange that
   * received nothing on a reused connection may be retried.
   */
  fail(err: Error, socketFault: boolean): void {
    if (this.dead) return;
    const ex = this.ex;
    this.ex = undefined;
    this.destroy();
    if (!ex || ex.done) return;
    if (socketFault && this.reused && !this.parser.started && ex.replayable) {
      ex.conn = undefined;
      ex.retried = true;
      return this.owner.retry(ex);
    }
    ex.end();
    ex.handler.onResponseError(ex, err);
  }

  /** Close for good (idempotent). */
  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.saved = undefined;
    this.socket.destroy();
    this.owner.removed(this);
  }
}
