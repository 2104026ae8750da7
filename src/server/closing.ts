/**
 * A refused connection is finished.
 *
 * uWS v20.30 parses every request already in its read buffer in one synchronous
 * loop, and `res.end(body, true)` only closes the socket after that loop: a request
 * pipelined behind a closing refusal (the bytes an ambiguous framing left over)
 * would be routed and served. The JavaScript side cannot name the connection a
 * request came on (uWS exposes no socket id or remote port), but it knows that
 * such a request arrives before the event loop turns and from the same address.
 * So after a closing refusal, every request from that address until the next
 * check phase (`setImmediate`) is held unanswered and then closed: it is never
 * parsed further, routed or forwarded, and the refusal (already in uWS's cork
 * buffer) is flushed before the close. A request on another connection from the
 * same address in that same turn (a load balancer's) is closed the same way; its
 * client sees a closed keep-alive connection, which HTTP clients retry.
 */
import type { HttpResponse } from './uws.js';

interface Held {
  readonly res: HttpResponse;
  aborted: boolean;
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
