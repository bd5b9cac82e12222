import { Signature } from './canvas.js';
import type { AsyncResult } from './result.js';
import type { SendOptions, Sender } from './send-options.js';
import { parseRateLimit } from './rate-limit.js';
import type { RateLimit } from './rate-limit.js';
import type { SerializerName } from './codec.js';

export interface TaskOptions {
  /** Parameter names in order, so keyword arguments from Python (`get_rate(pair, url_tmplt=…)`) land in place. */
  params?: string[];
  queue?: string;
  acksLate?: boolean;
  rejectOnWorkerLost?: boolean;
  ignoreResult?: boolean;
  /** Seconds. */
  timeLimit?: number;
  softTimeLimit?: number;
  maxRetries?: number | null;
  /** Seconds; Celery's default is 180. */
  defaultRetryDelay?: number;
  /**
   * Celery's rate_limit: at most this many tasks of this type start per second on each worker ("5/s", "10/m",
   * "100/h", or a number per second; 0: none). Tasks over it wait in the worker, unacked; they are not rejected.
   * Unset or null: the app's task_default_rate_limit. `rate_limit` (remote control) changes it while workers run.
   */
  rateLimit?: RateLimit;
  /** Its messages' serializer (Celery's Task.serializer); default the app's task_serializer. */
  serializer?: SerializerName;
}

// any[], not unknown[]: a task's own typed parameters ((x: number) => …) must fit, and parameters are contravariant.
export type TaskFn = (...args: any[]) => unknown;

type Result<F extends TaskFn> = Awaited<ReturnType<F>>;

/** A registered task: call it locally like a function (`task.fn`), or send it to a worker with delay/applyAsync. */
export class Task<F extends TaskFn = TaskFn> {
  constructor(
    /** The app that registered the task: its routing settings (task_routes, task_default_queue) apply to it. */
    readonly sender: Sender,
    readonly name: string,
    readonly fn: F,
    readonly options: TaskOptions = {},
  ) {
    // Refused where it is written, not when the first task arrives at a worker.
    if (options.rateLimit !== undefined) parseRateLimit(options.rateLimit, `${name}: rateLimit`);
  }

  delay(...args: Parameters<F>): Promise<AsyncResult<Result<F>>> {
    return this.applyAsync(args);
  }

  applyAsync(args: Parameters<F> | unknown[] = [], kwargs: Record<string, unknown> = {}, options: SendOptions = {}): Promise<AsyncResult<Result<F>>> {
    return this.sender.sendTask<Result<F>>(this.name, args, kwargs, options);
  }

  /** A signature for the canvas: group(sort.s(chunk)…), chain(add.s(1, 2), add.s(3)). */
  s(...args: unknown[]): Signature<Result<F>> {
    return new Signature<Result<F>>(this.sender, this.name, args);
  }

  /** An immutable signature (its args are never prepended with a parent's result). */
  si(...args: unknown[]): Signature<Result<F>> {
    return new Signature<Result<F>>(this.sender, this.name, args, {}, {}, true);
  }

  /**
   * Map Celery's (args, kwargs) onto this function's positional parameters — and refuse more positional arguments
   * than it takes, as Python's worker does (`sort() takes 1 positional argument but 3 were given`): JavaScript would
   * silently drop them.
   */
  bindArguments(args: unknown[], kwargs: Record<string, unknown>): unknown[] {
    const max = this.options.params?.length ?? positionalCapacity(this.fn);
    if (max !== null && args.length > max) {
      throw new TypeError(`${this.name}() takes ${max} positional argument${max === 1 ? '' : 's'} but ${args.length} ${args.length === 1 ? 'was' : 'were'} given`);
    }
    const names = Object.keys(kwargs);
    if (names.length === 0) return args;
    const params = this.options.params;
    if (!params) return [...args, kwargs];
    const out = [...args];
    for (const name of names) {
      const i = params.indexOf(name);
      if (i < 0) throw new TypeError(`${this.name}() got an unexpected keyword argument '${name}'`);
      if (i < args.length) throw new TypeError(`${this.name}() got multiple values for argument '${name}'`);
      out[i] = kwargs[name];
    }
    return out;
  }
}

const capacities = new WeakMap<TaskFn, number | null>();

/**
 * How many positional arguments a function declares, read from its source (defaults count; a rest parameter means
 * any number: null). fn.length stops at the first default, so it cannot tell.
 */
export function positionalCapacity(fn: TaskFn): number | null {
  if (capacities.has(fn)) return capacities.get(fn)!;
  const n = countParameters(Function.prototype.toString.call(fn));
  capacities.set(fn, n);
  return n;
}

/** Count the top-level parameters of a function's source text; null when it has a rest parameter or is unreadable. */
export function countParameters(src: string): number | null {
  if (src.includes('[native code]')) return null; // a bound or built-in function: its source says nothing
  let i = 0;
  // `async x => …`, `x => …`: one bare parameter
  const bare = /^\s*(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(src);
  if (bare && bare[1] !== 'async') return 1;
  i = src.indexOf('(');
  if (i < 0) return null;
  let depth = 0;
  let quote: string | null = null;
  let params = 0;
  let current = '';
  for (i = i + 1; i < src.length; i++) {
    const c = src[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' && depth === 0) break;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      if (current.trim().startsWith('...')) return null;
      if (current.trim()) params++;
      current = '';
      continue;
    }
    current += c;
  }
  if (current.trim().startsWith('...')) return null;
  if (current.trim()) params++;
  return params;
}
