/**
 * Response header names from the upstream parser (src/forward/h1/parser.ts) are
 * lower-cased whatever their spelling, common ones handed on as constants: the
 * same names in every case, near misses (same length, one character off, a token
 * character that folds to another under OR 0x20) left as they were sent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResponseParser, type ParserSink } from '../src/forward/h1/parser.js';

function namesOf(head: string): string[] {
  let headers: string[] = [];
  const sink: ParserSink = {
    onHead: (_s, h) => {
      headers = h;
    },
    onBody: () => undefined,
    halted: false,
  };
  const p = new ResponseParser(sink, { maxHeadBytes: 8192, maxHeaders: 100 });
  p.reset(false);
  p.execute(Buffer.from(`HTTP/1.1 200 OK\r\n${head}Content-Length: 0\r\n\r\n`, 'latin1'), 0);
  assert.ok(p.complete);
  return headers.filter((_, i) => i % 2 === 0);
}

test('common names in any case come out lower-case', () => {
  const spellings = ['content-type', 'Content-Type', 'CONTENT-TYPE', 'cOnTeNt-TyPe'];
  for (const n of spellings) assert.deepEqual(namesOf(`${n}: text/plain\r\n`), ['content-type', 'content-length']);
  assert.deepEqual(namesOf('Date: x\r\nServer: y\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nETag: "1"\r\nVary: a\r\n'), [
    'date',
    'server',
    'connection',
    'keep-alive',
    'etag',
    'vary',
    'content-length',
  ]);
});

test('near misses keep their own (lower-cased) spelling', () => {
  // Same length as a common name: one letter off, '_' or '^' where it has '-', a digit.
  for (const n of ['content-typf', 'Content_Type', 'content^type', 'dat3', 'Servers', 'x-content-type', 'content-type-x']) {
    assert.deepEqual(namesOf(`${n}: v\r\n`), [n.toLowerCase(), 'content-length'], n);
  }
});

test('framing still reads the interned names: Transfer-Encoding in capitals is chunked', () => {
  let body = '';
  const sink: ParserSink = { onHead: () => undefined, onBody: (c) => void (body += Buffer.from(c).toString()), halted: false };
  const p = new ResponseParser(sink, { maxHeadBytes: 8192, maxHeaders: 100 });
  p.reset(false);
  p.execute(Buffer.from('HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 'latin1'), 0);
  assert.ok(p.complete);
  assert.equal(body, 'abc');
});
