/**
 * Hot-path counters: plain numbers bumped per request, folded into a prom-client
 * Counter when scraped (prom-client hashes the label set on every `inc()`, even
 * through a cached child — measurable per request). One set of cells per
 * (registry, metric name), so several stages or test instances share it.
 */
import { Counter, type Registry } from 'prom-client';

export interface Cell {
  n: number;
  reported: number;
  readonly labels: Readonly<Record<string, string>>;
}

/** Cells of one metric: a tree keyed by one label value per level, and every cell for scrapes. */
interface Cells {
  readonly root: Map<string, unknown>;
  readonly all: Cell[];
}

const cellsByRegistry = new WeakMap<Registry, Map<string, Cells>>();

/**
 * A counter whose per-request cost is one Map lookup per label and `n++`:
 * `const hit = cellCounter(registry, {...}); hit(tier, outcome).n++`. The label
 * values index nested Maps (no key string is built per call, so nothing is
 * allocated or hashed: values from config or a cached context keep their hash).
 */
export function cellCounter(registry: Registry, opts: { name: string; help: string; labelNames: readonly string[] }): (...values: string[]) => Cell {
  let byName = cellsByRegistry.get(registry);
  if (!byName) cellsByRegistry.set(registry, (byName = new Map()));
  let cells = byName.get(opts.name);
  if (!cells) {
    const own: Cells = { root: new Map(), all: [] };
    cells = own;
    byName.set(opts.name, own);
    new Counter({
      name: opts.name,
      help: opts.help,
      labelNames: [...opts.labelNames],
      registers: [registry],
      collect() {
        for (const c of own.all) {
          const delta = c.n - c.reported;
          if (delta > 0) {
            this.inc(c.labels, delta);
            c.reported = c.n;
          }
        }
      },
    });
  }
  const { root, all } = cells;
  const depth = Math.max(1, opts.labelNames.length);
  return (...values: string[]): Cell => {
    let node = root;
    for (let i = 0; i < depth - 1; i++) {
      const v = values[i] ?? '';
      let next = node.get(v) as Map<string, unknown> | undefined;
      if (next === undefined) node.set(v, (next = new Map()));
      node = next;
    }
    const leaf = values[depth - 1] ?? '';
    let c = node.get(leaf) as Cell | undefined;
    if (c === undefined) {
      const labels: Record<string, string> = {};
      opts.labelNames.forEach((l, i) => {
        labels[l] = values[i] ?? '';
      });
      c = { n: 0, reported: 0, labels };
      node.set(leaf, c);
      all.push(c);
    }
    return c;
  };
}
