/**
 * A minimal RESP2 client over node:net / node:tls for short-lived CLI commands
 * (the `revoke` kill switch): one connection, pipelined writes, strict replies.
 * It exists because importing ioredis costs ~70 ms of start-up, more than the
 * whole exchange; the proxy keeps using ioredis (reconnects, pub/sub, every URL form).
 *
 * Only the URL forms it can read exactly are accepted ({@link parseRedisUrl}):
 * `redis://` / `rediss://` with optional `user:password@`, host, port and `/db`.
 * Wire format and parser: resp-parser.ts.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { encodeCommand, protocol, RespError, RespParser, type RespValue } from './resp-parser.js';

export { RespError, type RespErrorCode, type RespValue } from './resp-parser.js';

export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
  readonly db: number;
}

/**
 * Read a `redis://` or `rediss://` URL the way ioredis does (WHATWG URL, decoded
 * credentials, `/N` = database index). Null for anything else (no scheme, unix
 * socket, query options, a non-numeric db): callers fall back to ioredis for those.
 */
export function parseRedisUrl(url: string): RedisTarget | null {
  if (!/^rediss?:\/\//.test(url)) return null;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.search !== '' || u.hash !== '') return null;
  const db = u.pathname === '' || u.pathname === '/' ? 0 : /^\/\d{1,5}$/.test(u.pathname) ? Number(u.pathname.slice(1)) : -1;
  if (db < 0) return null;
  const password = decodeURIComponent(u.password);
  const username = decodeURIComponent(u.username);
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: u.port === '' ? 6379 : Number(u.port),
    tls: u.protocol === 'rediss:',
    db,
    ...(password !== '' && { password, ...(username !== '' && { username }) }),
  };
}

export interface RespClientOptions {
  /** Give up connecting (TCP + TLS) after this long. Default 2000 ms. */
  readonly connectTimeoutMs?: number;
  /** Give up waiting for the replies of one `send` after this long. Default 1000 ms. */
  readonly commandTimeoutMs?: number;
}

export interface RespClient {
  /** Write the commands in one write; resolve with their replies in order (error replies as values). */
  send(commands: ReadonlyArray<readonly string[]>): Promise<RespValue[]>;
  /** MULTI, the commands, EXEC in one write; the EXEC results, or throws the first error reply. */
  transaction(commands: ReadonlyArray<readonly string[]>): Promise<RespValue[]>;
  /** Idempotent: the same promise on every call. Never rejects. */
  close(): Promise<void>;
}

/**
 * Connect, authenticate and select the database (one round trip, only when the
 * URL asks for it). Rejects with a {@link RespError}: `RESP_CONNECT`, `RESP_TIMEOUT`,
 * or `RESP_REPLY` when AUTH/SELECT is refused.
 */
export async function connectResp(target: RedisTarget, opts: RespClientOptions = {}): Promise<RespClient> {
  const where = `${target.host}:${target.port}`;
  const socket: Socket = target.tls
    ? (await import('node:tls')).connect({ host: target.host, port: target.port, ...(isIP(target.host) === 0 && { servername: target.host }) })
    : netConnect({ host: target.host, port: target.port });
  socket.setNoDelay(true);
  const parser = new RespParser();
  let waiting: { need: number; got: RespValue[]; resolve: (v: RespValue[]) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  let failure: RespError | null = null;
  let closing: Promise<void> | null = null;

  const fail = (err: RespError) => {
    failure ??= err;
    if (waiting) {
      clearTimeout(waiting.timer);
      waiting.reject(failure);
      waiting = null;
    }
    socket.destroy();
  };
  socket.on('data', (chunk: Buffer) => {
    let replies: RespValue[];
    try {
      replies = parser.push(chunk);
    } catch (err) {
      return fail(err as RespError);
    }
    if (!waiting) return replies.length > 0 ? fail(protocol('reply without a command')) : undefined;
    waiting.got.push(...replies);
    if (waiting.got.length > waiting.need) return fail(protocol('more replies than commands'));
    if (waiting.got.length === waiting.need) {
      const w = waiting;
      waiting = null;
      clearTimeout(w.timer);
      w.resolve(w.got);
    }
  });
  socket.on('error', (err) => fail(new RespError(closing ? 'RESP_CLOSED' : 'RESP_CONNECT', `redis: ${where}: ${err.message}`)));
  socket.on('close', () => fail(new RespError('RESP_CLOSED', `redis: ${where}: connection closed`)));

  await new Promise<void>((resolve, reject) => {
    const timeoutMs = opts.connectTimeoutMs ?? 2000;
    const timer = setTimeout(() => fail(new RespError('RESP_TIMEOUT', `redis: ${where}: no connection after ${timeoutMs} ms`)), timeoutMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onClose = () => done(failure ?? new RespError('RESP_CONNECT', `redis: ${where}: connection closed`));
    socket.once(target.tls ? 'secureConnect' : 'connect', () => done());
    socket.once('close', onClose);
  });

  function send(commands: ReadonlyArray<readonly string[]>): Promise<RespValue[]> {
    if (failure) return Promise.reject(failure);
    if (waiting) return Promise.reject(new Error('RespClient.send: one exchange at a time'));
    if (commands.length === 0) return Promise.resolve([]);
    const timeoutMs = opts.commandTimeoutMs ?? 1000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new RespError('RESP_TIMEOUT', `redis: ${where}: no reply after ${timeoutMs} ms`)), timeoutMs);
      waiting = { need: commands.length, got: [], resolve, reject, timer };
      socket.write(commands.map(encodeCommand).join(''));
    });
  }

  const client: RespClient = {
    send,
    async transaction(commands) {
      const replies = await send([['MULTI'], ...commands, ['EXEC']]);
      const exec = replies[replies.length - 1];
      // A queueing error makes EXEC answer -EXECABORT; report the cause, not the abort.
      const err =
        replies.find((r): r is RespError => r instanceof RespError) ??
        (Array.isArray(exec) ? exec.find((r): r is RespError => r instanceof RespError) : undefined);
      if (err) throw new RespError('RESP_REPLY', `redis: ${where}: ${err.message}`);
      if (!Array.isArray(exec)) throw protocol('EXEC did not answer with an array');
      return exec;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once('close', () => resolve());
        socket.end();
        setTimeout(() => socket.destroy(), 200).unref();
      });
      return closing;
    },
  };

  const hello: string[][] = [];
  if (target.password !== undefined) hello.push(target.username !== undefined ? ['AUTH', target.username, target.password] : ['AUTH', target.password]);
  if (target.db !== 0) hello.push(['SELECT', String(target.db)]);
  // Its own round trip before any write: a MULTI pipelined after a failed SELECT would run on database 0.
  try {
    const refused = (await send(hello)).find((r): r is RespError => r instanceof RespError);
    if (refused) throw new RespError('RESP_REPLY', `redis: ${where}: ${refused.message}`);
  } catch (err) {
    await client.close();
    throw err;
  }
  return client;
}
