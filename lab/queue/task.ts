import { Signature } from './canvas.js';
import type { AsyncResult } from './result.js';
import type { SendOptions, Sender } from './send-options.js';

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
  ) {}

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

  /** Map Celery's (args, kwargs) onto this function's positional parameters. */
  bindArguments(args: unknown[], kwargs: Record<string, unknown>): unknown[] {
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
