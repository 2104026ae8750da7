/**
 * The metering gate on the response path (`Exchange.durable`): a response's
 * usage is in the spool before its last byte is handed to the client socket,
 * and a stream's start record / checkpoints before its bytes are.
 *
 * `hold` records the events (the final ones before the last byte, a start record
 * and extensions' checkpoints before stream bytes) and says whether the write must
 * wait; `after` runs the held write right after the producer's one write(2) of the
 * turn (src/meter/producer.ts): every response ending in the same event-loop
 * turn shares it. Routes that meter nothing are never held.
 */
import type { DurableGate } from '../request/exchange.js';
import type { Meter } from './producer.js';
import type { MeterSinks } from './stage.js';

/** `meters`: by route index, whether the route records usage (its `meter`, or an extension that meters). */
export function createDurableGate(meter: Meter, sinks: MeterSinks, meters: readonly boolean[]): DurableGate {
  return {
    hold(ex, final) {
      const route = ex.route;
      if (!route || ex.denied || !(meters[route.index] || ex.reportedUsage !== undefined)) return false;
      if (final) {
        if (!ex.metered) {
          ex.metered = true;
          sinks.request(ex, route, ex.ctx);
        }
      } else if (!ex.checkpointed) {
        ex.checkpointed = true;
        sinks.requestCheckpoint(ex, route, ex.ctx);
      }
      return meter.dirty();
    },
    after: (write) => meter.afterSpooled(write),
  };
}
