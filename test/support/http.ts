/** Plain HTTP/1.1 requests for tests: a fresh connection each (no agent), whole body as text. */
import http from 'node:http';

export interface HttpReply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export function request(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

export const get = (url: string, headers: Record<string, string> = {}): Promise<HttpReply> => request(url, { headers });

/** POST a JSON body. */
export const post = (url: string, headers: Record<string, string>, body: string): Promise<HttpReply> =>
  request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

/** The contract error code of a JSON error reply. */
export const errorCode = (r: HttpReply): string => (JSON.parse(r.body) as { error: { code: string } }).error.code;
