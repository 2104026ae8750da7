/**
 * Credentials and configs the benchmark suite needs: a signing key published as
 * a JWKS file, JWTs (one reused for cache hits, many distinct for cold
 * verification), an API key projected into Redis, a session header, and the
 * sidecar config with one route per scenario.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { generateApiKey, signSession } from '../src/authenticate/index.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { makeSigningKey, signCompact, type SigningKey } from '../test/support/jwks-server.js';

export const ISSUER = 'https://bench.argus.invalid/pool';
export const AUDIENCE = 'argus-bench';
export const SESSION_SECRET = randomBytes(24).toString('hex');

export interface Credentials {
  readonly jwt: string;
  readonly es256Jwt: string;
  readonly apiKey: string;
  /** An explorer-tier key (60 requests/min): the 429 scenario. */
  readonly limitedKey: string;
  readonly session: string;
  readonly coldRsFile: string;
  readonly coldEsFile: string;
  readonly jwksFile: string;
  readonly prefix: string;
}

function jwtFor(key: SigningKey, sub: string, nowS: number): string {
  return signCompact(
    { alg: key.alg, typ: 'JWT', kid: key.kid },
    { iss: ISSUER, aud: AUDIENCE, sub, iat: nowS, exp: nowS + 3600, 'custom:tier': 'business' },
    key,
  );
}

export async function makeCredentials(dir: string, redisUrl: string, coldTokens: number): Promise<Credentials> {
  const rs = makeSigningKey('RS256');
  const es = makeSigningKey('ES256');
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [rs.publicJwk, es.publicJwk] }));
  const nowS = Math.floor(Date.now() / 1000);
  const cold = (key: SigningKey, name: string) => {
    const file = join(dir, name);
    const lines: string[] = [];
    for (let i = 0; i < coldTokens; i++) lines.push(jwtFor(key, `cold-${name}-${i}`, nowS));
    writeFileSync(file, lines.join('\n'));
    return file;
  };
  const prefix = `argus-bench:${randomBytes(4).toString('hex')}:`;
  const key = generateApiKey();
  const redis = new Redis(redisUrl);
  await projectKey(redis, prefix, key.sha256, {
    key_id: key.key_id,
    user_id: 'bench-key',
    tier: 'business',
    scopes: [],
    features: [],
    status: 'active',
    requests_per_minute: 100_000_000,
  });
  const limited = generateApiKey();
  await projectKey(redis, prefix, limited.sha256, {
    key_id: limited.key_id,
    user_id: 'bench-limited',
    tier: 'explorer',
    scopes: [],
    features: [],
    status: 'active',
  });
  redis.disconnect();
  return {
    limitedKey: limited.key,
    jwt: jwtFor(rs, 'bench-user', nowS),
    es256Jwt: jwtFor(es, 'bench-es', nowS),
    apiKey: key.key,
    session: signSession({ sub: 'bench-session', sid: 's-1', exp: nowS + 3600, iat: nowS, tier: 'business' }, SESSION_SECRET),
    coldRsFile: cold(rs, 'cold-rs.txt'),
    coldEsFile: cold(es, 'cold-es.txt'),
    jwksFile,
    prefix,
  };
}

/** Remove everything a run left under its credentials' prefix: key records, deny state, the usage queue. */
export async function removeCredentials(redis: Pick<Redis, 'keys' | 'del'>, creds: Pick<Credentials, 'prefix'>): Promise<void> {
  const keys = await redis.keys(`${creds.prefix}*`);
  if (keys.length) await redis.del(...keys);
}

export interface SidecarVariant {
  readonly threads?: number;
  readonly verifyThreads?: number;
  readonly metering?: boolean;
  readonly ratelimit?: boolean;
  readonly scope?: 'local' | 'global';
  /** metering.flush_interval_ms (default: the config's). */
  readonly flushMs?: number;
  /** metering.batch_max_events (default: the config's). */
  readonly batchMax?: number;
  /** upstream.url (default: http://127.0.0.1:<upstreamPort>), e.g. unix:/path/up.sock. */
  readonly upstream?: string;
  /** metering.spool_dir (default /tmp/argus-bench-spool): two metered sidecars at once need one each. */
  readonly spoolDir?: string;
  /** metering.spool_fsync (default: the config's, `batch`). */
  readonly spoolFsync?: 'none' | 'batch' | 'always';
  /** Tracing on with this head sampling ratio (parent_based off; the collector address is closed: only sampled spans would try it). Absent: no observability block at all (older builds reject it). */
  readonly tracing?: number;
  /** server.helper_thread_nice (default: the config's, 10). */
  readonly helperNice?: number;
  /** false: no redis block (the meter runs standalone: batches stay in the spool, nothing is sent). */
  readonly redis?: boolean;
}

