/**
 * `lab worker`: a worker node like `celery -A … worker`: logs in Celery's format, serves until told to stop.
 * SIGTERM or SIGINT = warm shutdown (stop consuming, finish what runs, exit); a second one = cold shutdown.
 */
import { availableParallelism } from 'node:os';
import { maskUrl } from '../errors.js';
import { Worker, celeryLogger } from '../queue/index.js';
import type { LogLevel, PoolKind } from '../queue/index.js';
import { cliApp } from './cli-app.js';
import type { ConnectionFlags } from './shared-options.js';
import { resolveTaskModules } from './task-modules.js';

export interface WorkerCommandOptions {
  modules: string[];
  /** --broker, --backend, --config: urls.ts chooses the URLs, the config module gives the settings. */
  connection: ConnectionFlags;
  verbose: boolean;
  /** -Q; default: the config's task_default_queue (celery). */
  queues?: string[];
  concurrency?: number;
  pool: PoolKind;
  loglevel: LogLevel;
  hostname?: string;
  prefetchMultiplier?: number;
  acksLate?: boolean;
  /** -E */
  taskEvents?: boolean;
  remoteControl?: boolean;
  /** --result-serializer (result_serializer). */
  resultSerializer?: 'json' | 'msgpack';
  /** --worker-direct (worker_direct). */
  workerDirect?: boolean;
}

export async function runWorker(o: WorkerCommandOptions): Promise<number> {
  const { app, urls } = await cliApp('lab-worker', { flags: o.connection, verbose: o.verbose, needBroker: true, needBackend: null, app: { include: o.modules } });
  // The config module's imports (CELERY_IMPORTS) are served beside the -A modules.
  if (app.config.include.join('\n') !== o.modules.join('\n')) {
    const imported = app.config.include.filter((m) => !o.modules.includes(m));
    const resolved = await resolveTaskModules(imported.filter((m) => !/^file:/.test(m)));
    app.config.include = [...new Set([...o.modules, ...imported.filter((m) => /^file:/.test(m)), ...resolved])];
  }
  // Flags beat the config module, as Celery's command-line options beat its settings.
  const overrides: Record<string, unknown> = {};
  if (o.prefetchMultiplier !== undefined) overrides.worker_prefetch_multiplier = o.prefetchMultiplier;
  if (o.acksLate !== undefined) overrides.task_acks_late = o.acksLate;
  if (o.taskEvents !== undefined) overrides.worker_send_task_events = o.taskEvents;
  if (o.remoteControl !== undefined) overrides.worker_enable_remote_control = o.remoteControl;
  if (o.resultSerializer !== undefined) overrides.result_serializer = o.resultSerializer;
  if (o.workerDirect !== undefined) overrides.worker_direct = o.workerDirect;
  app.configFromObject(overrides);
  const broker = urls.broker as string;
  const backend = urls.backend;
  const log = celeryLogger(o.loglevel);
  const worker = new Worker(app, {
    queues: o.queues ?? [],
    concurrency: o.concurrency ?? availableParallelism(),
    pool: o.pool,
    hostname: o.hostname,
    logger: log,
  });
  worker.on('error', () => undefined); // already logged by the worker; background errors never end the process
  log.log('info', `Connecting to ${maskUrl(broker)} (results: ${backend ? maskUrl(backend) : `disabled: ${urls.backendFrom.detail}`})`);
  try {
    await worker.start();
  } catch (err) {
    await app.close().catch(() => undefined); // a connection that did open must not keep the process alive
    throw err;
  }
  const tasks = [...new Set([...app.tasks.keys(), ...[...(await import('../queue/index.js')).allApps()].flatMap((a) => [...a.tasks.keys()])])].sort();
  log.log('info', `[tasks]\n${tasks.map((t) => `  . ${t}`).join('\n')}`);
  // Celery's own words once the worker consumes: lab's worker groups wait for this line.
  log.log('info', `${worker.hostname} ready.`);
  return new Promise<number>((resolve) => {
    let signals = 0;
    const stop = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals === 1) {
        log.log('warning', `${sig}: warm shutdown (finishing ${worker.stats.active} running task(s); ${sig} again for a cold shutdown)`);
        void worker.stop({ warm: true }).then(finish, finish);
      } else if (signals === 2) {
        log.log('warning', `${sig}: cold shutdown`);
        void worker.stop({ warm: false }).then(finish, finish);
      }
    };
    const finish = async (): Promise<void> => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      await app.close().catch(() => undefined);
      resolve(0);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // `celery control shutdown` / `lab control shutdown`: a warm shutdown, as Celery's WorkerShutdown.
    worker.once('shutdown', () => {
      if (signals === 0) {
        signals++;
        void worker.stop({ warm: true }).then(finish, finish);
      }
    });
  });
}
