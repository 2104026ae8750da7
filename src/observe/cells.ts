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

const cellsByRegistry = new WeakMap<Registry, Map<string, Map<string, Cell>>>();

/**
 * A counter whose per-request cost is a Map lookup and `n++`:
 * `const hit = cellCounter(registry, {...}); hit(tier, outcome).n++`.
 */
export function cellCounter(registry: Registry, opts: { name: string; help: string; labelNames: readonly string[] }): (...values: string[]) => Cell {
  let byName = cellsByRegistry.get(registry);
  if (!byName) cellsByRegistry.set(registry, (byName = new Map()));
  let cells = byName.get(opts.name);
  if (!cells) {
    const own = new Map<string, Cell>();
    cells = own;
    byName.set(opts.name, own);
    new Counter({
      name: opts.name,
      help: opts.help,
      labelNames: [...opts.labelNames],
      registers: [registry],
      collect() {
        for (const c of own.values()) {
          const delta = c.n - c.reported;
          if (delta > 0) {
            this.inc(c.labels, delta);
            c.reported = c.n;
          }
        }
      },
    });
  }
  const table = cells;
  return (...values: string[]): Cell => {
    const key = values.join('\n');
    let c = table.get(key);
    if (!c) {
      const labels: Record<string, string> = {};
      opts.labelNames.forEach((l, i) => (labels[l] = values[i] ?? ''));
      c = { n: 0, reported: 0, labels };
      table.set(key, c);
    }
    return c;
  };
}
