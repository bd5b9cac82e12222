/**
 * `lab worker`: a worker node like `celery -A … worker`: logs in Celery's format, serves until told to stop.
 * SIGTERM or SIGINT = warm shutdown (stop consuming, finish what runs, exit); a second one = cold shutdown.
 */
import { availableParallelism, hostname } from 'node:os';
import { maskUrl } from '../errors.js';
import { App, Worker, celeryLogger } from '../queue/index.js';
import type { LogLevel, PoolKind } from '../queue/index.js';

export interface WorkerCommandOptions {
  modules: string[];
  /** A settings module (file: URL): applied first; the URLs and flags given here override it. */
  config?: string;
  broker: string;
  backend: string | null;
  queues: string[];
  concurrency?: number;
  pool: PoolKind;
  loglevel: LogLevel;
  hostname?: string;
  prefetchMultiplier?: number;
  acksLate?: boolean;
}

export async function runWorker(o: WorkerCommandOptions): Promise<number> {
  const config: Record<string, unknown> = { broker_url: o.broker, result_backend: o.backend };
  if (o.prefetchMultiplier !== undefined) config.worker_prefetch_multiplier = o.prefetchMultiplier;
  if (o.acksLate !== undefined) config.task_acks_late = o.acksLate;
  const app = new App('lab-worker', { include: o.modules });
  if (o.config) await app.configFromModule(o.config);
  app.configFromObject(config);
  const log = celeryLogger(o.loglevel);
  const worker = new Worker(app, {
    queues: o.queues,
    concurrency: o.concurrency ?? availableParallelism(),
    pool: o.pool,
    hostname: o.hostname ?? `celery@${hostname()}`,
    logger: log,
  });
  worker.on('error', () => undefined); // already logged by the worker; background errors never end the process
  log.log('info', `Connecting to ${maskUrl(o.broker)} (results: ${o.backend ? maskUrl(o.backend) : 'disabled'})`);
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
  });
}
