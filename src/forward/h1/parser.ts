/**
 * A strict, incremental HTTP/1.1 response parser (RFC 9112), one per upstream
 * connection, reused for every response on it.
 *
 * Strict where leniency lets a response smuggle another: CRLF line endings only,
 * no obs-fold, no whitespace before a header's colon, no control characters in
 * values, Content-Length digits only (duplicates must agree), Content-Length
 * together with Transfer-Encoding refused, chunk sizes bounded. 1xx interim
 * responses (100, 102, 103) are skipped; 101 is refused (the proxy never asks
 * for an upgrade on this path). Trailers are parsed and dropped (uWS cannot send
 * them to the client).
 *
 * Body bytes are handed on as views of the socket's own buffers (no copy).
 * Parsing stops early when the sink says it is halted (paused or aborted), and
 * `execute` returns the offset it reached, so the caller can keep the rest.
 */
import { hasControl, TOKEN_CHAR } from './chars.js';
import { H1Error } from './errors.js';

/** Receives what the parser finds. */
export interface ParserSink {
  /** The final response head: status, headers flat [lower-case name, value, …]. */
  onHead(status: number, headers: string[]): void;
  /** A view of body bytes (valid as long as the caller keeps it). */
  onBody(chunk: Buffer): void;
  /** True when parsing must stop after the current callback (paused or aborted). */
  readonly halted: boolean;
}

export interface ParserLimits {
  /** Largest response head (status line + headers), bytes. */
  readonly maxHeadBytes: number;
  /** Most header lines in one head. */
  readonly maxHeaders: number;
}

