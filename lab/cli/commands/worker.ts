/** `lab worker -A <module> [-Q queues] [-c N] [-P pool] [--loglevel info]`, modelled on `celery -A … worker`. */
import { pathToFileURL } from 'node:url';
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { POOL_KINDS, parseLogLevel } from '../../queue/index.js';
import type { PoolKind } from '../../queue/index.js';
import { CONNECTION_HELP, connectionOptions } from '../shared-options.js';
import type { ConnectionFlags, GlobalFlags } from '../shared-options.js';

interface WorkerFlags extends GlobalFlags, ConnectionFlags {
  app: string[];
  queues?: string;
  concurrency?: number;
  pool: string;
  loglevel: string;
  hostname?: string;
  'prefetch-multiplier'?: number;
  'acks-late'?: boolean;
  'task-events'?: boolean;
  'without-remote-control'?: boolean;
  'result-serializer'?: string;
  'worker-direct'?: boolean;
}

export const workerCommandModule: CommandModule<GlobalFlags, WorkerFlags> = {
  command: 'worker',
  describe: 'start a worker node (like celery -A … worker) serving tasks from the broker',
  builder: (y) =>
    connectionOptions(y)
      .usage(`$0 worker -A <module> [options]\n\nConsumes task messages (Celery protocol v2) and runs them in a pool. Logs like Celery. SIGTERM/Ctrl-C: warm shutdown (finish running tasks); a second one: cold shutdown.\n\n${CONNECTION_HELP}`)
      .option('app', { alias: 'A', type: 'string', array: true, demandOption: 'name the tasks to serve: -A scenarios, -A mergesort, or -A ./tasks.js', describe: 'task module(s): a built-in (scenarios, echo, currency, mergesort) or a .js file of yours' })
      .option('queues', { alias: 'Q', type: 'string', describe: "comma-separated queues to consume (default: the config's task_default_queue, celery)" })
      .option('concurrency', { alias: 'c', type: 'number', describe: 'pool size (default: CPU count)' })
      .option('pool', { alias: 'P', type: 'string', choices: POOL_KINDS as string[], default: 'prefork', describe: 'prefork (processes), threads (worker threads), async (event loop, for I/O-bound tasks)' })
      .option('loglevel', { alias: 'l', type: 'string', default: 'info', describe: 'debug, info, warning, error' })
      .option('hostname', { alias: 'n', type: 'string', describe: 'node name NAME@HOST as Celery forms it: %h this hostname, %n its first label, %d its domain; a bare HOST means celery@HOST (default: celery@%h)' })
      .option('prefetch-multiplier', { type: 'number', describe: 'prefetch = concurrency × this (default 4)' })
      .option('acks-late', { type: 'boolean', describe: 'ack after the task ran, not when it is received' })
      .option('task-events', { alias: 'E', type: 'boolean', describe: 'send task events (celery events, lab dashboard); worker_send_task_events' })
      .option('result-serializer', { type: 'string', choices: ['json', 'msgpack'], describe: "how results are stored: json (default) or msgpack; Celery's result_serializer (readers must use the same)" })
      .option('worker-direct', { type: 'boolean', describe: "also consume this node's own queue NODE.dq2 on exchange C.dq2, so a task can be sent to this worker alone (Celery's worker_direct; env LAB_WORKER_DIRECT=1)" })
      .option('without-remote-control', { type: 'boolean', describe: 'do not join the celery remote-control mailbox (celery inspect/control, lab inspect/control/status)' })
      .example('$0 worker -A scenarios -c 2', "serve the book's tasks (test.echo, currency.get_rate, mergesort.sort)")
      .example('$0 worker -A ./tasks.js -Q queue1 --loglevel debug', 'your tasks, from queue1')
      .example('$0 worker -A ./tasks.js --config ./config.js -v', "the book's config_from_object('config'): URLs and settings from config.js; -v says where the URLs came from") as never,
  handler: async (argv) => {
    const level = parseLogLevel(argv.loglevel);
    if (!level) throw new UsageError(`--loglevel: expected debug, info, warning or error, got ${JSON.stringify(argv.loglevel)}`);
    if (argv.concurrency !== undefined && (!Number.isInteger(argv.concurrency) || argv.concurrency < 1)) throw new UsageError(`--concurrency: expected an integer ≥ 1, got ${String(argv.concurrency)}`);
    const pm = argv['prefetch-multiplier'];
    if (pm !== undefined && (!Number.isInteger(pm) || pm < 0)) throw new UsageError(`--prefetch-multiplier: expected an integer ≥ 0, got ${String(pm)}`);
    const queues = argv.queues ? argv.queues.split(',').map((q) => q.trim()) : undefined;
    if (queues?.some((q) => !q)) throw new UsageError(`--queues: empty queue name in ${JSON.stringify(argv.queues)}`);
    const [{ runWorker }, { resolveTaskModules }, { findConfigModule }, { describeWorkerModules, WORKER_MODULES_ENV, WORKER_DIRECT_ENV }] = await Promise.all([
      import('../run-worker.js'),
      import('../task-modules.js'),
      import('../config-module.js'),
      import('../../services/worker-info.js'),
    ]);
    const modules = await resolveTaskModules(argv.app);
    const config = argv.config === undefined ? undefined : pathToFileURL(await findConfigModule(argv.config)).href;
    // What lab.worker_info reports (lab up's readiness check): the pool children inherit the environment.
    process.env[WORKER_MODULES_ENV] = JSON.stringify(await describeWorkerModules(modules, config));
    process.exitCode = await runWorker({
      modules,
      connection: { broker: argv.broker, backend: argv.backend, config: argv.config },
      verbose: argv.verbose,
      queues,
      concurrency: argv.concurrency,
      pool: argv.pool as PoolKind,
      loglevel: level,
      hostname: argv.hostname,
      prefetchMultiplier: pm,
      acksLate: argv['acks-late'],
      taskEvents: argv['task-events'],
      remoteControl: argv['without-remote-control'] ? false : undefined,
      resultSerializer: argv['result-serializer'] as 'json' | 'msgpack' | undefined,
      workerDirect: argv['worker-direct'] ?? (process.env[WORKER_DIRECT_ENV] === '1' ? true : undefined),
    });
  },
};