/** The sidecar's config for the suite, one route per scenario. */
export function sidecarConfig(port: number, adminPort: number, upstreamPort: number, redisUrl: string, creds: Credentials, v: SidecarVariant): string {
  return `listen: { host: 127.0.0.1, port: ${port} }
admin: { host: 127.0.0.1, port: ${adminPort} }
threads: ${v.threads ?? 1}
log: { level: warn }
${v.helperNice === undefined ? '' : `server: { helper_thread_nice: ${v.helperNice} }\n`}upstream: { url: "${v.upstream ?? `http://127.0.0.1:${upstreamPort}`}", connections: 128 }
${v.redis === false ? '' : `redis: { url: ${redisUrl}, key_prefix: "${creds.prefix}" }\n`}auth:
  jwt: { jwks_file: ${creds.jwksFile}, issuer: ${ISSUER}, audience: ${AUDIENCE}, algorithms: [RS256, ES256], verify_threads: ${v.verifyThreads ?? 0} }
  session: { secret: "${SESSION_SECRET}" }
  cold: { max_concurrent: 256, max_queue: 100000, client_failures_per_minute: 0 }
  cache: { max_entries: 200000 }
tiers:
  business: { requests_per_minute: 100000000 }
  explorer: { requests_per_minute: 60, burst: 0 }
ratelimit: { enabled: ${v.ratelimit ?? true}, scope: ${v.scope ?? 'local'} }
metering: { enabled: ${v.metering ?? true}, queue: "bench-${creds.prefix.split(':')[1]}", spool_dir: ${v.spoolDir ?? '/tmp/argus-bench-spool'}${v.flushMs ? `, flush_interval_ms: ${v.flushMs}` : ''}${v.batchMax ? `, batch_max_events: ${v.batchMax}` : ''}${v.spoolFsync ? `, spool_fsync: ${v.spoolFsync}` : ''} }
${v.tracing === undefined ? '' : `observability: { tracing: { enabled: true, endpoint: "http://127.0.0.1:9/v1/traces", sample_ratio: ${v.tracing}, parent_based: false } }\n`}routes:
  - { path: /pass/*, auth: none, meter: false }
  - { path: /passm/*, auth: none }
  - { path: /jwt/*, auth: required }
  - { path: /key/*, auth: required }
  - { path: /sess/*, auth: required }
  - { path: /limited/*, auth: required, rate_class: limited }
  - { path: /sse/*, auth: required, body_timeout_ms: 0 }
  - { path: /ws, auth: required, websocket: {} }
`;
}

/** A route of the cost comparisons: name, path, request headers. */
export type CostRoute = readonly [name: string, path: string, headers: Record<string, string>];

/**
 * The routes route-cost.ts and instructions.ts compare, all on the same request
 * (the JWT rides along on passthrough too, so its bytes cost every route alike).
 * With metering on a passthrough route is metered as well (routes default to
 * meter: true): the difference to that one is the credential check and the limit alone.
 */
export function costRoutes(creds: Pick<Credentials, 'jwt' | 'apiKey'>): CostRoute[] {
  const bearer = { authorization: `Bearer ${creds.jwt}` };
  return [
    ['passthrough + bearer', '/pass/x', bearer],
    ['jwt cache hit', '/jwt/x', bearer],
    ['api key', '/key/x', { 'x-api-key': creds.apiKey }],
    ['passthrough metered', '/passm/x', bearer],
  ];
}

/** The cost comparisons' config variants: the credential check alone, with the limit, with metering (the defaults). */
export function costVariants(metering: SidecarVariant = {}): Array<[string, SidecarVariant]> {
  return [
    ['metering off, limits off', { metering: false, ratelimit: false }],
    ['metering off, limits local', { metering: false }],
    ['metering on, limits local', metering],
  ];
}

/** Without metering the metered passthrough route is the passthrough route: not measured twice. */
export function measuredRoutes(routes: CostRoute[], v: SidecarVariant): CostRoute[] {
  return v.metering === false ? routes.filter(([name]) => name !== 'passthrough metered') : routes;
}
