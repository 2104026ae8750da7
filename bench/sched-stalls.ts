/**
 * What ran on the cores while requests waited: lays `perf sched` context switches
 * over the open-loop generator's slow requests (bench/openloop.c, OPENLOOP_SLOW).
 * For every stall (slow requests at or above THRESHOLD ms, overlapping ones merged
 * into one window from the first's send to the last's answer) it sums, per CPU,
 * how long each task ran; the total says who held the sidecar's core while its
 * requests waited: the request thread, its other threads (by thread id), the
 * upstream, or something else on the machine.
 *
 * Capture (root; a fixed-rate row of bench/tail.ts, the sidecar on core 1):
 *   BENCH_SLOW_DIR=/tmp/slow BENCH_ROUNDS=1 BENCH_ONLY='^hot path$' node dist/bench/tail.js &
 *   sleep 13   # start-up and the 10 s wrk saturation
 *   python3 -c 'import time; print(time.time() - time.clock_gettime(time.CLOCK_MONOTONIC))' > /tmp/offset.txt
 *   perf record -k mono -a -e sched:sched_switch -o /tmp/ps.data -- sleep 24
 *   perf script -i /tmp/ps.data -F cpu,time,event,trace > /tmp/switches.txt
 * Then: node dist/bench/sched-stalls.js /tmp/switches.txt /tmp/slow "$(cat /tmp/offset.txt)" [THRESHOLD ms, 4]
 * (the offset turns perf's monotonic clock into the generator's epoch ms).
 * Add `-g` to perf record and read `perf script` to see a thread's stack at each switch.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [switchesFile, slowDir, offsetS, thresholdArg] = process.argv.slice(2);
if (!switchesFile || !slowDir || !offsetS) {
  process.stderr.write('usage: node dist/bench/sched-stalls.js SWITCHES.txt SLOW_DIR OFFSET_S [THRESHOLD_MS]\n');
  process.exit(2);
}
const offsetMs = Number(offsetS) * 1000;
const threshold = Number(thresholdArg ?? 4);

/** One stretch of a task on a CPU (ms, perf's clock). */
interface Run {
  start: number;
  end: number;
  task: string;
}
const SWITCH = /\[(\d+)\]\s+([\d.]+): sched:sched_switch: prev_comm=(.*?) prev_pid=(\d+) .*? ==> next_comm=(.*?) next_pid=(\d+)/;
const runs = new Map<number, Run[]>();
const current = new Map<number, { at: number; task: string }>();
for (const line of readFileSync(switchesFile, 'utf8').split('\n')) {
  const m = SWITCH.exec(line);
  if (!m) continue;
  const cpu = Number(m[1]);
  const at = Number(m[2]) * 1000;
  const was = current.get(cpu);
  if (was) (runs.get(cpu) ?? runs.set(cpu, []).get(cpu)!).push({ start: was.at, end: at, task: was.task });
  // Threads of a process share its name: node's keep their id, the rest are grouped by name.
  const name = m[5]!;
  current.set(cpu, { at, task: name === 'node' ? `node[${m[6]}]` : name.replace(/\/\d+$/, '') });
}

const slow: Array<{ start: number; ms: number }> = [];
for (const f of readdirSync(slowDir).filter((x) => x.endsWith('-slow.txt')))
  for (const line of readFileSync(join(slowDir, f), 'utf8').split('\n')) {
    const [at, ms] = line.split(' ').map(Number);
    if (at !== undefined && ms !== undefined && ms >= threshold) slow.push({ start: at - offsetMs, ms });
  }
slow.sort((a, b) => a.start - b.start);
const stalls: Array<{ from: number; to: number; requests: number }> = [];
for (const r of slow) {
  const last = stalls.at(-1);
  if (last && r.start <= last.to) {
    last.to = Math.max(last.to, r.start + r.ms);
    last.requests++;
  } else stalls.push({ from: r.start, to: r.start + r.ms, requests: 1 });
}

const totals = new Map<number, Map<string, number>>();
const lines: string[] = [];
for (const s of stalls) {
  const parts: string[] = [];
  for (const [cpu, list] of [...runs].sort((a, b) => b[0] - a[0])) {
    const byTask = new Map<string, number>();
    for (const r of list) {
      const d = Math.min(r.end, s.to) - Math.max(r.start, s.from);
      if (d > 0) byTask.set(r.task, (byTask.get(r.task) ?? 0) + d);
    }
    const total = totals.get(cpu) ?? totals.set(cpu, new Map()).get(cpu)!;
    for (const [t, d] of byTask) total.set(t, (total.get(t) ?? 0) + d);
    const top = [...byTask].sort((a, b) => b[1] - a[1]).slice(0, 4);
    parts.push(`cpu${cpu}: ${top.map(([t, d]) => `${t} ${d.toFixed(1)}`).join(', ')}`);
  }
  lines.push(`${(s.to - s.from).toFixed(1)} ms, ${s.requests} requests | ${parts.join(' | ')}`);
}
process.stdout.write(
  `${slow.length} requests >= ${threshold} ms in ${stalls.length} stalls (ms each task ran during each)\n${lines.join('\n')}\n\nShare of each CPU during the stalls:\n`,
);
for (const [cpu, byTask] of [...totals].sort((a, b) => b[0] - a[0])) {
  const sum = [...byTask.values()].reduce((a, b) => a + b, 0);
  const top = [...byTask].sort((a, b) => b[1] - a[1]).slice(0, 10);
  process.stdout.write(`cpu${cpu}: ${top.map(([t, d]) => `${t} ${Math.round((100 * d) / sum)}%`).join(', ')}\n`);
}
