/**
 * Fuzz the response parser (it sees the upstream's bytes): random and mutated
 * inputs fail only with H1Error, never another exception and never a hang; a
 * valid response parses to the same status, headers and body however its bytes
 * are split across reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { H1Error } from '../src/forward/h1/errors.js';
import { prng } from './support/prng.js';
import { ResponseParser, type ParserSink } from '../src/forward/h1/parser.js';

interface Parsed {
  status: number;
  headers: string[];
  body: Buffer;
  complete: boolean;
}

function parse(pieces: Buffer[], noBody = false, eof = false): Parsed {
  const out: Parsed = { status: 0, headers: [], body: Buffer.alloc(0), complete: false };
  const parts: Buffer[] = [];
  const sink: ParserSink = {
    onHead: (s, h) => {
      out.status = s;
      out.headers = h;
    },
    onBody: (c) => parts.push(Buffer.from(c)),
    halted: false,
  };
  const p = new ResponseParser(sink, { maxHeadBytes: 8192, maxHeaders: 100 });
  p.reset(noBody);
  for (const piece of pieces) {
    let off = 0;
    // Guard against a parser that stops making progress.
    for (let spins = 0; off < piece.length && !p.complete; spins++) {
      assert.ok(spins < piece.length + 10, 'parser made no progress');
      off = p.execute(piece, off);
    }
    if (p.complete) break;
  }
  if (eof && !p.complete) p.eof();
  out.body = Buffer.concat(parts);
  out.complete = p.complete;
  return out;
}

function splitRandomly(buf: Buffer, r: () => number): Buffer[] {
  const pieces: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const n = 1 + Math.floor(r() * Math.min(64, buf.length - i));
    pieces.push(buf.subarray(i, i + n));
    i += n;
  }
  return pieces;
}

const VALID = [
  'HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\nhello',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10;x=y\r\n0123456789abcdef\r\n0\r\nx-t: 1\r\n\r\n',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-length: 2\r\nset-cookie: a\r\nset-cookie: b\r\n\r\nno',
  'HTTP/1.0 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: 1\n\ndata: 2\n\n',
  'HTTP/1.1 204 No Content\r\nx-empty:\r\n\r\n',
];

describe('h1 response parser fuzz', () => {
  it('parses valid responses identically whatever the read boundaries (2,000 splits)', () => {
    for (const text of VALID) {
      const whole = Buffer.from(text, 'latin1');
      const eof = text.startsWith('HTTP/1.0');
      const expected = parse([whole], false, eof);
      assert.equal(expected.complete, true, text);
      const r = prng(text.length);
      for (let i = 0; i < 400; i++) {
        const got = parse(splitRandomly(whole, r), false, eof);
        assert.deepEqual(got, expected, `split #${i} of ${JSON.stringify(text)}`);
      }
    }
  });

  it('fails random and mutated bytes only with H1Error (20,000 inputs)', () => {
    const r = prng(0xa5a5);
    const alphabet = Buffer.from('HTTP/1.1 200 OK\r\n:;, \t0123456789abcdefABCDEF\x00\x7f\xffchunked content-length transfer-encoding', 'latin1');
    let errors = 0;
    let completes = 0;
    for (let i = 0; i < 20_000; i++) {
      let input: Buffer;
      if (i % 2 === 0) {
        const n = Math.floor(r() * 300);
        input = Buffer.alloc(n);
        for (let j = 0; j < n; j++) input[j] = r() < 0.7 ? alphabet[Math.floor(r() * alphabet.length)]! : Math.floor(r() * 256);
      } else {
        input = Buffer.from(VALID[i % VALID.length]!, 'latin1');
        const flips = 1 + Math.floor(r() * 4);
        for (let f = 0; f < flips; f++) input[Math.floor(r() * input.length)] = alphabet[Math.floor(r() * alphabet.length)]!;
      }
      try {
        const out = parse(splitRandomly(input, r), false, r() < 0.5);
        if (out.complete) completes++;
      } catch (err) {
        if (!(err instanceof H1Error)) throw new Error(`input #${i} ${JSON.stringify(input.toString('latin1'))} threw ${String(err)}`);
        assert.ok(['H1_BAD_RESPONSE', 'H1_CLOSED'].includes(err.code), err.code);
        errors++;
      }
    }
    // Both outcomes occur: the corpus exercises acceptance and rejection.
    assert.ok(errors > 1000, `errors ${errors}`);
    assert.ok(completes > 100, `completes ${completes}`);
  });
});
