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

/**
 * A Python-like repr of a JSON value (strings in single quotes, None/True/False), truncated like saferepr.
 * Bounded: it stops walking once `limit` characters are written, so a 1,000,000-item list costs no more than a short one.
 */
export function pyRepr(value: unknown, limit = 1024): string {
  const out: string[] = [];
  const budget = { left: limit + 1 };
  repr(value, out, budget);
  const text = out.join('');
  return text.length > limit ? `${text.slice(0, limit - 3)}...` : text;
}

/** Python's repr of a tuple of these values: `()`, `('a',)`, `(1, 2)` — how Celery writes argsrepr. */
export function pyTupleRepr(values: readonly unknown[], limit = 1024): string {
  const list = pyRepr(values, limit);
  if (!list.endsWith(']')) return `(${list.slice(1)}`; // truncated: "(1, 2, 3..."
  return values.length === 1 ? `(${list.slice(1, -1)},)` : `(${list.slice(1, -1)})`;
}

interface Budget {
  left: number;
}

function put(out: string[], budget: Budget, s: string): void {
  out.push(s);
  budget.left -= s.length;
}

function reprString(v: string): string {
  const quote = v.includes("'") && !v.includes('"') ? '"' : "'";
  let body = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  if (quote === "'") body = body.replace(/'/g, "\\'");
  return `${quote}${body}${quote}`;
}

function reprNumber(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return String(v);
}

function repr(v: unknown, out: string[], budget: Budget): void {
  if (budget.left <= 0) return;
  if (v === null || v === undefined) return put(out, budget, 'None');
  if (v === true) return put(out, budget, 'True');
  if (v === false) return put(out, budget, 'False');
  if (typeof v === 'number') return put(out, budget, reprNumber(v));
  if (typeof v === 'string') return put(out, budget, reprString(v.length > budget.left ? v.slice(0, budget.left) : v));
  if (Array.isArray(v)) {
    put(out, budget, '[');
    for (let i = 0; i < v.length && budget.left > 0; i++) {
      if (i) put(out, budget, ', ');
      repr(v[i], out, budget);
    }
    return put(out, budget, ']');
  }
  if (typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') return repr((v as { toJSON(): unknown }).toJSON(), out, budget);
  if (typeof v === 'object') {
    put(out, budget, '{');
    let first = true;
    for (const k in v as Record<string, unknown>) {
      if (budget.left <= 0) break;
      if (!first) put(out, budget, ', ');
      first = false;
      put(out, budget, reprString(k));
      put(out, budget, ': ');
      repr((v as Record<string, unknown>)[k], out, budget);
    }
    return put(out, budget, '}');
  }
  return put(out, budget, String(v));
}
