/**
 * Preload for a benchmarked sidecar (`node --import <dist>/bench/gc-timeline.js`):
 * appends every GC pause of the main thread to the file BENCH_GC_TIMELINE, one
 * line each, `<epoch ms at start> <pause ms> <kind>` (kind: s scavenge, mc
 * mark-compact, i incremental marking step, w weak callbacks). bench/tail.ts
 * lays them over the open-loop generator's slow requests (bench/openloop.c,
 * OPENLOOP_SLOW) to count how many of a window's slowest requests were in flight
 * during a pause. Bench only: nothing in src/ imports it.
 */
import { appendFileSync } from 'node:fs';
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';

const file = process.env['BENCH_GC_TIMELINE'];
const KIND: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 's',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mc',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'i',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'w',
};

if (file) {
  const origin = performance.timeOrigin;
  const obs = new PerformanceObserver((list) => {
    let out = '';
    for (const e of list.getEntries()) {
      const kind = KIND[(e as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? '?';
      out += `${(origin + e.startTime).toFixed(2)} ${e.duration.toFixed(3)} ${kind}\n`;
    }
    appendFileSync(file, out);
  });
  obs.observe({ entryTypes: ['gc'] });
}
