/**
 * The Fastify gateway peer of bench/peers.ts: @fastify/jwt (RS256 public key,
 * issuer and audience checked, verified tokens cached), @fastify/rate-limit
 * (in memory, per `sub`, far above the load) and @fastify/http-proxy to the
 * upstream: what a Node team would write instead of the sidecar.
 *
 * Usage: node dist/bench/fastify-gateway.js PORT UPSTREAM_URL PEM_FILE ISSUER AUDIENCE
 */
import { readFileSync } from 'node:fs';
import proxy from '@fastify/http-proxy';
import jwt from '@fastify/jwt';
import rateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';

const [port, upstream, pem, issuer, audience] = process.argv.slice(2);
const app = Fastify({ logger: false });
await app.register(jwt, {
  secret: { public: readFileSync(pem!, 'utf8') },
  verify: { algorithms: ['RS256'], allowedIss: issuer, allowedAud: audience, cache: true },
});
await app.register(rateLimit, {
  global: true,
  max: 100_000_000,
  timeWindow: 60_000,
  // After the onRequest hook below has set req.user.
  hook: 'preHandler',
  keyGenerator: (req) => (req.user as { sub?: string } | undefined)?.sub ?? req.ip,
});
app.addHook('onRequest', async (req, reply) => {
  try {
    await req.jwtVerify();
  } catch {
    return reply.code(401).send({ error: 'unauthorized' });
  }
});
await app.register(proxy, { upstream: upstream! });
await app.listen({ port: Number(port), host: '127.0.0.1' });
