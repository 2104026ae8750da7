/**
 * Redis connections. The proxy must never hang a request on Redis: commands fail
 * fast while disconnected (no offline queue) and callers apply their route's
 * failure policy. BullMQ needs its own connections (`maxRetriesPerRequest: null`).
 *
 * Two deployments, chosen by config: one Redis (`redis.url`) or a Redis Cluster
 * (`redis.cluster: [url, …]`, seed nodes; ioredis discovers the rest and follows
 * MOVED/ASK and failovers). A Cluster client is handed out under the `Redis` type:
 * ioredis gives both the same command interface, and the few places where the
 * cluster differs check `redis.isCluster` — commands touching several keys
 * ({@link getMany}, {@link runEach}), the usage queue's hash-tagged prefix
 * (src/meter/queue.ts) and multi-key scripts (an extension's daily counters).
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export type { Redis };

/** Where Redis is: a URL (one node), or the `redis` config section (`url` or `cluster`). */
export type RedisTarget = string | { readonly url?: string | undefined; readonly cluster?: readonly string[] | undefined };

/** A connection for the request path: fail fast, reconnect in the background. */
export function createRedis(target: RedisTarget, opts: RedisOptions = {}): Redis {
  return connect(target, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 1000,
    retryStrategy: (times) => Math.min(50 * times, 1000),
    lazyConnect: false,
    ...opts,
  });
}

/** A connection for BullMQ (Queue/Worker): blocking commands, no per-request retry cap. */
export function createBullRedis(target: RedisTarget, opts: RedisOptions = {}): Redis {
  return connect(target, { maxRetriesPerRequest: null, enableReadyCheck: false, retryStrategy: (times) => Math.min(100 * times, 2000), ...opts });
}

/** Close a connection: QUIT if connected, else disconnect. Never throws. */
export async function closeRedis(redis: Redis): Promise<void> {
  try {
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}

/** The cluster's seed URLs, or null for a single node. */
export function clusterSeeds(target: RedisTarget): readonly string[] | null {
  if (typeof target === 'string') return null;
  return target.cluster && target.cluster.length > 0 ? target.cluster : null;
}

function connect(target: RedisTarget, opts: RedisOptions): Redis {
  const seeds = clusterSeeds(target);
  if (seeds === null) {
    const url = typeof target === 'string' ? target : target.url;
    if (!url) throw new Error('redis: neither url nor cluster is set');
    return new Redis(url, opts);
  }
  return new Cluster(seeds.map(seedNode), clusterOptions(seeds, opts)) as unknown as Redis;
}

/** One seed URL as a node address (credentials and TLS apply to every node: {@link clusterOptions}). */
function seedNode(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) };
}

/**
 * The node options of every cluster connection: the caller's fail-fast or
 * blocking options, plus credentials and TLS from the first seed URL. The
 * offline queue and the retry strategy are the cluster's own options too:
 * while the cluster reconnects or a slot moves, the client's behaviour matches
 * the single-node client's.
 */
function clusterOptions(seeds: readonly string[], opts: RedisOptions): ClusterOptions {
  const first = new URL(seeds[0]!);
  const redisOptions: RedisOptions = { ...opts };
  if (first.username) redisOptions.username = decodeURIComponent(first.username);
  if (first.password) redisOptions.password = decodeURIComponent(first.password);
  if (first.protocol === 'rediss:') redisOptions.tls = {};
  const retry = opts.retryStrategy;
  return {
    redisOptions,
    enableOfflineQueue: opts.enableOfflineQueue ?? true,
    enableReadyCheck: opts.enableReadyCheck ?? true,
    // Node connections are re-made from the slot table; the cluster reconnects with the caller's pacing.
    clusterRetryStrategy: (times) => (retry ? (retry(times) ?? null) : Math.min(100 * times, 2000)),
    // A failover takes a few seconds (cluster-node-timeout + election): commands caught in it retry instead of failing.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2000,
    scaleReads: 'master',
  };
}

/**
 * GET several keys. One MGET on a single node (atomic, one round trip); on a
 * cluster, where a multi-key command must stay in one hash slot, one GET per
 * key in parallel (ioredis pipelines those per node).
 */
export async function getMany(redis: Redis, keys: readonly string[]): Promise<Array<string | null>> {
  if (!redis.isCluster) return redis.mget(...keys);
  return Promise.all(keys.map((k) => redis.get(k)));
}

/** A command as ioredis takes it: name, then arguments. */
export type RedisCall = [string, ...Array<string | number>];

/**
 * Run independent commands (no ordering between them). A single node gets one
 * pipeline; a cluster, whose pipelines must stay on one node, gets each command
 * on its own (ioredis batches them per node). Rejects with the first error.
 */
export async function runEach(redis: Redis, cmds: readonly RedisCall[]): Promise<void> {
  if (cmds.length === 0) return;
  if (redis.isCluster) {
    await Promise.all(cmds.map(([name, ...args]) => redis.call(name, ...args)));
    return;
  }
  const res = await redis.pipeline(cmds as RedisCall[]).exec();
  const err = res?.find(([e]) => e !== null)?.[0];
  if (err) throw err;
}
