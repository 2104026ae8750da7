/**
 * Any other provider: usage read at route-configured dot paths
 * (`routes[].llm.usage.input_path`, `output_path`, `total_path`,
 * `cached_input_path`, `model_path`), from a JSON body or from every JSON event
 * of an SSE stream (the last value found wins). Without the format's own end
 * marker, a stream counts as complete once a usage value was found or `[DONE]`
 * arrived.
 */
import type { RouteLlmConfig } from '../schema.js';
import { count, getPath, str, type FormatReader, type UsageAccumulator } from './types.js';

type UsagePaths = RouteLlmConfig['usage'];

const split = (p: string | undefined) => (p === undefined ? undefined : p.split('.'));

/** Characters in string leaves: a rough stand-in for "text content" when the shape is unknown. */
function stringChars(v: unknown, depth = 0): number {
  if (typeof v === 'string') return v.length;
  if (depth > 32 || v === null || typeof v !== 'object') return 0;
  let n = 0;
  for (const x of Array.isArray(v) ? v : Object.values(v)) n += stringChars(x, depth + 1);
  return n;
}

export function jsonPathReader(paths: UsagePaths): FormatReader {
  const input = split(paths.input_path);
  const output = split(paths.output_path);
  const total = split(paths.total_path);
  const cached = split(paths.cached_input_path);
  const model = split(paths.model_path ?? 'model');

  function read(data: unknown, acc: UsageAccumulator): boolean {
    let found = false;
    const m = model && str(getPath(data, model));
    if (m) acc.model = m;
    const i = input && count(getPath(data, input));
    if (i !== undefined) (acc.input = i), (found = true);
    const o = output && count(getPath(data, output));
    if (o !== undefined) (acc.output = o), (found = true);
    const t = total && count(getPath(data, total));
    if (t !== undefined) (acc.total = t), (found = true);
    const c = cached && count(getPath(data, cached));
    if (c !== undefined) acc.cached = c;
    return found;
  }

  function text(data: unknown, acc: UsageAccumulator): void {
    const chars = stringChars(data);
    if (chars > 0) (acc.outputChars += chars), (acc.sawContent = true);
  }

  return {
    event(_type, data, acc) {
      if (read(data, acc)) acc.complete = true;
      else text(data, acc);
    },
    rawEvent(_type, data, acc) {
      if (data.trim() === '[DONE]') acc.complete = true;
      else if (data.length > 0) (acc.outputChars += data.length), (acc.sawContent = true);
    },
    body(data, acc) {
      read(data, acc);
      text(data, acc);
      acc.complete = true;
    },
  };
}
