/**
 * Structured JSON logging, one line per event.
 *
 * Never pass a credential (token, key, session header, secret) as a field: log
 * its key_id or a short digest instead. Fields named like secrets are masked as a
 * second line of defence.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_FIELD = /token|secret|password|authorization|api_?key|cookie|session/i;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(level: LogLevel = 'info', base: Record<string, unknown> = {}, out: (line: string) => void = writeStderr): Logger {
  const min = ORDER[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    const rec: Record<string, unknown> = { t: new Date().toISOString(), level: lvl, msg, ...base };
    if (fields) for (const [k, v] of Object.entries(fields)) rec[k] = SECRET_FIELD.test(k) && typeof v === 'string' ? '[redacted]' : serialise(v);
    out(JSON.stringify(rec));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(level, { ...base, ...fields }, out),
  };
}

function serialise(v: unknown): unknown {
  if (v instanceof Error) return { name: v.name, message: v.message, code: (v as NodeJS.ErrnoException).code };
  return v;
}

function writeStderr(line: string): void {
  process.stderr.write(line + '\n');
}