const enum State {
  Head,
  BodyLength,
  ChunkSize,
  ChunkData,
  ChunkCrlf,
  Trailers,
  BodyEof,
  Done,
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/**
 * Response header names nearly every upstream sends, by length. A name that is one
 * of them (in any case) is handed on as this constant instead of a new string:
 * the header filters look every name up in Sets (src/forward/headers.ts), and a
 * new string is hashed for that on every response (with its slice and, for
 * `Content-Type` and the like, its lower-casing), where a constant keeps its hash.
 */
const COMMON_NAMES: ReadonlyArray<readonly string[] | undefined> = (() => {
  const byLength: string[][] = [];
  for (const n of [
    'date',
    'etag',
    'vary',
    'server',
    'expires',
    'connection',
    'keep-alive',
    'content-type',
    'cache-control',
    'last-modified',
    'content-length',
    'content-encoding',
    'transfer-encoding',
  ])
    (byLength[n.length] ??= []).push(n);
  return byLength;
})();

/**
 * The constant for `text[pos, end)` when it is a common name in any case, else
 * undefined. The bytes are token characters (checked by the caller), so OR-ing in
 * 0x20 only folds upper-case letters: every other token character that could
 * become a letter or '-' that way is not a token character.
 */
function commonName(text: string, pos: number, end: number): string | undefined {
  const candidates = COMMON_NAMES[end - pos];
  if (candidates === undefined) return undefined;
  for (const n of candidates) {
    let j = 0;
    while (j < n.length && (text.charCodeAt(pos + j) | 0x20) === n.charCodeAt(j)) j++;
    if (j === n.length) return n;
  }
  return undefined;
}
const DIGITS = /^\d{1,15}$/;
const HEX = /^[0-9A-Fa-f]{1,13}$/;
const MAX_CHUNK_LINE = 1024;
const CR = 13;
const LF = 10;

export class ResponseParser {
  state = State.Head;
  /** The response (final head and body) is complete. */
  complete = false;
  /** The connection may carry another request after this response. */
  keepAlive = true;
  /** The upstream's Keep-Alive `timeout=` hint, ms (0: none). */
  keepAliveHintMs = 0;
  /** Any byte of this response was received (a retry on a fresh connection is no longer safe). */
  started = false;
  private noBody = false;
  private remaining = 0;
  private pendingHead: Buffer | undefined;
  private chunkLine = '';
  private crlfSeen = 0;
  private trailerBytes = 0;
  private trailerLine = 0;
  private trailerCr = false;

  constructor(
    private readonly sink: ParserSink,
    private readonly limits: ParserLimits,
  ) {}

  /** Prepare for the next response. `noBody`: the request was HEAD (no body whatever the headers say). */
  reset(noBody: boolean): void {
    this.state = State.Head;
    this.complete = false;
    this.keepAlive = true;
    this.keepAliveHintMs = 0;
    this.started = false;
    this.noBody = noBody;
    this.pendingHead = undefined;
    this.chunkLine = '';
    this.crlfSeen = 0;
    this.trailerBytes = 0;
    this.trailerLine = 0;
    this.trailerCr = false;
  }

  /** True while a close-delimited body is being read (EOF completes it). */
  get readsUntilClose(): boolean {
    return this.state === State.BodyEof;
  }

  /**
   * Parse from `buf[offset]` on. Returns the offset reached: `buf.length`, or
   * earlier when the response completed or the sink halted. Throws H1Error on
   * invalid bytes.
   */
  execute(buf: Buffer, offset: number): number {
    const end = buf.length;
    if (offset < end) this.started = true;
    let off = offset;
    while (off < end && !this.complete) {
      switch (this.state) {
        case State.Head:
          off = this.head(buf, off);
          break;
        case State.BodyLength:
        case State.ChunkData:
          off = this.counted(buf, off);
          break;
        case State.BodyEof:
          this.sink.onBody(off === 0 ? buf : buf.subarray(off));
          off = end;
          break;
        case State.ChunkSize:
          off = this.chunkSize(buf, off);
          break;
        case State.ChunkCrlf:
          off = this.chunkCrlf(buf, off);
          break;
        case State.Trailers:
          off = this.trailers(buf, off);
          break;
        case State.Done:
          return off;
      }
      if (this.sink.halted) return off;
    }
    return off;
  }

  /** A run of body bytes of known length (Content-Length body, or one chunk's data). */
  private counted(buf: Buffer, off: number): number {
    const n = Math.min(this.remaining, buf.length - off);
    this.remaining -= n;
    const view = buf.subarray(off, off + n);
    if (this.remaining === 0) {
      if (this.state === State.BodyLength) this.finish();
      else {
        this.state = State.ChunkCrlf;
        this.crlfSeen = 0;
      }
    }
    this.sink.onBody(view);
    return off + n;
  }

  /** The upstream closed its side. Completes a close-delimited body; otherwise the response was cut. */
  eof(): void {
    if (this.state === State.BodyEof) return this.finish();
    if (!this.complete) throw new H1Error('H1_CLOSED', 'the upstream closed the connection before the response was complete');
  }

  private finish(): void {
    this.state = State.Done;
    this.complete = true;
  }

  private head(buf: Buffer, off: number): number {
    let data = buf;
    let start = off;
    let searchFrom = off;
    const pending = this.pendingHead;
    if (pending) {
      data = Buffer.concat([pending, buf.subarray(off)]);
      start = 0;
      searchFrom = Math.max(0, pending.length - 3);
    }
    const idx = data.indexOf(CRLFCRLF, searchFrom);
    if (idx === -1) {
      if (data.length - start > this.limits.maxHeadBytes) throw bad(`response head over ${this.limits.maxHeadBytes} bytes`);
      this.pendingHead = pending ? data : Buffer.from(buf.subarray(off));
      return buf.length;
    }
    if (idx - start > this.limits.maxHeadBytes) throw bad(`response head over ${this.limits.maxHeadBytes} bytes`);
    this.pendingHead = undefined;
    this.parseHead(data.toString('latin1', start, idx));
    // Offset in `buf` just past the blank line.
    return pending ? off + (idx + 4 - pending.length) : idx + 4;
  }

  private parseHead(text: string): void {
    // Status line: HTTP/1.x SP 3DIGIT [SP reason]
    let eol = text.indexOf('\r\n');
    if (eol === -1) eol = text.length;
    if (eol < 12 || !text.startsWith('HTTP/1.') || text.charCodeAt(8) !== 32) throw bad('malformed status line');
    const minor = text.charCodeAt(7) - 48;
    if (minor !== 0 && minor !== 1) throw bad('unsupported HTTP version');
    const status = threeDigits(text, 9);
    if (status < 0 || (eol > 12 && text.charCodeAt(12) !== 32)) throw bad('malformed status code');
    if (hasControl(text, 12, eol)) throw bad('control character in the status line');

    const headers: string[] = [];
    let contentLength = -1;
    let chunked = false;
    let transferEncoding = false;
    let closeToken = false;
    let keepAliveToken = false;
    let count = 0;
    let pos = eol + 2;
    const len = text.length;
    while (pos < len) {
      let next = text.indexOf('\r\n', pos);
      if (next === -1) next = len;
      if (++count > this.limits.maxHeaders) throw bad(`more than ${this.limits.maxHeaders} response headers`);
      // Name: token characters up to the colon (no whitespace before it, no obs-fold).
      let i = pos;
      let upper = false;
      for (; i < next; i++) {
        const c = text.charCodeAt(i);
        if (c === 58 /* : */) break;
        if (c > 127 || TOKEN_CHAR[c] === 0)
          throw bad(i === pos && (c === 32 || c === 9) ? 'obsolete line folding in the response head' : 'invalid response header name');
        if (c >= 65 && c <= 90) upper = true;
      }
      if (i === pos || i === next) throw bad('malformed response header line');
      const known = commonName(text, pos, i);
      const name = known ?? (upper ? text.slice(pos, i).toLowerCase() : text.slice(pos, i));
      // Value: OWS trimmed; controls other than HTAB are invalid (this also catches bare CR/LF).
      let a = i + 1;
      let b = next;
      while (a < b && (text.charCodeAt(a) === 32 || text.charCodeAt(a) === 9)) a++;
      while (b > a && (text.charCodeAt(b - 1) === 32 || text.charCodeAt(b - 1) === 9)) b--;
      if (hasControl(text, a, b)) throw bad('control character in a response header value');
      const value = text.slice(a, b);
      pos = next + 2;
      headers.push(name, value);
      const first = name.charCodeAt(0);
      if (first === 99 /* c */) {
        if (name === 'content-length') {
          if (!DIGITS.test(value)) throw bad('invalid Content-Length');
          const n = Number(value);
          if (contentLength !== -1 && contentLength !== n) throw bad('conflicting Content-Length headers');
          contentLength = n;
        } else if (name === 'connection') {
          const v = value.toLowerCase();
          if (v === 'keep-alive') keepAliveToken = true;
          else if (v === 'close') closeToken = true;
          else {
            if (hasToken(v, 'close')) closeToken = true;
            if (hasToken(v, 'keep-alive')) keepAliveToken = true;
          }
        }
      } else if (first === 116 /* t */) {
        if (name === 'transfer-encoding') {
          transferEncoding = true;
          const lastComma = value.lastIndexOf(',');
          chunked = (lastComma === -1 ? value : value.slice(lastComma + 1)).trim().toLowerCase() === 'chunked';
        }
      } else if (first === 107 /* k */ && name === 'keep-alive') {
        const m = /(?:^|[\s,])timeout\s*=\s*(\d{1,6})/i.exec(value);
        if (m) this.keepAliveHintMs = Number(m[1]) * 1000;
      }
    }

    if (status < 200) {
      // Interim responses carry no body; the final one follows on the same connection.
      if (status === 101) throw bad('unexpected 101 Switching Protocols');
      this.keepAliveHintMs = 0;
      return;
    }
    if (transferEncoding && contentLength !== -1) throw bad('both Content-Length and Transfer-Encoding in the response');
    this.keepAlive = !closeToken && (minor === 1 || keepAliveToken);
    this.sink.onHead(status, headers);

    // Framing, RFC 9112 §6.3.
    if (this.noBody || status === 204 || status === 304) return this.finish();
    if (transferEncoding) {
      if (chunked) {
        this.state = State.ChunkSize;
        this.chunkLine = '';
      } else {
        this.state = State.BodyEof;
        this.keepAlive = false;
      }
    } else if (contentLength >= 0) {
      if (contentLength === 0) return this.finish();
      this.state = State.BodyLength;
      this.remaining = contentLength;
    } else {
      this.state = State.BodyEof;
      this.keepAlive = false;
    }
  }

  private chunkSize(buf: Buffer, off: number): number {
    const lf = buf.indexOf(LF, off);
    const stop = lf === -1 ? buf.length : lf;
    if (this.chunkLine.length + (stop - off) > MAX_CHUNK_LINE) throw bad('chunk size line too long');
    this.chunkLine += buf.toString('latin1', off, stop);
    if (lf === -1) return buf.length;
    const line = this.chunkLine;
    this.chunkLine = '';
    if (line.charCodeAt(line.length - 1) !== CR) throw bad('chunk size line without CRLF');
    const semi = line.indexOf(';');
    const digits = (semi === -1 ? line.slice(0, -1) : line.slice(0, semi)).replace(/[ \t]+$/, '');
    if (!HEX.test(digits)) throw bad('invalid chunk size');
    const size = parseInt(digits, 16);
    if (size === 0) {
      this.state = State.Trailers;
      this.trailerBytes = 0;
      this.trailerLine = 0;
      this.trailerCr = false;
    } else {
      this.state = State.ChunkData;
      this.remaining = size;
    }
    return lf + 1;
  }

  private chunkCrlf(buf: Buffer, off: number): number {
    while (off < buf.length && this.crlfSeen < 2) {
      const expected = this.crlfSeen === 0 ? CR : LF;
      if (buf[off] !== expected) throw bad('chunk data not followed by CRLF');
      this.crlfSeen++;
      off++;
    }
    if (this.crlfSeen === 2) this.state = State.ChunkSize;
    return off;
  }

  /** Trailer lines until an empty line; dropped. */
  private trailers(buf: Buffer, off: number): number {
    while (off < buf.length) {
      const b = buf[off++]!;
      if (++this.trailerBytes > this.limits.maxHeadBytes) throw bad('trailer section too large');
      if (this.trailerCr) {
        if (b !== LF) throw bad('bare CR in the trailer section');
        this.trailerCr = false;
        if (this.trailerLine === 0) {
          this.finish();
          return off;
        }
        this.trailerLine = 0;
      } else if (b === CR) this.trailerCr = true;
      else if (b === LF) throw bad('bare LF in the trailer section');
      else this.trailerLine++;
    }
    return off;
  }
}

function bad(message: string): H1Error {
  return new H1Error('H1_BAD_RESPONSE', message);
}

function threeDigits(s: string, at: number): number {
  let n = 0;
  for (let i = at; i < at + 3; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n < 100 ? -1 : n;
}

function hasToken(lowerList: string, token: string): boolean {
  if (lowerList === token) return true;
  for (const t of lowerList.split(',')) if (t.trim() === token) return true;
  return false;
}
