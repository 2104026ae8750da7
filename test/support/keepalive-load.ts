/**
 * A keep-alive HTTP/1.1 load client on raw sockets that tells apart what a
 * load balancer must: a request that got a real answer, a request never sent
 * because the connection was closed (or refused) before it was written — which
 * a client simply retries on a new connection — and a failure: the connection
 * reset or closed after the request was written, or an error status.
 *
 * Each of `connections` loops: send `GET <path>?i=N`, read the whole response
 * (Content-Length or chunked), reuse the connection unless the response said
 * `Connection: close`. `stopSending()` models the endpoint leaving the load
 * balancer: loops finish their current request and open nothing new.
 */
import net from 'node:net';

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** Milliseconds (performance.now) when the request was written. */
  readonly sentAt: number;
  /** True when the request went out after `markPhase()` was called. */
  readonly afterMark: boolean;
}

export interface LoadReport {
  readonly answers: Answer[];
  /** Requests not sent: connection refused, or closed before the request was written. */
  readonly notSent: number;
  /** Resets / closes after the request was written, with what was received. */
  readonly failures: string[];
  readonly connectionsOpened: number;
}

export interface LoadClient {
  /** Requests answered so far. */
  answered(): number;
  /** Requests sent from now on are marked `afterMark`. */
  markPhase(): void;
  stopSending(): void;
  /** Resolves when every loop has stopped. */
  done: Promise<LoadReport>;
}

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: string;
  consumed: number;
}

/** A complete response at the start of `buf`, or undefined when more bytes are needed. */
export function parseResponse(buf: Buffer): Parsed | undefined {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let offset = headEnd + 4;
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', offset);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.subarray(offset, lineEnd).toString('latin1'), 16);
      if (buf.length < lineEnd + 2 + size + 2) return undefined;
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      offset = lineEnd + 2 + size + 2;
      if (size === 0) return { status, headers, body: Buffer.concat(parts).toString(), consumed: offset };
    }
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buf.length < offset + length) return undefined;
  return { status, headers, body: buf.subarray(offset, offset + length).toString(), consumed: offset + length };
}

export function startKeepAliveLoad(port: number, opts: { connections: number; path: string }): LoadClient {
  const answers: Answer[] = [];
  const failures: string[] = [];
  let notSent = 0;
  let opened = 0;
  let serial = 0;
  let sending = true;
  let marked = false;

  function connect(): Promise<net.Socket | undefined> {
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        opened++;
        resolve(s);
      });
      s.once('error', () => resolve(undefined));
    });
  }

  /** One request on `s`: its answer, 'closed' (not sent: the socket had ended) or a failure text. */
  function exchange(s: net.Socket, closed: { ended: boolean }): Promise<Parsed | 'closed' | string> {
    if (closed.ended || s.destroyed) return Promise.resolve('closed');
    const i = ++serial;
    return new Promise((resolve) => {
      let buf = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const parsed = parseResponse(buf);
        if (parsed) finish(parsed);
      };
      const onEnd = () => finish(`request ${i}: connection closed after the request was written (${buf.length} response bytes)`);
      const onError = (err: Error) => finish(`request ${i}: ${err.message} after the request was written (${buf.length} response bytes)`);
      const finish = (r: Parsed | string) => {
        s.off('data', onData);
        s.off('end', onEnd);
        s.off('error', onError);
        resolve(r);
      };
      s.on('data', onData);
      s.once('end', onEnd);
      s.once('error', onError);
      s.write(`GET ${opts.path}?i=${i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    });
  }

  async function loop(): Promise<void> {
    let s: net.Socket | undefined;
    let state = { ended: false };
    while (sending) {
      if (!s) {
        s = await connect();
        if (!s) {
          notSent++;
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        const st = { ended: false };
        state = st;
        s.on('end', () => (st.ended = true));
        s.on('error', () => (st.ended = true));
      }
      const sentAt = performance.now();
      const afterMark = marked;
      const r = await exchange(s, state);
      if (r === 'closed') {
        notSent++;
        s.destroy();
        s = undefined;
        continue;
      }
      if (typeof r === 'string') {
        failures.push(r);
        s.destroy();
        s = undefined;
        continue;
      }
      answers.push({ status: r.status, headers: r.headers, body: r.body, sentAt, afterMark });
      if (r.status !== 200) failures.push(`status ${r.status}: ${r.body}`);
      if (r.headers['connection']?.toLowerCase() === 'close') {
        s.end();
        s = undefined;
      }
    }
    s?.end();
  }

  const loops = Array.from({ length: opts.connections }, () => loop());
  return {
    answered: () => answers.length,
    markPhase: () => {
      marked = true;
    },
    stopSending: () => {
      sending = false;
    },
    done: Promise.all(loops).then(() => ({ answers, notSent, failures, connectionsOpened: opened })),
  };
}
