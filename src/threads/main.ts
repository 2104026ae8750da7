/**
 * `threads: N` — N uWS apps in worker threads on one port (the kernel spreads
 * connections with SO_REUSEPORT), one sidecar. What must hold per sidecar is
 * shared: rate-limit buckets live in one SharedArrayBuffer every thread attaches
 * to; revocations reach every thread (each subscribes to Redis); the admin port
 * and its metrics are the main thread's, aggregated from all threads on scrape.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Worker } from 'node:worker_threads';
import { collectProcessMetrics } from '../observe/process-metrics.js';
import { AggregatorRegistry, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

type MetricJson = MetricObjectWithValues<MetricValue<string>>;
import type { Config } from '../config.js';
import type { DrainPlan } from '../proxy-core.js';
import { assertPortFree, StartupError } from '../startup.js';
import type { Logger } from '../observe/log.js';
import { createBucketStore } from '../ratelimit/index.js';

/** Main → thread requests and thread → main answers. */
export type ToThread = { type: 'metrics' | 'readiness' | 'inflight' | 'stop' | 'hurry'; id: number; plan?: DrainPlan };
export type FromThread = { type: 'listening'; port: number } | { type: 'failed'; message: string } | { type: 'reply'; id: number; value: unknown };

export interface ThreadData {
  readonly cfg: Readonly<Config>;
  readonly buffer: SharedArrayBuffer;
  readonly port: number;
  readonly index: number;
  /** How many threads the sidecar runs. */
  readonly count: number;
}

export interface ThreadPool {
  readonly port: number;
  readonly threads: number;
  /** Prometheus text of every thread's metrics (summed) plus this process's. */
  readonly registry: { metrics(): Promise<string>; readonly contentType: string };
  readiness(): Promise<Record<string, boolean>>;
  inflight(): Promise<number>;
  stop(plan?: DrainPlan): Promise<boolean>;
  hurry(): void;
}

class ThreadHandle {
  private nextId = 1;
  private pending = new Map<number, (v: unknown) => void>();
  constructor(readonly worker: Worker) {
    worker.on('message', (m: FromThread) => {
      if (m.type === 'reply') {
        this.pending.get(m.id)?.(m.value);
        this.pending.delete(m.id);
      }
    });
    worker.on('exit', () => {
      for (const resolve of this.pending.values()) resolve(undefined);
      this.pending.clear();
    });
  }
  ask<T>(type: ToThread['type'], timeoutMs = 2000, plan?: DrainPlan): Promise<T | undefined> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.pending.set(id, (v) => {
        clearTimeout(t);
        resolve(v as T);
      });
      this.worker.postMessage({ type, id, ...(plan ? { plan } : {}) } satisfies ToThread);
    });
  }
}

/** A free TCP port, so every thread listens on the same one when the config says 0. */
async function freePort(host: string): Promise<number> {
  const s = createServer();
  s.listen(0, host);
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

export async function startThreadPool(cfg: Readonly<Config>, threads: number, log: Logger): Promise<ThreadPool> {
  // The threads share the port (SO_REUSEPORT), which would also let another process
  // join it: a port somebody already holds is refused here, before any thread binds.
  if (cfg.listen.port !== 0) await assertPortFree('listen.port', cfg.listen.host, cfg.listen.port);
  const port = cfg.listen.port === 0 ? await freePort(cfg.listen.host) : cfg.listen.port;
  const store = createBucketStore({ maxSubjects: cfg.ratelimit.max_subjects });
  const entry = new URL('./worker.js', import.meta.url);
  const handles: ThreadHandle[] = [];
  try {
    for (let index = 0; index < threads; index++) {
      const worker = new Worker(entry, { workerData: { cfg, buffer: store.buffer, port, index, count: threads } satisfies ThreadData });
      const handle = new ThreadHandle(worker);
      handles.push(handle);
      const first = await new Promise<FromThread>((resolve) => {
        worker.once('message', resolve);
        worker.once('error', (err) => resolve({ type: 'failed', message: err.message }));
      });
      if (first.type !== 'listening')
        throw new StartupError(`proxy thread ${index} failed to start: ${first.type === 'failed' ? first.message : 'unexpected message'}`);
    }
  } catch (err) {
    await Promise.all(handles.map((h) => h.worker.terminate()));
    throw err;
  }
  log.info('proxy threads listening', { port, threads });

  const own = new Registry();
  collectProcessMetrics(own);
  const registry = {
    contentType: own.contentType,
    async metrics(): Promise<string> {
      const perThread = (await Promise.all(handles.map((h) => h.ask<MetricJson[]>('metrics')))).filter((m): m is MetricJson[] => Array.isArray(m));
      const summed = AggregatorRegistry.aggregate(perThread);
      return (await summed.metrics()) + (await own.metrics());
    },
  };

  let stopping: Promise<boolean> | undefined;
  return {
    port,
    threads,
    registry,
    async readiness() {
      const all = await Promise.all(handles.map((h) => h.ask<Record<string, boolean>>('readiness')));
      const out: Record<string, boolean> = {};
      all.forEach((checks, i) => {
        if (!checks) out[`thread${i}`] = false;
        else for (const [k, v] of Object.entries(checks)) out[k] = (out[k] ?? true) && v;
      });
      return out;
    },
    async inflight() {
      return (await Promise.all(handles.map((h) => h.ask<number>('inflight')))).reduce<number>((a, b) => a + (b ?? 0), 0);
    },
    hurry: () => {
      for (const h of handles) void h.ask('hurry');
    },
    stop: (plan: DrainPlan = { delayMs: 0, deadline: Date.now() + cfg.server.drain_timeout_ms }) =>
      (stopping ??= (async () => {
        const drained = await Promise.all(handles.map((h) => h.ask<boolean>('stop', Math.max(0, plan.deadline - Date.now()) + 2000, plan)));
        await Promise.all(handles.map((h) => h.worker.terminate()));
        return drained.every((d) => d === true);
      })()),
  };
}
