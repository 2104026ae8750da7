/**
 * Incremental Server-Sent Events parser (WHATWG HTML §9.2.6 "Interpreting an
 * event stream"), fed raw bytes as they arrive from the upstream.
 *
 * Chunk boundaries may fall anywhere: inside a field, inside a multi-byte UTF-8
 * sequence (a streaming TextDecoder carries the partial sequence), or between the
 * CR and LF of a CRLF (a pending-CR flag swallows the LF that follows). Memory is
 * bounded: a line or event larger than `maxEventSize` puts the parser into an
 * error state where it ignores further input; it never throws on input bytes.
 */

export interface SseEvent {
  /** The `event:` field, "message" when absent. */
  readonly type: string;
  /** `data:` lines joined with "\n". */
  readonly data: string;
  /** The last event ID seen so far in the stream ("" when none). */
  readonly id: string;
}

export type SseErrorKind = 'event_too_large';

export interface SseParserOptions {
  /** Called synchronously for each complete event, in order. */
  onEvent: (event: SseEvent) => void;
  /**
   * Largest event (pending line + buffered data) in UTF-16 code units, which is at
   * most its size in UTF-8 bytes. Default 1 MiB. Past it: error state.
   */
  maxEventSize?: number;
}

export interface SseParser {
  /** Feed the next chunk of the stream. No-op after an error. */
  push(chunk: Uint8Array): void;
  /** End of stream: an unterminated trailing event is discarded, as the spec says. */
  end(): void;
  /** Set once the parser gave up; it then ignores input. */
  readonly error: SseErrorKind | undefined;
  /** Bytes pushed so far (including bytes ignored after an error). */
  readonly bytes: number;
  /** Last `retry:` value in ms, when one was sent. */
  readonly retry: number | undefined;
}

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;

/** Create a parser. Options are validated once; a bad option is a bug and throws. */
export function createSseParser(opts: SseParserOptions): SseParser {
  const maxEventSize = opts.maxEventSize ?? 1024 * 1024;
  if (!Number.isInteger(maxEventSize) || maxEventSize <= 0) throw new TypeError('sse: maxEventSize must be a positive integer');
  const onEvent = opts.onEvent;
  // ignoreBOM false (the default) strips one leading U+FEFF, as the spec requires.
  const decoder = new TextDecoder('utf-8', { fatal: false });

  let error: SseErrorKind | undefined;
  let bytes = 0;
  let retry: number | undefined;
  // A line may span many chunks: keep its pieces and join once when it ends.
  let lineParts: string[] = [];
  let lineLength = 0;
  let pendingCR = false;
  let data: string[] = [];
  let dataLength = 0;
  let eventType = '';
  let lastId = '';

  function fail(kind: SseErrorKind): void {
    error = kind;
    lineParts = [];
    data = [];
    lineLength = 0;
    dataLength = 0;
  }

  function dispatch(): void {
    if (data.length === 0) {
      eventType = '';
      return;
    }
    const event: SseEvent = { type: eventType === '' ? 'message' : eventType, data: data.join('\n'), id: lastId };
    data = [];
    dataLength = 0;
    eventType = '';
    onEvent(event);
  }

  function processLine(line: string): void {
    if (line.length === 0) return dispatch();
    if (line.charCodeAt(0) === COLON) return; // comment
    const colon = line.indexOf(':');
    let field: string;
    let value: string;
    if (colon === -1) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colon);
      const start = line.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1;
      value = line.slice(start);
    }
    switch (field) {
      case 'event':
        eventType = value;
        break;
      case 'data':
        data.push(value);
        dataLength += value.length + 1;
        if (dataLength > maxEventSize) fail('event_too_large');
        break;
      case 'id':
        if (!value.includes('\0')) lastId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  function feed(text: string): void {
    let start = 0;
    const n = text.length;
    if (pendingCR) {
      pendingCR = false;
      if (n > 0 && text.charCodeAt(0) === LF) start = 1;
    }
    for (let i = start; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      let line = text.slice(start, i);
      if (lineParts.length > 0) {
        lineParts.push(line);
        line = lineParts.join('');
        lineParts = [];
        lineLength = 0;
      }
      if (c === CR) {
        if (i + 1 < n) {
          if (text.charCodeAt(i + 1) === LF) i++;
        } else {
          pendingCR = true;
        }
      }
      start = i + 1;
      processLine(line);
      if (error) return;
    }
    if (start < n) {
      const rest = text.slice(start);
      lineParts.push(rest);
      lineLength += rest.length;
      if (lineLength + dataLength > maxEventSize) fail('event_too_large');
    }
  }

  return {
    push(chunk: Uint8Array): void {
      bytes += chunk.byteLength;
      if (error) return;
      feed(decoder.decode(chunk, { stream: true }));
    },
    end(): void {
      if (error) return;
      // Flush a dangling partial UTF-8 sequence (as U+FFFD) so a final line is complete.
      const tail = decoder.decode();
      if (tail) feed(tail);
      // Per spec, a trailing event without its blank line is not dispatched.
      lineParts = [];
      lineLength = 0;
      data = [];
      dataLength = 0;
    },
    get error() {
      return error;
    },
    get bytes() {
      return bytes;
    },
    get retry() {
      return retry;
    },
  };
}

/** Parse a complete byte string into events (tests, non-streamed bodies). */
export function parseSse(bytes: Uint8Array, maxEventSize?: number): { events: SseEvent[]; error: SseErrorKind | undefined } {
  const events: SseEvent[] = [];
  const parser = createSseParser(maxEventSize === undefined ? { onEvent: (e) => events.push(e) } : { onEvent: (e) => events.push(e), maxEventSize });
  parser.push(bytes);
  parser.end();
  return { events, error: parser.error };
}
