/**
 * JSON written straight into a growable byte buffer: the spool line and the job
 * data of a usage batch (./wire.ts) are built here instead of through
 * JSON.stringify and string concatenation, which left a rope of strings that
 * write(2) had to flatten and copy again (~3,000 instructions per request event,
 * bench/results/2026-12-05-5f8ce27/spool-once.md).
 *
 * The output is byte for byte what JSON.stringify gives for the same values:
 * plain ASCII strings and safe integers are written by hand, anything else goes
 * through JSON.stringify.
 */
export class JsonBytes {
  buf: Buffer;
  /** Bytes written. */
  len = 0;

  constructor(size = 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** ASCII text the caller knows needs no escaping (punctuation, keys). */
  raw(s: string): void {
    this.ensure(s.length);
    const b = this.buf;
    let p = this.len;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.len = p;
  }

  /** UTF-8 text as it is (already JSON). */
  utf8(s: string): void {
    this.ensure(Buffer.byteLength(s));
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  byte(c: number): void {
    this.ensure(1);
    this.buf[this.len++] = c;
  }

  /** A JSON string. */
  str(s: string): void {
    const n = s.length;
    this.ensure(n + 2);
    const b = this.buf;
    const start = this.len;
    let p = start;
    b[p++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      // Printable ASCII but `"` and `\` is what JSON.stringify leaves as it is.
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
        this.len = start;
        this.utf8(JSON.stringify(s));
        return;
      }
      b[p++] = c;
    }
    b[p++] = 0x22;
    this.len = p;
  }

  /** A JSON number (`null` for NaN and ±Infinity, as JSON.stringify). */
  num(v: number): void {
    if (!Number.isSafeInteger(v)) {
      this.raw(JSON.stringify(v) ?? 'null');
      return;
    }
    this.ensure(17);
    const b = this.buf;
    let p = this.len;
    let n = v;
    if (n < 0) {
      b[p++] = 0x2d;
      n = -n;
    }
    let digits = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
    p += digits;
    this.len = p;
    do {
      const q = Math.floor(n / 10);
      b[--p] = 0x30 + (n - q * 10);
      n = q;
    } while (n > 0);
  }

  /** Append `src`'s bytes from `from` on. */
  append(src: JsonBytes, from = 0): void {
    const n = src.len - from;
    if (n <= 0) return;
    this.ensure(n);
    src.buf.copy(this.buf, this.len, from, src.len);
    this.len += n;
  }

  /** The bytes written, as text. */
  text(from = 0): string {
    return this.buf.toString('utf8', from, this.len);
  }

  /** The bytes written (a view: valid until the next write). */
  view(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}
