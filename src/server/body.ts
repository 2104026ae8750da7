/**
 * A request body read from uWS, streamed with backpressure.
 *
 * uWS delivers body chunks through `res.onData`, which must be registered in the
 * request handler itself, before authentication (possibly async) has decided
 * anything. So the body starts buffering at once, up to a small high-water mark,
 * then pauses the socket (`res.pause()`) until a consumer attaches: nothing is
 * buffered whole, and a rejected request's body is never read far.
 */
import { Readable } from 'node:stream';
import type { HttpResponse } from './uws.js';

/** Bodies up to this size that are already complete are forwarded as one Buffer. */
export const SMALL_BODY_BYTES = 64 * 1024;

export class RequestBody {
  /** Bytes received so far. */
  received = 0;
  /** The client has sent the whole body. */
  complete = false;
  /** Set when the body outgrew its limit; the consumer answers 413. */
  tooLarge = false;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private paused = false;
  private stream: Readable | undefined;
  private waiter: (() => void) | undefined;
  /** Set while {@link collect} reads the whole body (no pausing at the high-water mark). */
  private collecting: { max: number; resolve: (b: Buffer | null) => void } | undefined;

  constructor(
    private readonly res: HttpResponse,
    private readonly maxBytes: number,
    private readonly onTooLarge: () => void,
  ) {
    res.onData((chunk, isLast) => this.onData(chunk, isLast));
  }

  private onData(ab: ArrayBuffer, isLast: boolean): void {
    if (this.tooLarge) return;
    this.received += ab.byteLength;
    if (this.received > this.maxBytes) {
      this.tooLarge = true;
      this.stream?.destroy(new Error('request body over limit'));
      this.onTooLarge();
      return;
    }
    // uWS reuses (and neuters) the ArrayBuffer after this callback: copy it.
    const copy = ab.byteLength > 0 ? Buffer.copyBytesFrom(new Uint8Array(ab)) : undefined;
    if (isLast) this.complete = true;
    if (this.stream) {
      if (copy && !this.stream.push(copy)) this.pause();
      if (isLast) this.stream.push(null);
      return;
    }
    if (copy) {
      this.chunks.push(copy);
      this.buffered += copy.byteLength;
    }
    const c = this.collecting;
    if (c) {
      if (this.buffered > c.max) {
        this.collecting = undefined;
        this.pause();
        c.resolve(null);
      } else if (isLast) {
        this.collecting = undefined;
        c.resolve(this.whole()!);
      }
      return;
    }
    if (!isLast && this.buffered >= SMALL_BODY_BYTES) this.pause();
    if (this.waiter && (isLast || this.paused)) {
      const w = this.waiter;
      this.waiter = undefined;
      w();
    }
  }

  private pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.res.pause();
    }
  }

  private resume(): void {
    if (this.paused) {
      this.paused = false;
      this.res.resume();
    }
  }

  /** Resolves once the body is complete or the buffer is full (socket paused). */
  settled(): Promise<void> | undefined {
    if (this.complete || this.paused || this.tooLarge) return undefined;
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /**
   * Read the whole body into memory, up to `max` bytes (requests an extension inspects, whose JSON
   * must be inspected before forwarding). Resolves null when it is larger.
   */
  collect(max: number): Promise<Buffer | null> {
    if (this.buffered > max) return Promise.resolve(null);
    if (this.complete) return Promise.resolve(this.whole()!);
    return new Promise((resolve) => {
      this.collecting = { max, resolve };
      this.resume();
    });
  }

  /** The body as one Buffer when it is complete, else undefined. */
  whole(): Buffer | undefined {
    if (!this.complete) return undefined;
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
  }

  /** The body as a stream: what was buffered, then the rest as it arrives. */
  toStream(): Readable {
    if (this.stream) return this.stream;
    const stream = new Readable({
      highWaterMark: SMALL_BODY_BYTES,
      read: () => this.resume(),
    });
    for (const c of this.chunks) stream.push(c);
    this.chunks = [];
    this.buffered = 0;
    if (this.complete) stream.push(null);
    this.stream = stream;
    return stream;
  }

  /** The client went away: fail the stream so the upstream request is aborted. */
  abort(): void {
    this.stream?.destroy(new Error('client aborted'));
  }
}
