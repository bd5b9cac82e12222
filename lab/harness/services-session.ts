/**
 * A run against a broker and a backend that already run (RabbitMQ and Redis given by URL), with the workers in
 * this process: a default worker on the scenario's queue (unless the scenario starts its own groups) and worker
 * groups as in-process Workers. The tests run every scenario this way on real RabbitMQ + Redis; CI pipelines with
 * service containers use the same shape.
 */
import { availableParallelism, hostname } from 'node:os';
import { maskUrl } from '../errors.js';
import { Worker } from '../queue/index.js';
import type { App, PoolKind } from '../queue/index.js';
import { startQuoteServer } from '../services/quote-server.js';
import type { QuoteServer } from '../services/quote-server.js';
import type { AnyScenario } from '../../scenarios/scenario.js';
import { InProcessWorkerGroups } from './in-process-groups.js';
import type { LabSession } from './lab-session.js';

export interface ServicesSessionOptions {
  broker: string;
  backend: string;
  pool?: PoolKind;
  concurrency?: number;
  /** The queue the default worker consumes (default celery). */
  queue?: string;
}

export async function openServicesSession(scenario: AnyScenario, o: ServicesSessionOptions): Promise<LabSession> {
  const app: App = await scenario.app();
  const urls = { broker_url: o.broker, result_backend: o.backend };
  app.configFromObject(urls);
  const pool = o.pool ?? scenario.embeddedWorker?.pool ?? 'threads';
  const concurrency = o.concurrency ?? scenario.embeddedWorker?.concurrency ?? availableParallelism();
  const worker = scenario.needs?.workerGroups ? null : new Worker(app, { pool, concurrency, include: [scenario.tasksModule], hostname: `celery@${hostname()}`, queues: [o.queue ?? app.config.taskDefaultQueue] });
  const groups = new InProcessWorkerGroups(scenario.tasksModule, urls);
  const apps = new Set<App>([app]);
  let quotes: QuoteServer | null = null;
  try {
    if (scenario.needs?.quotes) {
      quotes = await startQuoteServer();
      process.env.LAB_QUOTES_URL = quotes.template;
    }
    await worker?.start();
  } catch (err) {
    await Promise.all([worker?.stop({ warm: false }).catch(() => undefined), quotes?.close(), app.close().catch(() => undefined)]);
    throw err;
  }
  const host = hostname();
  return {
    info: {
      kind: 'services',
      name: 'services',
      hosts: [{ name: host, roles: ['workers', 'master', ...(quotes ? ['quotes'] : [])] }],
      broker: { kind: o.broker.split(':')[0]!, url: maskUrl(o.broker) },
      backend: { kind: o.backend.split(':')[0]!, url: maskUrl(o.backend) },
      workers: worker ? { pool, concurrency, prefetchMultiplier: app.config.workerPrefetchMultiplier, hosts: [host] } : { pool: 'none', concurrency: 0, prefetchMultiplier: app.config.workerPrefetchMultiplier, hosts: [] },
      serializer: 'json',
    },
    quotesUrl: quotes?.template ?? null,
    workers: groups,
    bind(other: App) {
      other.configFromObject(urls);
      apps.add(other);
    },
    async close({ cold = false } = {}) {
      try {
        await Promise.all([worker?.stop({ warm: !cold }), groups.stopAll({ cold }), quotes?.close()]);
      } finally {
        if (quotes && process.env.LAB_QUOTES_URL === quotes.template) delete process.env.LAB_QUOTES_URL;
        await Promise.all([...apps].map((a) => a.close().catch(() => undefined)));
      }
    },
  };
}
