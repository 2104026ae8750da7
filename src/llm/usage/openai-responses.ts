/**
 * OpenAI Responses API. Streamed: typed events (`response.created`,
 * `response.output_text.delta`, …); usage is in the terminal event's
 * `response.usage` (`response.completed`, also `response.incomplete` and
 * `response.failed`). Non-streamed: the body's `usage`. `input_tokens` includes
 * `input_tokens_details.cached_tokens`.
 */
import { addText, arr, count, field, str, type FormatReader, type UsageAccumulator } from './types.js';

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);
const TEXT_DELTAS = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.function_call_arguments.delta',
  'response.reasoning_text.delta',
  'response.reasoning_summary_text.delta',
]);

function readResponse(response: unknown, acc: UsageAccumulator): void {
  const model = str(field(response, 'model'));
  if (model) acc.model = model;
  const usage = field(response, 'usage');
  const input = count(field(usage, 'input_tokens'));
  const output = count(field(usage, 'output_tokens'));
  if (input !== undefined) acc.input = input;
  if (output !== undefined) acc.output = output;
  const cached = count(field(field(usage, 'input_tokens_details'), 'cached_tokens'));
  if (cached !== undefined) acc.cached = cached;
}

/** Output text of a complete response: message parts, refusals, function-call arguments. */
function readOutput(response: unknown, acc: UsageAccumulator): void {
  for (const item of arr(field(response, 'output'))) {
    addText(acc, field(item, 'arguments'));
    for (const part of arr(field(item, 'content'))) {
      addText(acc, field(part, 'text'));
      addText(acc, field(part, 'refusal'));
    }
  }
}

export function openaiResponsesReader(): FormatReader {
  return {
    event(sseType, data, acc) {
      const type = str(field(data, 'type')) ?? sseType;
      if (TEXT_DELTAS.has(type)) return addText(acc, field(data, 'delta'));
      const response = field(data, 'response');
      if (response === undefined) return;
      readResponse(response, acc);
      if (TERMINAL.has(type)) acc.complete = true;
    },
    body(data, acc) {
      readResponse(data, acc);
      readOutput(data, acc);
      acc.complete = true;
    },
  };
}
