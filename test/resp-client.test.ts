/**
 * The lean RESP2 client (src/clients/resp.ts) against real Redis: a MULTI/EXEC
 * round trip in one write, an error reply surfaced as RESP_REPLY, a refused
 * connection and a silent server as clear errors, and an idempotent close().
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { connectResp, parseRedisUrl, RespError, type RedisTarget } from '../src/clients/resp.js';
import { SHARED_REDIS, dropPrefix, testPrefix } from './support/auth-harness.js';

const target = parseRedisUrl(SHARED_REDIS) as RedisTarget;

describe('lean RESP client against real Redis', () => {
  const prefix = testPrefix('resp');
  let redis: Redis;
  let silent: Server;
  const held: Socket[] = [];

  before(async () => {
    redis = new Redis(SHARED_REDIS);
    silent = createServer((s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  });

  after(async () => {
    await dropPrefix(redis, prefix);
    redis.disconnect();
    for (const s of held) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  it('runs MULTI/SET/PUBLISH/EXEC in one round trip and returns the EXEC results', async () => {
    const c = await connectResp(target);
    try {
      const res = await c.transaction([
        ['SET', `${prefix}a`, 'héllo'],
        ['INCRBY', `${prefix}n`, '41'],
        ['GET', `${prefix}a`],
        ['GET', `${prefix}missing`],
        ['PUBLISH', `${prefix}chan`, 'x'],
      ]);
      assert.deepEqual(res, ['OK', 41, 'héllo', null, 0]);
      assert.equal(await redis.get(`${prefix}a`), 'héllo');
      assert.deepEqual(await c.send([['PING'], ['LRANGE', `${prefix}none`, '0', '-1']]), ['PONG', []]);
    } finally {
      await c.close();
    }
  });

  it('surfaces an error reply as RESP_REPLY; a WRONGTYPE inside EXEC too', async () => {
    const c = await connectResp(target);
    try {
      const [err] = await c.send([['NOSUCHCOMMAND']]);
      assert.ok(err instanceof RespError && err.code === 'RESP_REPLY' && /^ERR unknown command/.test(err.message), String(err));
      await assert.rejects(
        c.transaction([
          ['SET', `${prefix}w`, 'v'],
          ['SET', `${prefix}w`],
        ]),
        (e: RespError) => e.code === 'RESP_REPLY' && /wrong number of arguments/.test(e.message),
      );
      assert.equal(await redis.exists(`${prefix}w`), 0, 'a queueing error aborts the whole transaction');
      await redis.set(`${prefix}s`, 'str');
      await assert.rejects(c.transaction([['LPUSH', `${prefix}s`, 'x']]), (e: RespError) => e.code === 'RESP_REPLY' && /WRONGTYPE/.test(e.message));
    } finally {
      await c.close();
    }
  });

  it('a refused connection rejects with RESP_CONNECT naming the address', async () => {
    await assert.rejects(
      connectResp({ ...target, port: 1 }),
      (e: RespError) => e.code === 'RESP_CONNECT' && /127\.0\.0\.1:1: connect ECONNREFUSED/.test(e.message),
    );
  });

  it('a server that never answers times out with RESP_TIMEOUT', async () => {
    const port = (silent.address() as { port: number }).port;
    const c = await connectResp({ ...target, port }, { commandTimeoutMs: 100 });
    await assert.rejects(c.send([['PING']]), (e: RespError) => e.code === 'RESP_TIMEOUT' && /no reply after 100 ms/.test(e.message));
    await assert.rejects(c.send([['PING']]), (e: RespError) => e.code === 'RESP_TIMEOUT', 'a failed connection stays failed');
    await c.close();
  });

  it('close() is idempotent: the same promise, and sends fail afterwards', async () => {
    const c = await connectResp(target);
    const p = c.close();
    assert.equal(c.close(), p);
    await p;
    await assert.rejects(c.send([['PING']]), RespError);
  });

  it('AUTH is refused with a clear error when the server has no such user', async () => {
    await assert.rejects(
      connectResp({ ...target, username: 'argus-no-such-user', password: 'x' }),
      (e: RespError) => e.code === 'RESP_REPLY' && /WRONGPASS|invalid/i.test(e.message),
    );
  });

  it('reads redis:// and rediss:// URLs like ioredis; other forms are left to ioredis (null)', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379'), { host: '127.0.0.1', port: 6379, tls: false, db: 0 });
    assert.deepEqual(parseRedisUrl('rediss://u%40x:p%3Aw@redis.example:6380/3'), {
      host: 'redis.example',
      port: 6380,
      tls: true,
      db: 3,
      username: 'u@x',
      password: 'p:w',
    });
    assert.deepEqual(parseRedisUrl('redis://:secret@[::1]'), { host: '::1', port: 6379, tls: false, db: 0, password: 'secret' });
    for (const other of ['127.0.0.1:6379', '/tmp/redis.sock', 'redis://h/0?family=6', 'redis://h/abc', 'REDIS://h'])
      assert.equal(parseRedisUrl(other), null, other);
  });
});
