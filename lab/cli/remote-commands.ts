/**
 * The commands of `lab inspect` and `lab control` and their arguments: positionals turned into the keyword
 * arguments Celery's commands take (celery/bin/control.py's _compile_arguments, with the argument lists of
 * celery/worker/control.py). Light on purpose: the command modules import it when the CLI starts.
 */
import { UsageError } from '../errors.js';

type ArgKind = 'string' | 'int' | 'float' | 'bool';

interface CommandSpec {
  /** Positional arguments in order: name and type. */
  args?: [string, ArgKind][];
  /** The rest of the positionals, as a list under this name. */
  variadic?: string;
  help: string;
}

export const INSPECT_COMMANDS: Record<string, CommandSpec> = {
  ping: { help: 'ping worker(s)' },
  stats: { help: 'worker statistics: pid, pool, tasks processed, broker, prefetch, rusage' },
  active: { args: [['safe', 'bool']], help: 'tasks being executed' },
  reserved: { help: 'tasks received and waiting for a pool slot' },
  scheduled: { help: 'tasks held for their ETA / countdown' },
  revoked: { help: 'revoked task ids the worker remembers' },
  registered: { variadic: 'taskinfoitems', help: 'registered tasks' },
  active_queues: { help: 'queues the worker consumes from' },
  query_task: { variadic: 'ids', help: 'state of tasks by id' },
  conf: { args: [['with_defaults', 'bool']], help: "the worker's configuration" },
  report: { help: 'software and platform of the worker' },
  clock: { help: "the worker's logical clock" },
};

export const CONTROL_COMMANDS: Record<string, CommandSpec> = {
  revoke: { variadic: 'task_id', help: 'revoke task(s) by id (--terminate to stop a running one)' },
  terminate: { args: [['signal', 'string']], variadic: 'task_id', help: 'terminate running task(s): <signal> <id>…' },
  rate_limit: { args: [['task_name', 'string'], ['rate_limit', 'string']], help: 'set a task type\'s rate limit per worker: <task> <rate> (5/s, 10/m, 100/h; 0: none)' },
  time_limit: { args: [['task_name', 'string'], ['soft', 'float'], ['hard', 'float']], help: 'set time limits: <task> <soft> [hard]' },
  pool_grow: { args: [['n', 'int']], help: 'grow the pool by N (default 1)' },
  pool_shrink: { args: [['n', 'int']], help: 'shrink the pool by N (default 1)' },
  add_consumer: { args: [['queue', 'string'], ['exchange', 'string'], ['exchange_type', 'string'], ['routing_key', 'string']], help: 'consume from one more queue: <queue>' },
  cancel_consumer: { args: [['queue', 'string']], help: 'stop consuming from a queue: <queue>' },
  enable_events: { help: 'start sending task events' },
  disable_events: { help: 'stop sending task events' },
  heartbeat: { help: 'send a worker heartbeat event now' },
  shutdown: { help: 'warm shutdown of the worker(s)' },
};

function convert(command: string, name: string, kind: ArgKind, text: string): unknown {
  if (kind === 'string') return text;
  if (kind === 'bool') {
    if (/^(1|true|yes|on)$/i.test(text)) return true;
    if (/^(0|false|no|off)$/i.test(text)) return false;
    throw new UsageError(`${command} ${name}: expected true or false, got ${JSON.stringify(text)}`);
  }
  const n = Number(text);
  if (!Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) throw new UsageError(`${command} ${name}: expected ${kind === 'int' ? 'an integer' : 'a number'}, got ${JSON.stringify(text)}`);
  return n;
}

/** Positionals → the command's keyword arguments. */
export function compileArguments(command: string, spec: CommandSpec, positionals: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const args = spec.args ?? [];
  if (!spec.variadic && positionals.length > args.length) throw new UsageError(`${command} takes at most ${args.length} argument${args.length === 1 ? '' : 's'} (${args.map((a) => a[0]).join(', ') || 'none'}), got ${positionals.length}`);
  args.forEach(([name, kind], i) => {
    if (i < positionals.length) out[name] = convert(command, name, kind, positionals[i]);
  });
  if (spec.variadic) out[spec.variadic] = positionals.slice(args.length);
  return out;
}
