/**
 * A fixed-rate (open-loop) HTTP/1.1 load generator with microsecond latencies,
 * for the "p99 added at ~5,000 rps" targets: autocannon reports whole
 * milliseconds, too coarse for a 0.3 ms budget.
 *
 * Request k is due at t0 + k / rate. Its latency runs from that due time (not
 * from when a connection was free to send it) to the end of its response, so a
 * stall shows up in every request it delays (no coordinated omission). One
 * request per connection at a time, keep-alive; responses are framed by the
 * proxy's own strict parser.
 *
 * Returns the same shape as autocannon's result (the fields bench/harness.ts reads).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { ResponseParser, type ParserSink } from '../src/forward/h1/parser.js';

export interface OpenLoopOptions {
  readonly url: string;
  readonly rate: number;
  readonly connections: number;
  readonly durationS: number;
  readonly method?: string;
  readonly headers?: Record<string, string>;
}

export interface OpenLoopResult {
  requests: { average: number; total: number };
  latency: { p50: number; p90: number; p99: number; p99_9: number; max: number; mean: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Requests still queued or in flight when the run ended. */
  unfinished: number;
  /** The C generator ran at real-time priority (bench/openloop.c); absent from this JavaScript generator. */
  realtime?: boolean;
}

class Conn implements ParserSink {
  readonly socket: net.Socket;
  readonly parser: ResponseParser;
  dueAt = 0;
  busy = false;
  status = 0;
  halted = false;
  constructor(
    port: number,
    host: string,
    private readonly done: (c: Conn) => void,
    onError: () => void,
  ) {
    this.parser = new ResponseParser(this, { maxHeadBytes: 65536, maxHeaders: 200 });
    this.socket = net.connect({ port, host, noDelay: true });
    this.socket.on('data', (buf: Buffer) => {
      try {
        let off = 0;
        while (off < buf.length && this.busy) {
          off = this.parser.execute(buf, off);
          if (this.parser.complete) {
            this.busy = false;
            this.done(this);
          }
        }
      } catch {
        onError();
        this.socket.destroy();
      }
    });
    this.socket.on('error', onError);
  }
  onHead(status: number): void {
    this.status = status;
  }
  onBody(): void {}
  send(bytes: Buffer, dueAt: number, noBody: boolean): void {
    this.busy = true;
    this.dueAt = dueAt;
    this.parser.reset(noBody);
    this.socket.write(bytes);
  }
}

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const url = new URL(o.url);
  const method = o.method ?? 'GET';
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  for (const [k, v] of Object.entries(o.headers ?? {})) head += `${k}: ${v}\r\n`;
  const bytes = Buffer.from(head + '\r\n', 'latin1');
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const free: Conn[] = [];
  const queue: number[] = []; // due times waiting for a free connection
  const onDone = (c: Conn) => {
    latencies.push(performance.now() - c.dueAt);
    if (c.status < 200 || c.status > 299) non2xx++;
    const due = queue.shift();
    if (due !== undefined) c.send(bytes, due, method === 'HEAD');
    else free.push(c);
  };
  const conns: Conn[] = [];
  await Promise.all(
    Array.from(
      { length: o.connections },
      () =>
        new Promise<void>((resolve, reject) => {
          const c = new Conn(Number(url.port || 80), url.hostname, onDone, () => errors++);
          c.socket.once('connect', () => resolve());
          c.socket.once('error', reject);
          conns.push(c);
          free.push(c);
        }),
    ),
  );
  const interval = 1000 / o.rate;
  const t0 = performance.now();
  const end = t0 + o.durationS * 1000;
  let k = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const until = Math.min(now, end);
      while (t0 + k * interval <= until) {
        const due = t0 + k * interval;
        k++;
        const c = free.pop();
        if (c) c.send(bytes, due, method === 'HEAD');
        else queue.push(due);
      }
      if (now >= end) return resolve();
      setImmediate(tick);
    };
    tick();
  });
  // Let in-flight requests finish (bounded).
  const drainUntil = performance.now() + 2000;
  while (free.length < conns.length && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 5));
  for (const c of conns) c.socket.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
  const mean = latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length);
  return {
    requests: { average: Math.round(latencies.length / o.durationS), total: latencies.length },
    latency: { p50: q(0.5), p90: q(0.9), p99: q(0.99), p99_9: q(0.999), max: round(latencies.at(-1) ?? 0), mean: round(mean) },
    non2xx,
    errors,
    timeouts: 0,
    unfinished: k - latencies.length,
  };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
