/**
 * RESP2 on the wire: commands out (arrays of bulk strings), replies in, strictly.
 * Spec: https://redis.io/docs/latest/develop/reference/protocol-spec/ (RESP2).
 * The parser sees bytes from the network, so it is fuzzed (test/resp-parser-fuzz.test.ts).
 */

export type RespErrorCode = 'RESP_REPLY' | 'RESP_PROTOCOL' | 'RESP_CONNECT' | 'RESP_TIMEOUT' | 'RESP_CLOSED';

/** Every failure of the RESP client (resp.ts) and parser; `RESP_REPLY` is the server's own `-ERR …` reply. */
export class RespError extends Error {
  override readonly name = 'RespError';
  constructor(
    readonly code: RespErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A reply: simple string, integer, bulk string (null when nil), array (null when nil), or an error reply. */
export type RespValue = string | number | null | RespError | RespValue[];

/** One command as RESP: an array of bulk strings. */
export function encodeCommand(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return out;
}

const MAX_DEPTH = 8;
const MAX_BUFFERED = 1 << 20;
const NEED_MORE = Symbol('need more');

/**
 * Incremental, strict reply parser. `push` returns the replies completed so far;
 * it throws `RespError('RESP_PROTOCOL')` on anything that is not RESP2 and never
 * anything else. Replies are small here, so an incomplete one is re-read from its start.
 */
export class RespParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RespValue[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: RespValue[] = [];
    let pos = 0;
    for (;;) {
      const r = this.value(pos, 0);
      if (r === NEED_MORE) break;
      out.push(r[0]);
      pos = r[1];
    }
    this.buf = this.buf.subarray(pos);
    if (this.buf.length > MAX_BUFFERED) throw protocol(`reply larger than ${MAX_BUFFERED} bytes`);
    return out;
  }

  private line(pos: number): [string, number] | typeof NEED_MORE {
    const end = this.buf.indexOf('\r\n', pos, 'latin1');
    if (end === -1) return NEED_MORE;
    return [this.buf.toString('utf8', pos, end), end + 2];
  }

  private int(text: string): number {
    if (!/^-?\d{1,15}$/.test(text)) throw protocol(`bad integer ${JSON.stringify(text.slice(0, 32))}`);
    return Number(text);
  }

  private value(pos: number, depth: number): [RespValue, number] | typeof NEED_MORE {
    if (pos >= this.buf.length) return NEED_MORE;
    const type = this.buf[pos];
    const l = this.line(pos + 1);
    if (l === NEED_MORE) return NEED_MORE;
    const [text, next] = l;
    if (type === 0x2b /* + */) return [text, next];
    if (type === 0x2d /* - */) return [new RespError('RESP_REPLY', text), next];
    if (type === 0x3a /* : */) return [this.int(text), next];
    if (type === 0x24 /* $ */) {
      const len = this.int(text);
      if (len === -1) return [null, next];
      if (len < 0 || len > MAX_BUFFERED) throw protocol(`bad bulk length ${len}`);
      if (this.buf.length < next + len + 2) return NEED_MORE;
      if (this.buf[next + len] !== 0x0d || this.buf[next + len + 1] !== 0x0a) throw protocol('bulk string not terminated by CRLF');
      return [this.buf.toString('utf8', next, next + len), next + len + 2];
    }
    if (type === 0x2a /* * */) {
      const n = this.int(text);
      if (n === -1) return [null, next];
      if (n < 0 || n > MAX_BUFFERED) throw protocol(`bad array length ${n}`);
      if (depth >= MAX_DEPTH) throw protocol(`arrays nested deeper than ${MAX_DEPTH}`);
      const items: RespValue[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = this.value(p, depth + 1);
        if (r === NEED_MORE) return NEED_MORE;
        items.push(r[0]);
        p = r[1];
      }
      return [items, p];
    }
    throw protocol(`unknown reply type byte 0x${(type ?? 0).toString(16).padStart(2, '0')}`);
  }
}

/** A RESP_PROTOCOL error: the bytes are not RESP2. */
export function protocol(message: string): RespError {
  return new RespError('RESP_PROTOCOL', `redis: protocol error: ${message}`);
}
