/**
 * The proxy's helper threads yield the core to its request threads.
 *
 * A Node process has threads besides the ones running JavaScript: V8's platform
 * workers (its optimizing compiler: TurboFan compiles hot functions there for
 * tens of seconds after a start or a change of traffic, 1–5 ms of CPU each) and
 * libuv's pool (the spool's fdatasync and unlink). A sidecar's CPU is about its
 * thread count, so these share a core with the request thread, and the kernel
 * gives each a whole time slice. perf sched of the hot path at 4,500 requests/s
 * on one core: in the windows where requests waited 4 ms or more, the compiler
 * threads held the core for 41% of the time and the request thread for 36%
 * (docs/operations.md, "Garbage collection and tail latency").
 *
 * At start, before any worker thread exists, every thread of the process but the
 * calling one gets nice `server.helper_thread_nice` (setpriority(2) on Linux
 * applies to the one thread whose id it is given). Threads started later by a
 * request thread (`threads: N` workers, the JWT verify pool) inherit that
 * thread's nice 0. Raising a nice value needs no privilege.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { getPriority, setPriority } from 'node:os';

/** What was done: the helper threads found and the nice value they now have. */
export interface HelperThreads {
  readonly reniced: number;
  readonly nice: number;
}

/** The calling thread's kernel id (`/proc/thread-self` → `<pid>/task/<tid>`), or null off Linux. */
function ownThreadId(): number | null {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return null;
  }
}

/** Kernel ids of this process's threads (empty off Linux). */
function processThreadIds(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number);
  } catch {
    return [];
  }
}

/**
 * Give every other thread of the process nice `nice` (call from the main thread at
 * start, before worker threads start). libuv starts its pool with the first
 * request queued to it, so one is queued first.
 */
export async function lowerHelperThreads(nice: number): Promise<HelperThreads> {
  const self = ownThreadId();
  if (nice === 0 || self === null) return { reniced: 0, nice: 0 };
  await stat('.');
  let reniced = 0;
  for (const tid of processThreadIds()) {
    if (tid === self) continue;
    try {
      if (getPriority(tid) < nice) setPriority(tid, nice);
      reniced++;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return { reniced, nice };
}
