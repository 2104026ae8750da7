/**
 * A strict, bounded JSON parser for messages the sidecar must judge the same way
 * the upstream will read them.
 *
 * `JSON.parse` keeps the last of duplicate keys; other parsers keep the first,
 * and some (Go's encoding/json) match keys case-insensitively. A message like
 * `{"exchange":"paper","Exchange":"live"}` could then be checked against one value
 * and executed with another. So objects with keys that are equal ignoring case are
 * refused, nesting is bounded, and objects are Maps (no prototype keys).
 * RFC 8259 grammar otherwise; never throws.
 */
export type Json = null | boolean | number | string | Json[] | JsonObject;
export type JsonObject = Map<string, Json>;

export type JsonResult = { ok: true; value: Json } | { ok: false; reason: string };

class JsonFault {
  constructor(readonly reason: string) {}
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** Parse `text`; `maxDepth` bounds nesting (default 32). */
export function parseStrictJson(text: string, maxDepth = 32): JsonResult {
  let i = 0;
  const n = text.length;

  const fail = (what: string): never => {
    throw new JsonFault(`${what} at offset ${i}`);
  };
  const skipWs = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };

  function value(depth: number): Json {
    skipWs();
    if (i >= n) return fail('unexpected end');
    const c = text.charCodeAt(i);
    if (c === 0x7b) return object(depth + 1);
    if (c === 0x5b) return array(depth + 1);
    if (c === 0x22) return string();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) return fail('unexpected character');
    i += m[0].length;
    return Number(m[0]);
  }

  function object(depth: number): JsonObject {
    if (depth > maxDepth) fail('nested too deeply');
    i++; // {
    const out: JsonObject = new Map();
    const seen = new Set<string>();
    skipWs();
    if (text.charCodeAt(i) === 0x7d) {
      i++;
      return out;
    }
    for (;;) {
      skipWs();
      if (text.charCodeAt(i) !== 0x22) fail('expected a key');
      const key = string();
      const folded = key.toLowerCase();
      if (seen.has(folded)) fail(`duplicate key ${JSON.stringify(key.slice(0, 64))}`);
      seen.add(folded);
      skipWs();
      if (text.charCodeAt(i) !== 0x3a) fail('expected ":"');
      i++;
      out.set(key, value(depth));
      skipWs();
      const c = text.charCodeAt(i);
      if (c === 0x2c) {
        i++;
        continue;
      }
      if (c === 0x7d) {
        i++;
        return out;
      }
      fail('expected "," or "}"');
    }
  }

  function array(depth: number): Json[] {
    if (depth > maxDepth) fail('nested too deeply');
    i++; // [
    const out: Json[] = [];
    skipWs();
    if (text.charCodeAt(i) === 0x5d) {
      i++;
      return out;
    }
    for (;;) {
      out.push(value(depth));
      skipWs();
      const c = text.charCodeAt(i);
      if (c === 0x2c) {
        i++;
        continue;
      }
      if (c === 0x5d) {
        i++;
        return out;
      }
      fail('expected "," or "]"');
    }
  }

  function string(): string {
    i++; // opening quote
    let out = '';
    let start = i;
    for (;;) {
      if (i >= n) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(start, i);
      const e = text.charCodeAt(i + 1);
      i += 2;
      switch (e) {
        case 0x22:
          out += '"';
          break;
        case 0x5c:
          out += '\\';
          break;
        case 0x2f:
          out += '/';
          break;
        case 0x62:
          out += '\b';
          break;
        case 0x66:
          out += '\f';
          break;
        case 0x6e:
          out += '\n';
          break;
        case 0x72:
          out += '\r';
          break;
        case 0x74:
          out += '\t';
          break;
        case 0x75: {
          const hex = text.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          break;
        }
        default:
          i -= 2;
          fail('bad escape');
      }
      start = i;
    }
  }

  try {
    const v = value(0);
    skipWs();
    if (i !== n) fail('trailing characters');
    return { ok: true, value: v };
  } catch (err) {
    if (err instanceof JsonFault) return { ok: false, reason: err.reason };
    // RangeError (a string too long to build) is the only other possibility: bounded input makes it unlikely.
    return { ok: false, reason: 'unparseable' };
  }
}

/** The value at a dot path (all-digit segments index arrays); undefined when absent. */
export function getPath(root: Json, path: string): Json | undefined {
  let node: Json | undefined = root;
  for (const seg of path.split('.')) {
    if (node instanceof Map) node = node.get(seg);
    else if (Array.isArray(node) && /^[0-9]+$/.test(seg)) node = node[Number(seg)];
    else return undefined;
    if (node === undefined) return undefined;
  }
  return node;
}
