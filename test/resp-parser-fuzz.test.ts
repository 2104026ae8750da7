/**
 * Fuzz the RESP2 reply parser (src/clients/resp-parser.ts): random bytes, mutated and
 * truncated valid replies, fed in random chunks, never throw anything but a
 * RESP_PROTOCOL RespError and never loop; valid replies split anywhere parse the same.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { RespError, RespParser, type RespValue } from '../src/clients/resp-parser.js';

const VALID = [
  '+OK\r\n',
  '-ERR boom\r\n',
  ':42\r\n',
  ':-7\r\n',
  '$5\r\nhé\r\n\r\n',
  '$-1\r\n',
  '*-1\r\n',
  '*0\r\n',
  '*3\r\n+QUEUED\r\n:1\r\n*2\r\n$1\r\na\r\n-WRONGTYPE x\r\n',
];
const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 1e9);
let state = seed;
const rand = (n: number) => (state = (state * 1103515245 + 12345) % 2147483648) % n;

function feed(bytes: Buffer): RespValue[] {
  const p = new RespParser();
  const out: RespValue[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + rand(8);
    out.push(...p.push(bytes.subarray(i, i + n)));
    i += n;
  }
  return out;
}

function onlyProtocolErrors(bytes: Buffer): void {
  try {
    feed(bytes);
  } catch (err) {
    assert.ok(err instanceof RespError && err.code === 'RESP_PROTOCOL', `seed ${seed}: ${JSON.stringify(bytes.toString('latin1'))} threw ${String(err)}`);
  }
}

describe(`RESP parser fuzz (FUZZ_SEED=${seed})`, () => {
  it('parses valid replies identically however they are split', () => {
    const all = Buffer.from(VALID.join(''));
    const whole = new RespParser().push(all);
    assert.equal(whole.length, VALID.length);
    assert.equal(whole[4], 'hé\r\n', 'bulk lengths count bytes, and CRLF inside a bulk string is data');
    for (let i = 0; i < 200; i++) assert.deepEqual(feed(all), whole);
  });

  it('random bytes: only protocol errors', () => {
    for (let i = 0; i < 5000; i++) onlyProtocolErrors(randomBytes(rand(64)));
  });

  it('mutated and truncated valid replies: only protocol errors, truncations just wait for more', () => {
    const alphabet = Buffer.from('+-:$*\r\n0123456789-aZ\x00\xff');
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.from(VALID[rand(VALID.length)]! + VALID[rand(VALID.length)]!);
      for (let m = rand(4); m > 0; m--) b[rand(b.length)] = alphabet[rand(alphabet.length)]!;
      onlyProtocolErrors(b);
      const cut = Buffer.from(VALID.join('')).subarray(0, rand(80));
      onlyProtocolErrors(cut);
    }
  });

  it('hostile shapes fail fast instead of growing or recursing', () => {
    const deep = Buffer.from('*1\r\n'.repeat(10_000));
    assert.throws(
      () => new RespParser().push(deep),
      (e: RespError) => e.code === 'RESP_PROTOCOL',
    );
    assert.throws(
      () => new RespParser().push(Buffer.from('$99999999999\r\n')),
      (e: RespError) => e.code === 'RESP_PROTOCOL',
    );
    assert.throws(
      () => new RespParser().push(Buffer.from('$3\r\nabcXY')),
      (e: RespError) => e.code === 'RESP_PROTOCOL',
    );
    const p = new RespParser();
    assert.throws(
      () => {
        for (let i = 0; i < 40; i++) p.push(Buffer.alloc(64 * 1024, 0x61).fill('+', 0, 1));
      },
      (e: RespError) => e.code === 'RESP_PROTOCOL',
      'an endless simple string is cut off',
    );
  });
});
