/**
 * SSE parser: WHATWG event-stream rules, arbitrary chunk boundaries, bounded
 * memory, and fuzzing (random chunkings agree; random bytes never throw).
 */
import { prng } from './support/prng.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSseParser, parseSse, type SseEvent } from '../src/llm/sse.js';

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);

function parseChunks(chunks: Uint8Array[], maxEventSize?: number): { events: SseEvent[]; error: string | undefined } {
  const events: SseEvent[] = [];
  const p = createSseParser(maxEventSize === undefined ? { onEvent: (e) => events.push(e) } : { onEvent: (e) => events.push(e), maxEventSize });
  for (const c of chunks) p.push(c);
  p.end();
  return { events, error: p.error };
}

function randomChunks(buf: Uint8Array, rnd: () => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < buf.length) {
    const n = rnd() < 0.3 ? 1 : 1 + Math.floor(rnd() * 24);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

test('multi-line data is joined with LF (spec example)', () => {
  const { events } = parseSse(bytes('data: YHOO\ndata: +2\ndata: 10\n\n'));
  assert.deepEqual(events, [{ type: 'message', data: 'YHOO\n+2\n10', id: '' }]);
});

test('comments, id and the one optional leading space (spec example)', () => {
  const { events } = parseSse(bytes(': test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n'));
  assert.deepEqual(
    events.map((e) => [e.data, e.id]),
    [
      ['first event', '1'],
      ['second event', ''],
      [' third event', ''],
    ],
  );
});

test('empty data fields dispatch; an unterminated last event is discarded (spec example)', () => {
  const { events } = parseSse(bytes('data\n\ndata\ndata\n\ndata:'));
  assert.deepEqual(
    events.map((e) => e.data),
    ['', '\n'],
  );
});

test('event field sets the type once; blocks without data dispatch nothing', () => {
  const { events } = parseSse(bytes('event: add\ndata: 1\n\nevent: ignored\n\ndata: 2\n\n'));
  assert.deepEqual(
    events.map((e) => [e.type, e.data]),
    [
      ['add', '1'],
      ['message', '2'],
    ],
  );
});

test('CR, LF and CRLF all end lines, mixed in one stream', () => {
  const { events } = parseSse(bytes('data: a\rdata: b\r\n\r\ndata: c\n\rdata: d\r\n\n'));
  assert.deepEqual(
    events.map((e) => e.data),
    ['a\nb', 'c', 'd'],
  );
});

test('a CRLF split between chunks is one line end, not two', () => {
  const { events } = parseChunks([bytes('data: a\r'), bytes('\ndata: b\r'), bytes('\n\r'), bytes('\n')]);
  assert.deepEqual(
    events.map((e) => e.data),
    ['a\nb'],
  );
});

test('a UTF-8 sequence split at every byte position decodes intact', () => {
  const text = 'data: héllo wörld 🎉 日本\n\n';
  const buf = bytes(text);
  for (let cut = 1; cut < buf.length; cut++) {
    const { events } = parseChunks([buf.subarray(0, cut), buf.subarray(cut)]);
    assert.deepEqual(
      events.map((e) => e.data),
      ['héllo wörld 🎉 日本'],
      `cut at ${cut}`,
    );
  }
  const oneByOne = parseChunks([...buf].map((b) => Uint8Array.of(b)));
  assert.equal(oneByOne.events[0]?.data, 'héllo wörld 🎉 日本');
});

test('a leading BOM is stripped; retry and NUL-bearing ids follow the spec', () => {
  const p = createSseParser({ onEvent: () => {} });
  const events: SseEvent[] = [];
  const q = createSseParser({ onEvent: (e) => events.push(e) });
  q.push(bytes('\uFEFFdata: x\nid: 7\n\nid: bad\0id\nretry: 1500\nretry: 9x\ndata: y\n\n'));
  q.end();
  assert.deepEqual(events, [
    { type: 'message', data: 'x', id: '7' },
    { type: 'message', data: 'y', id: '7' },
  ]);
  assert.equal(q.retry, 1500);
  assert.equal(p.error, undefined);
});

test('an event over maxEventSize puts the parser in an error state without throwing', () => {
  const events: SseEvent[] = [];
  const p = createSseParser({ onEvent: (e) => events.push(e), maxEventSize: 64 });
  p.push(bytes('data: small\n\n'));
  for (let i = 0; i < 10; i++) p.push(bytes('x'.repeat(20))); // one endless line
  assert.equal(p.error, 'event_too_large');
  p.push(bytes('\n\ndata: later\n\n'));
  p.end();
  assert.deepEqual(
    events.map((e) => e.data),
    ['small'],
  );
  assert.equal(p.bytes, 13 + 200 + 15);
});

test('many data lines adding up past the bound also trip it', () => {
  const { events, error } = parseChunks([bytes('data: 0123456789\n'.repeat(10) + '\n')], 64);
  assert.equal(error, 'event_too_large');
  assert.deepEqual(events, []);
  assert.equal(parseChunks([bytes('data: 0123456789\n'.repeat(3) + '\n')], 64).events.length, 1);
});

test('fuzz: random chunkings of a corpus yield identical events', () => {
  const corpus = bytes(
    [
      ': keep-alive\n\n',
      'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":12}}}\n\n',
      'data: {"choices":[{"delta":{"content":"héllo 🎉"}}]}\r\n\r\n',
      'id: 42\r\nevent: ping\rdata: a\rdata:b\r\r',
      'data:  two spaces\n\n',
      'data: crlf one\r\ndata: crlf two\r\nevent: t\r\n\r\n',
      'retry: 100\nfoo: bar\ndata\n\n',
      'data: 日本語のテキスト\ndata: second line\n\n',
      'event: response.completed\ndata: {"response":{"usage":{"input_tokens":3,"output_tokens":5}}}\n\n',
      'data: [DONE]\n\n',
      'data: trailing without blank line',
    ].join(''),
  );
  const reference = parseSse(corpus);
  assert.equal(reference.events.length, 9);
  const seed = Number(process.env.SSE_FUZZ_SEED ?? Date.now() % 1e9);
  const rnd = prng(seed);
  for (let i = 0; i < 300; i++) {
    const got = parseChunks(randomChunks(corpus, rnd));
    assert.deepEqual(got, reference, `seed ${seed} iteration ${i}`);
  }
});

test('fuzz: random bytes never throw and parse the same however chunked', () => {
  const seed = Number(process.env.SSE_FUZZ_SEED ?? Date.now() % 1e9);
  const rnd = prng(seed);
  const alphabet = [...bytes('data:event:id:retry: \r\n\n\r\n:x{}'), 0x00, 0xef, 0xbb, 0xbf, 0xc3, 0xa9, 0xf0, 0x9f, 0x8e, 0x89, 0x80, 0xff];
  for (let i = 0; i < 300; i++) {
    const len = Math.floor(rnd() * 400);
    const buf = new Uint8Array(len);
    for (let j = 0; j < len; j++) buf[j] = rnd() < 0.8 ? alphabet[Math.floor(rnd() * alphabet.length)]! : Math.floor(rnd() * 256);
    const whole = parseSse(buf);
    const chunked = parseChunks(randomChunks(buf, rnd));
    assert.deepEqual(chunked, whole, `seed ${seed} iteration ${i}`);
    // A tiny bound exercises the error path on the same input: must not throw.
    assert.doesNotThrow(() => parseChunks(randomChunks(buf, rnd), 8), `seed ${seed} iteration ${i}`);
  }
});
