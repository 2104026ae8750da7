/**
 * A refused connection is finished.
 *
 * uWS v20.30 parses every request already in its read buffer in one synchronous
 * loop, and writes made during that loop wait in its 16 KiB cork buffer; so
 * `res.end(body, true)` closes the socket only after the loop, and a request
 * pipelined behind a closing refusal (the bytes an ambiguous framing left over)
 * would be routed and served. A write that does not fit the cork buffer flushes
 * it and uncorks the socket, and uWS then closes at once, ending the loop: so a
 * closing refusal's body is padded past 16 KiB with JSON whitespace
 * ({@link padToClose}). The client gets the refusal, then FIN; nothing after it is
 * parsed. (If the socket's send buffer is already full, because the client
 * pipelined more than a send buffer of answers without reading, uWS buffers the
 * refusal and the close waits for the loop.)
 *
 * A response to HEAD has no body to pad. For those, the JavaScript side, which
 * cannot name the connection a request came on (uWS exposes no socket id or
 * remote port), holds every request from the same address until the next check
 * phase (`setImmediate`) and then closes it unanswered. A request on another
 * connection from that address in the same turn (a load balancer's) is closed the
 * same way; its client sees a closed keep-alive connection, which HTTP clients retry.
 */
import type { HttpResponse } from './uws.js';

interface Held {
  readonly res: HttpResponse;
  aborted: boolean;
}

/** Larger than uWS's cork buffer (LoopData::CORK_BUFFER_SIZE, 16 KiB), so the write flushes and uncorks. */
const FLUSH_BYTES = 16 * 1024 + 64;

/** `body` padded with trailing JSON whitespace so that ending the response closes the socket at once. */
export function padToClose(body: string): string {
  return body.length >= FLUSH_BYTES ? body : body + ' '.repeat(FLUSH_BYTES - body.length);
}

export class ClosingConnections {
  private readonly addresses = new Set<string>();
  private held: Held[] = [];
  private scheduled = false;

  /** A closing refusal was answered to `address`. */
  mark(address: string): void {
    this.addresses.add(address);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** True when the request must not be served; `res` is then held and closed after this turn. */
  hold(res: HttpResponse, address: string): boolean {
    if (this.addresses.size === 0 || !this.addresses.has(address)) return false;
    const h: Held = { res, aborted: false };
    res.onAborted(() => (h.aborted = true));
    this.held.push(h);
    return true;
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    this.addresses.clear();
    const held = this.held;
    this.held = [];
    for (const h of held) if (!h.aborted) h.res.close();
  };
}
