/** Worker log lines in Celery's format, so the book's readers recognise them:
 *  [2015-11-10 08:30:12,869: INFO/MainProcess] Received task: test.echo[1423ec2b-…] */

export type LogLevel = 'debug' | 'info' | 'warning' | 'error' | 'critical';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };

export interface WorkerLogger {
  enabled(level: LogLevel): boolean;
  log(level: LogLevel, message: string): void;
}

function stamp(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}

export function parseLogLevel(s: string): LogLevel | null {
  const l = s.toLowerCase() === 'warn' ? 'warning' : s.toLowerCase();
  return l in ORDER ? (l as LogLevel) : null;
}

export function celeryLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l)): WorkerLogger {
  return {
    enabled: (l) => ORDER[l] >= ORDER[level],
    log(l, message) {
      if (ORDER[l] < ORDER[level]) return;
      write(`[${stamp(new Date())}: ${l.toUpperCase()}/MainProcess] ${message}\n`);
    },
  };
}

export const silentLogger: WorkerLogger = { enabled: () => false, log: () => {} };

/** A Python-like repr of a JSON value (strings in single quotes, None/True/False), truncated like saferepr. */
export function pyRepr(value: unknown, limit = 1024): string {
  const out = repr(value);
  return out.length > limit ? `${out.slice(0, limit - 3)}...` : out;
}

function repr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
  if (Array.isArray(v)) return `[${v.map(repr).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${repr(k)}: ${repr(x)}`).join(', ')}}`;
  return String(v);
}
