/**
 * OpenAI Chat Completions. Streamed: `data: {chat.completion.chunk}` events, then
 * `data: [DONE]`; usage arrives only in a final chunk (empty `choices`) when the
 * request set `stream_options.include_usage`. Non-streamed: the body's `usage`.
 * `prompt_tokens` includes `prompt_tokens_details.cached_tokens`.
 */
import { addText, arr, count, field, str, type FormatReader, type UsageAccumulator } from './types.js';

function readUsage(usage: unknown, acc: UsageAccumulator): boolean {
  const input = count(field(usage, 'prompt_tokens'));
  const output = count(field(usage, 'completion_tokens'));
  if (input === undefined && output === undefined) return false;
  if (input !== undefined) acc.input = input;
  if (output !== undefined) acc.output = output;
  const cached = count(field(field(usage, 'prompt_tokens_details'), 'cached_tokens'));
  if (cached !== undefined) acc.cached = cached;
  return true;
}

function readModel(data: unknown, acc: UsageAccumulator): void {
  const model = str(field(data, 'model'));
  if (model) acc.model = model;
}

/** Text of a message or delta: content, refusal, reasoning, tool-call arguments. */
function readMessage(msg: unknown, acc: UsageAccumulator): void {
  const content = field(msg, 'content');
  if (typeof content === 'string') addText(acc, content);
  else for (const part of arr(content)) addText(acc, field(part, 'text'));
  addText(acc, field(msg, 'refusal'));
  addText(acc, field(msg, 'reasoning_content'));
  for (const call of arr(field(msg, 'tool_calls'))) addText(acc, field(field(call, 'function'), 'arguments'));
}

export function openaiChatReader(): FormatReader {
  return {
    event(_type, data, acc) {
      readModel(data, acc);
      for (const choice of arr(field(data, 'choices'))) readMessage(field(choice, 'delta'), acc);
      // The usage chunk is the last one before [DONE].
      if (readUsage(field(data, 'usage'), acc)) acc.complete = true;
    },
    rawEvent(_type, data, acc) {
      if (data.trim() === '[DONE]') acc.complete = true;
    },
    body(data, acc) {
      readModel(data, acc);
      for (const choice of arr(field(data, 'choices'))) readMessage(field(choice, 'message'), acc);
      readUsage(field(data, 'usage'), acc);
      acc.complete = true;
    },
  };
}
