/**
 * Stand-in for the identity provider's JWKS endpoint (Cognito), served over real
 * HTTP on 127.0.0.1, port 0. It holds RS256 and ES256 signing keys, signs tokens,
 * and has switches for rotation and outage. Also serves the JWKS as a file path
 * (`writeFile`) for the jwks_file mode.
 */
import { createHmac, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SigningKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: Record<string, unknown>;
}

let kidSeq = 0;

/** A fresh signing key (RSA 2048 or P-256) with a unique kid. */
export function makeSigningKey(alg: 'RS256' | 'ES256', kid = `${alg.toLowerCase()}-${process.pid}-${++kidSeq}`): SigningKey {
  const { privateKey, publicKey } = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return { kid, alg, privateKey, publicKey, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/**
 * Sign a compact JWS exactly as given (no defaults, no checks): the tool for
 * building both valid tokens and deliberately bad ones.
 * `key`: a SigningKey (RS256/ES256 per `header.alg`), an HMAC secret, or null (empty signature).
 */
export function signCompact(header: Record<string, unknown>, payload: unknown, key: SigningKey | KeyObject | string | Buffer | null): string {
  const input = `${b64(header)}.${b64(payload)}`;
  if (key === null) return `${input}.`;
  const alg = String(header['alg']);
  if (typeof key === 'string' || Buffer.isBuffer(key)) return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
  const priv = 'privateKey' in key ? key.privateKey : key;
  const sig = alg.startsWith('ES')
    ? cryptoSign('sha256', Buffer.from(input), { key: priv, dsaEncoding: 'ieee-p1363' })
    : cryptoSign('sha256', Buffer.from(input), priv);
  return `${input}.${sig.toString('base64url')}`;
}

export interface JwksServer {
  /** http://127.0.0.1:PORT/.well-known/jwks.json */
  readonly url: string;
  /** Keys currently published (newest last). */
  readonly published: SigningKey[];
  /** The RS256 and ES256 keys created at start. */
  readonly rs: SigningKey;
  readonly es: SigningKey;
  /** Successful + failed requests served so far. */
  fetches(): number;
  /** While on, every request answers 503. */
  fail(on: boolean): void;
  /** Publish a new RS256 key; with dropOld, stop publishing every older key. */
  rotate(opts?: { dropOld?: boolean }): SigningKey;
  /** Sign claims with a published key (default: the newest RS256). */
  sign(payload: Record<string, unknown>, opts?: { key?: SigningKey; header?: Record<string, unknown> }): string;
  /** Write the current JWKS to a file (jwks_file mode). */
  writeFile(path: string): void;
  close(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  const rs = makeSigningKey('RS256');
  const es = makeSigningKey('ES256');
  const published: SigningKey[] = [rs, es];
  let failing = false;
  let count = 0;
  const doc = () => JSON.stringify({ keys: published.map((k) => k.publicJwk) });
  const server: Server = createServer((req, res) => {
    count++;
    if (failing) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
      return;
    }
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(doc());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    published,
    rs,
    es,
    fetches: () => count,
    fail: (on) => {
      failing = on;
    },
    rotate(opts = {}) {
      const k = makeSigningKey('RS256');
      if (opts.dropOld) published.splice(0, published.length);
      published.push(k);
      return k;
    },
    sign(payload, opts = {}) {
      const key = opts.key ?? [...published].reverse().find((k) => k.alg === 'RS256') ?? rs;
      return signCompact({ alg: key.alg, typ: 'JWT', kid: key.kid, ...opts.header }, payload, key);
    },
    writeFile: (path) => writeFileSync(path, doc()),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
