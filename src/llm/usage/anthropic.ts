/**
 * Anthropic Messages. Streamed: `message_start` carries `message.usage.input_tokens`
 * (plus cache read/creation counts); `message_delta` carries the cumulative
 * `usage.output_tokens` (and, in newer API versions, updated input counts);
 * `message_stop` ends the stream. Non-streamed: the body's `usage`.
 *
 * Anthropic's `input_tokens` excludes cached tokens, so input here is
 * input_tokens + cache_read_input_tokens + cache_creation_input_tokens and the
 * cached part is cache_read_input_tokens.
 */
import { addText, arr, count, field, str, type FormatReader, type UsageAccumulator } from './types.js';

export function anthropicReader(): FormatReader {
  // Components of the input count; message_delta may update any of them.
  let uncached: number | undefined;
  let cacheRead = 0;
  let cacheWrite = 0;

  function readInput(usage: unknown, acc: UsageAccumulator): void {
    const input = count(field(usage, 'input_tokens'));
    const read = count(field(usage, 'cache_read_input_tokens'));
    const write = count(field(usage, 'cache_creation_input_tokens'));
    if (input !== undefined) uncached = input;
    if (read !== undefined) cacheRead = read;
    if (write !== undefined) cacheWrite = write;
    if (uncached !== undefined) {
      acc.input = uncached + cacheRead + cacheWrite;
      if (cacheRead > 0 || read !== undefined) acc.cached = cacheRead;
    }
  }

  function readModel(message: unknown, acc: UsageAccumulator): void {
    const model = str(field(message, 'model'));
    if (model) acc.model = model;
  }

  function readBlock(block: unknown, acc: UsageAccumulator): void {
    addText(acc, field(block, 'text'));
    addText(acc, field(block, 'thinking'));
    addText(acc, field(block, 'partial_json'));
    const input = field(block, 'input');
    if (input !== undefined && field(block, 'type') === 'tool_use') addText(acc, JSON.stringify(input));
  }

  return {
    event(sseType, data, acc) {
      const type = str(field(data, 'type')) ?? sseType;
      switch (type) {
        case 'message_start': {
          const message = field(data, 'message');
          readModel(message, acc);
          // message_start's output_tokens is a placeholder (1); only message_delta's is final.
          readInput(field(message, 'usage'), acc);
          break;
        }
        case 'content_block_start':
          readBlock(field(data, 'content_block'), acc);
          break;
        case 'content_block_delta':
          readBlock(field(data, 'delta'), acc);
          break;
        case 'message_delta': {
          const usage = field(data, 'usage');
          readInput(usage, acc);
          const output = count(field(usage, 'output_tokens'));
          if (output !== undefined) acc.output = output;
          break;
        }
        case 'message_stop':
          acc.complete = true;
          break;
        default:
          break; // ping, content_block_stop, error
      }
    },
    body(data, acc) {
      readModel(data, acc);
      for (const block of arr(field(data, 'content'))) readBlock(block, acc);
      const usage = field(data, 'usage');
      readInput(usage, acc);
      const output = count(field(usage, 'output_tokens'));
      if (output !== undefined) acc.output = output;
      acc.complete = true;
    },
  };
}
