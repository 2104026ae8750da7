/**
 * The request head as the pipeline sees it: copied out of uWS's stack-allocated
 * HttpRequest once (uWS invalidates it after the handler returns), so every stage
 * can read it synchronously or later.
 */
export interface RequestHead {
  /** Upper-case method, e.g. "GET". */
  readonly method: string;
  /**
   * Path without the query string, e.g. "/v1/predictions/7": as sent until the
   * pipeline normalises it (src/server/path.ts), then the normalised path that is
   * matched, metered and forwarded.
   */
  path: string;
  /** Raw query string without "?", "" when absent. */
  readonly query: string;
  /**
   * Header lines in arrival order, names lower-cased, values as sent. Flat array:
   * [name0, value0, name1, value1, …] (cheaper than an array of pairs).
   */
  readonly headers: string[];
  /** Client address as text (IPv4 or IPv6). */
  readonly remoteAddress: string;
  /** x-request-id from the client when well-formed, else generated. */
  readonly requestId: string;
}
