/** Raw HTTP/1.1 over a TCP socket, for requests no well-behaved client would send. */
import net from 'node:net';

export interface RawResult {
  readonly response: string;
  /** The server closed the connection (within the wait). */
  readonly closed: boolean;
  readonly status: number;
}

/** Send bytes, collect the reply until the server closes or `waitMs` passes. */
export function rawRequest(port: number, payload: string | Buffer, waitMs = 1500): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(payload));
    let out = '';
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(out);
      resolve({ response: out, closed, status: m ? Number(m[1]) : 0 });
    };
    socket.on('data', (d) => (out += d.toString('latin1')));
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    const timer = setTimeout(() => finish(false), waitMs);
  });
}

/** Parse the JSON body of a raw response (after the blank line). */
export function rawJson(r: RawResult): unknown {
  const i = r.response.indexOf('\r\n\r\n');
  return JSON.parse(r.response.slice(i + 4));
}

/** Poll `check` until it returns true or `ms` passes. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}
