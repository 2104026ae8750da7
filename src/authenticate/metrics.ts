/**
 * Authentication metrics on the process's Metrics registry (names: docs/metrics.md; docs/contract.md, "Metric names").
 *
 * The per-request counters (decisions, cache lookups) are plain integers bumped
 * on the hot path and folded into the prom-client counters at scrape time:
 * prom-client hashes the label set on every inc(), which would cost more than the
 * L1 lookup itself. State is shared per registry, so two Authenticators on one
 * Metrics (tests, several stages) report together instead of colliding.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Metrics } from '../observe/metrics.js';
import type { AuthMethod } from '../request/principal.js';

export type Outcome = 'ok' | 'denied' | 'unavailable' | 'stale';

/** A hot-path counter cell: `cell.n++` is the whole cost. */
export interface Cell {
  n: number;
  reported: number;
  readonly labels: Record<string, string>;
}

interface Shared {
  readonly decisions: Map<string, Cell>;
  readonly cache: Map<string, Cell>;
  readonly ageSources: Set<() => number>;
  readonly duration: Histogram<'phase'>;
  readonly jwksFetchFailures: Counter;
  readonly jwksDuplicateKids: Counter;
  readonly failOpen: Counter<'route'>;
  readonly revocations: Counter<'kind'>;
  readonly changes: Counter<'kind'>;
}

const byRegistry = new WeakMap<Registry, Shared>();

function fold(counter: Counter<string>, cells: Map<string, Cell>): void {
  for (const c of cells.values()) {
    const delta = c.n - c.reported;
    if (delta > 0) {
      counter.inc(c.labels, delta);
      c.reported = c.n;
    }
  }
}

function register(registry: Registry): Shared {
  const registers = [registry];
  const decisions = new Map<string, Cell>();
  const cache = new Map<string, Cell>();
  const ageSources = new Set<() => number>();
  new Counter({
    name: 'argus_auth_decisions_total',
    help: 'Authentication decisions by credential method and outcome',
    labelNames: ['method', 'outcome'],
    registers,
    collect() {
      fold(this, decisions);
    },
  });
  new Counter({
    name: 'argus_auth_cache_total',
    help: 'Credential cache lookups by layer (l1 process, l2 Redis) and result',
    labelNames: ['layer', 'result'],
    registers,
    collect() {
      fold(this, cache);
    },
  });
  new Gauge({
    name: 'argus_jwks_age_seconds',
    help: 'Age of the JWKS key set in use (-1: none loaded)',
    registers,
    collect() {
      let age = -1;
      for (const fn of ageSources) age = Math.max(age, fn());
      this.set(age);
    },
  });
  return {
    decisions,
    cache,
    ageSources,
    duration: new Histogram({
      name: 'argus_auth_duration_seconds',
      help: 'Authentication time on a cache miss: phase=cold (verification and L2 lookups), phase=total (including queueing)',
      labelNames: ['phase'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2],
      registers,
    }),
    jwksFetchFailures: new Counter({ name: 'argus_jwks_fetch_failures_total', help: 'Failed JWKS fetches', registers }),
    jwksDuplicateKids: new Counter({
      name: 'argus_jwks_duplicate_kids_total',
      help: 'Kids listed more than once in a fetched key set (counted per fetch); tokens naming them are refused',
      registers,
    }),
    failOpen: new Counter({
      name: 'argus_auth_fail_open_total',
      help: 'Requests served on a stale cached decision while auth dependencies were unreachable',
      labelNames: ['route'],
      registers,
    }),
    revocations: new Counter({ name: 'argus_revocations_total', help: 'Revocations received and applied, by kind', labelNames: ['kind'], registers }),
    changes: new Counter({
      name: 'argus_auth_changes_total',
      help: 'Control-plane changes received over Redis pub/sub and applied (cache evictions), by kind',
      labelNames: ['kind'],
      registers,
    }),
  };
}

function cell(map: Map<string, Cell>, labels: Record<string, string>): Cell {
  const key = Object.values(labels).join('\u0000');
  let c = map.get(key);
  if (c === undefined) map.set(key, (c = { n: 0, reported: 0, labels }));
  return c;
}

export function createAuthMetrics(metrics: Metrics) {
  let s = byRegistry.get(metrics.registry);
  if (s === undefined) byRegistry.set(metrics.registry, (s = register(metrics.registry)));
  const shared = s;
  const methods: AuthMethod[] = ['jwt', 'api_key', 'session', 'none'];
  const outcomes: Outcome[] = ['ok', 'denied', 'unavailable', 'stale'];
  const table = Object.fromEntries(
    methods.map((m) => [m, Object.fromEntries(outcomes.map((o) => [o, cell(shared.decisions, { method: m, outcome: o })]))]),
  ) as Record<AuthMethod, Record<Outcome, Cell>>;

  return {
    /** The cell for a decision; bump with `.n++`. */
    decision: (method: AuthMethod, outcome: Outcome): Cell => table[method][outcome],
    l1Hit: cell(shared.cache, { layer: 'l1', result: 'hit' }),
    l1Miss: cell(shared.cache, { layer: 'l1', result: 'miss' }),
    l2Hit: cell(shared.cache, { layer: 'l2', result: 'hit' }),
    l2Miss: cell(shared.cache, { layer: 'l2', result: 'miss' }),
    coldDuration: shared.duration.labels('cold'),
    totalDuration: shared.duration.labels('total'),
    jwksFetchFailures: shared.jwksFetchFailures,
    jwksDuplicateKids: shared.jwksDuplicateKids,
    failOpen: shared.failOpen,
    revocations: shared.revocations,
    changes: shared.changes,
    /** Report a JWKS store's key-set age (seconds); returns the unregister function. */
    addJwksAgeSource(fn: () => number): () => void {
      shared.ageSources.add(fn);
      return () => shared.ageSources.delete(fn);
    },
  };
}

export type AuthMetrics = ReturnType<typeof createAuthMetrics>;
