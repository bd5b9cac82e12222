/**
 * `lab result <id>`: a task's state and result — or its exception with the worker's traceback — read from the
 * result backend by id, like `celery result`. An id the backend has no result for is PENDING, as Celery says:
 * ids are not checked, so an unknown id looks exactly like a task still waiting.
 */
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import type { ExceptionInfo } from '../../queue/index.js';
import { CONNECTION_HELP, connectionOptions } from '../shared-options.js';
import type { ConnectionFlags, GlobalFlags } from '../shared-options.js';

interface ResultFlags extends GlobalFlags, ConnectionFlags {
  id: string;
  wait: boolean;
  timeout: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const resultCommandModule: CommandModule<GlobalFlags, ResultFlags> = {
  command: 'result <id>',
  describe: "show a task's state and result (or exception and traceback) by id, from the result backend",
  builder: (y) =>
    connectionOptions(y)
      .usage(
        `$0 result <id> [options]\n\nLooks the task up in the result backend (it needs no broker) and prints its state, then its result — or, for a failure, the worker's traceback as Python prints it. ` +
          'An id the backend does not know prints PENDING, as Celery does: ids are not checked, and an unknown id cannot be told from a task that is still waiting (or a result that expired, or a task sent with ignore_result). ' +
          `Exit 1 when the task failed or was revoked, else 0. --json prints the stored meta (Celery's celery-task-meta-<id>).\n\n${CONNECTION_HELP}`,
      )
      .positional('id', { type: 'string', describe: 'the task id (lab call prints it)', demandOption: true })
      .option('wait', { type: 'boolean', default: false, describe: 'wait until the task is done (SUCCESS, FAILURE or REVOKED)' })
      .option('timeout', { type: 'number', default: 30, describe: 'seconds to wait with --wait' })
      .example('$0 result 6f2f3c4e-5a0b-4f7e-9d4a-2b8f7c1d9e00', 'state and result of a task sent with lab call')
      .example('$0 result "$(lab call test.echo \'["hi"]\')" --wait', 'send, then wait for the result by id')
      .example('$0 result <id> --json', 'the stored meta: status, result, traceback, date_done…') as never,
  handler: async (argv) => {
    const id = argv.id.trim();
    if (!id) throw new UsageError('lab result needs a task id');
    if (!(argv.timeout >= 0)) throw new UsageError(`--timeout: expected seconds ≥ 0, got ${String(argv.timeout)}`);
    const [{ cliApp }, { TaskFailedError, TaskTimeoutError }, { pythonTraceback }] = await Promise.all([import('../cli-app.js'), import('../../queue/index.js'), import('../task-failure.js')]);
    /** The exception a FAILURE, RETRY or REVOKED meta carries, read as the runtime reads it (type, Python's str). */
    const exceptionOf = (result: unknown): { type: string; message: string } => {
      const info = result as Partial<ExceptionInfo> | null;
      const ok = typeof info === 'object' && info !== null && typeof info.exc_type === 'string';
      const e = new TaskFailedError(id, ok ? { exc_type: info.exc_type!, exc_message: info.exc_message ?? [], exc_module: info.exc_module ?? null } : { exc_type: 'Exception', exc_message: [result], exc_module: null }, null);
      return { type: e.excType, message: e.excMessage };
    };
    const { app } = await cliApp('lab-result', { flags: argv, verbose: argv.verbose, needBroker: false, needBackend: 'lab result' });
    try {
      const r = app.asyncResult(id);
      if (argv.wait) {
        try {
          await r.get({ timeout: argv.timeout, propagate: false });
        } catch (err) {
          if (!(err instanceof TaskTimeoutError)) throw err;
          // Not ready in time: say what it is now, as without --wait.
        }
      } else {
        await r.refresh();
      }
      const meta = r.meta ?? { status: 'PENDING', result: null, traceback: null, children: [], date_done: null, task_id: id };
      const unknown = r.meta === null;
      if (argv.json) {
        process.stdout.write(`${JSON.stringify(meta)}\n`);
      } else {
        const lines = [`task    ${id}`, `state   ${meta.status}`];
        if (meta.status === 'SUCCESS') lines.push(`result  ${JSON.stringify(meta.result)}`);
        if (typeof meta.worker === 'string') lines.push(`worker  ${meta.worker}`);
        if (meta.date_done) lines.push(`done    ${meta.date_done} UTC`);
        if (meta.status === 'RETRY') {
          const e = exceptionOf(meta.result);
          lines.push(`retry   after ${e.type}: ${e.message}`);
        }
        if (meta.status === 'REVOKED') lines.push(`reason  ${exceptionOf(meta.result).message}`);
        process.stdout.write(`${lines.join('\n')}\n`);
        if (meta.status === 'FAILURE') {
          const e = exceptionOf(meta.result);
          process.stdout.write(pythonTraceback(e.type, e.message, meta.traceback));
        }
      }
      if (unknown && !argv.json) {
        const notUuid = UUID.test(id) ? '' : ` (and ${JSON.stringify(id)} is not even a UUID, the form task ids take)`;
        process.stderr.write(`note: PENDING is also what an unknown id gives: ids are not checked — Celery cannot tell an unknown id from a task still waiting, a result that expired, or a task sent with ignore_result${notUuid}\n`);
      }
      if (meta.status === 'FAILURE' || meta.status === 'REVOKED') process.exitCode = 1;
    } finally {
      await app.close();
    }
  },
};
