/**
 * The exchanges in flight, as a dense array with each member's index on it: add
 * and delete are O(1) and allocate nothing once the array has grown.
 *
 * Not a `Set`, on purpose. V8's Set is an ordered hash table that is rebuilt
 * (a new table allocated) whenever added plus deleted entries fill it, which
 * under steady traffic is every few dozen requests. The old table keeps its
 * entries and a link to its successor (for iterators still on it). Once one
 * table had been promoted to the old generation, every later table, and every
 * exchange in any of them, was reachable from it for young-generation
 * collections (a dead old object still counts as a root there until the next
 * full collection). So each request's whole object graph was copied and
 * promoted instead of dying young: at 16+ concurrent connections, 2.4 MB
 * promoted per scavenge, 4–5 ms scavenges, and a mark-compact every few seconds
 * with 10–20 ms pauses. With this array: 0.1 MB, 0.7 ms, none
 * (bench/results/2026-12-05-*-gc/gc.md).
 */

/** What a member carries: its index in the list, -1 when not in it. */
export interface Slotted {
  liveSlot: number;
}

export class LiveExchanges<T extends Slotted> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  add(x: T): void {
    x.liveSlot = this.items.length;
    this.items.push(x);
  }

  /** Remove `x` (no-op when it is not in the list): the last member takes its place. */
  delete(x: T): void {
    const i = x.liveSlot;
    const items = this.items;
    if (i < 0 || items[i] !== x) return;
    const last = items.pop()!;
    if (last !== x) {
      items[i] = last;
      last.liveSlot = i;
    }
    x.liveSlot = -1;
  }

  /** A copy of the members now (safe to iterate while members leave). */
  snapshot(): T[] {
    return this.items.slice();
  }
}
