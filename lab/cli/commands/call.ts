/**
 * `lab call <task> [args JSON] [--kwargs JSON] [--queue] [--countdown] [--wait]`: send one task by name. A failed
 * `--wait` is one line (`lab: Exception: Booo!`), the worker's traceback with -v, the failure as JSON with --json.
 */
import type { CommandModule } from 'yargs';
import { RunError, UsageError } from '../../errors.js';
import type { SendOptions } from '../../queue/index.js';
import { CONNECTION_HELP, connectionOptions, serializerOption } from '../shared-options.js';
import type { ConnectionFlags, GlobalFlags, SerializerFlag } from '../shared-options.js';

interface CallFlags extends GlobalFlags, ConnectionFlags, SerializerFlag {
  task: string;
  args?: string;
  kwargs?: string;
  queue?: string;
  countdown?: number;
  expires?: number;
  priority?: number;
  wait: boolean;
  timeout: number;
}

function parseJson(flag: string, text: string, want: 'array' | 'object'): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${flag}: not valid JSON (${(err as Error).message}): ${text}`);
  }
  const ok = want === 'array' ? Array.isArray(v) : typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!ok) throw new UsageError(`${flag}: expected a JSON ${want === 'array' ? 'array like [1, "a"]' : 'object like {"x": 1}'}, got ${text}`);
  return v;
}

export const callCommandModule: CommandModule<GlobalFlags, CallFlags> = {
  command: 'call <task> [args]',
  describe: 'send a task by name (and wait for its result with --wait)',
  builder: (y) =>
    serializerOption(connectionOptions(y))
      .usage(`$0 call <task> [args] [options]\n\nSends one task (Celery protocol v2) and prints its id — or, with --wait, its result. A task that failed on the worker: exit 1 and one line (lab: Exception: Booo!); -v prints the worker's traceback as Python does; --json prints {id, state, exc_type, exc_message, traceback} on stdout.\n\n${CONNECTION_HELP}`)
      .positional('task', { type: 'string', describe: 'task name, e.g. test.echo' })
      .positional('args', { type: 'string', describe: 'positional arguments as a JSON array, e.g. \'["hello"]\'' })
      .option('kwargs', { type: 'string', describe: 'keyword arguments as a JSON object' })
      .option('queue', { alias: 'Q', type: 'string', describe: "queue to send to (default: the task's route in --config's CELERY_ROUTES, else celery)" })
      .option('countdown', { type: 'number', describe: 'seconds before the task may run' })
      .option('expires', { type: 'number', describe: 'seconds after which the task is revoked if not run' })
      .option('priority', { type: 'number', describe: 'message priority (needs a priority queue)' })
      .option('wait', { type: 'boolean', default: false, describe: 'wait for the result and print it' })
      .option('timeout', { type: 'number', default: 30, describe: 'seconds to wait with --wait' })
      .example('$0 call test.echo \'["Python rocks!"]\' --wait', 'the book\'s first task')
      .example('$0 call currency.get_rate \'["EURUSD"]\' --wait', "the book's get_rate.delay('EURUSD'): lab's workers know the lab's quote server")
      .example('$0 call currency.get_rate \'["EURUSD"]\' --kwargs \'{"url_tmplt": "http://HOST4:8000/d/quotes.csv?s={}=X&f=p"}\' --wait', 'keyword arguments')
      .example('$0 call project.task1 --config ./config.js --wait -v', "URLs and CELERY_ROUTES from the book's config module; a failure prints the worker's traceback")
      .example('$0 call test.echo \'["hi"]\' --serializer msgpack --wait', 'a msgpack body (application/x-msgpack), as Celery\'s serializer=\'msgpack\'')
      .example('$0 call test.echo \'["hi"]\' --broker amqp://guest:guest@127.0.0.1// --backend redis://127.0.0.1:6379/0', 'a broker and backend of your own') as never,
  handler: async (argv) => {
    const args = argv.args === undefined ? [] : (parseJson('args', argv.args, 'array') as unknown[]);
    const kwargs = argv.kwargs === undefined ? {} : (parseJson('--kwargs', argv.kwargs, 'object') as Record<string, unknown>);
    for (const k of ['countdown', 'expires', 'timeout'] as const) {
      const v = argv[k];
      if (v !== undefined && !(v >= 0)) throw new UsageError(`--${k}: expected seconds ≥ 0, got ${String(v)}`);
    }
    const [{ cliApp }, { TaskFailedError, TaskRevokedError, TaskTimeoutError }, { failureJson, pythonTraceback }] = await Promise.all([
      import('../cli-app.js'),
      import('../../queue/index.js'),
      import('../task-failure.js'),
    ]);
    const { app } = await cliApp('lab-call', { flags: argv, verbose: argv.verbose, needBroker: true, needBackend: argv.wait ? '--wait' : null });
    try {
      const options: SendOptions = { queue: argv.queue, countdown: argv.countdown, expires: argv.expires, priority: argv.priority, serializer: argv.serializer };
      const r = await app.sendTask(argv.task, args, kwargs, options);
      if (!argv.wait) {
        process.stdout.write(argv.json ? `${JSON.stringify({ id: r.id })}\n` : `${r.id}\n`);
        return;
      }
      let value: unknown;
      try {
        value = await r.get({ timeout: argv.timeout });
      } catch (err) {
        if (err instanceof TaskTimeoutError) {
          throw new RunError(`${err.message} (it may still run: look it up later with lab result ${r.id})`, { code: 'E_TASK_TIMEOUT', cause: err });
        }
        const failure =
          err instanceof TaskFailedError
            ? { id: r.id, state: 'FAILURE' as const, exc_type: err.excType, exc_message: err.excMessage, traceback: err.remoteTraceback }
            : err instanceof TaskRevokedError
              ? { id: r.id, state: 'REVOKED' as const, exc_type: 'TaskRevokedError', exc_message: err.reason, traceback: null }
              : null;
        // Else one line through the error boundary: lab: Exception: Booo!
        if (!failure || (!argv.json && !(argv.verbose && failure.state === 'FAILURE'))) throw err;
        if (argv.json) process.stdout.write(failureJson(failure));
        else process.stderr.write(pythonTraceback(failure.exc_type, failure.exc_message, failure.traceback));
        process.exitCode = 1;
        return;
      }
      process.stdout.write(argv.json ? `${JSON.stringify({ id: r.id, state: r.state, result: value })}\n` : `${JSON.stringify(value)}\n`);
    } finally {
      await app.close();
    }
  },
};
