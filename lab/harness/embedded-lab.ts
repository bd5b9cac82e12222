/**
 * The embedded lab: broker and backend in memory in this process, workers as a pool of threads (or processes,
 * or the async pool) on this machine — what `lab run` uses when no lab is up. Same runtime, same protocol messages.
 */
import { availableParallelism, hostname } from 'node:os';
import { MemoryTransports, Worker } from '../queue/index.js';
import type { App } from '../queue/index.js';
import type { PoolKind } from '../queue/index.js';
import { startQuoteServer } from '../services/quote-server.js';
import type { QuoteServer } from '../services/quote-server.js';
import type { AnyScenario } from '../../scenarios/scenario.js';
import type { LabSession } from './lab-session.js';
import { InProcessWorkerGroups } from './in-process-groups.js';
import { localHostFiles } from './host-files.js';

export interface EmbeddedLabOptions {
  pool?: PoolKind;
  concurrency?: number;
  /** The queue the default worker consumes (`lab run --queue`); default celery. */
  queue?: string;
}

export const EMBEDDED_URL = 'memory://';

export async function openEmbeddedLab(scenario: AnyScenario, options: EmbeddedLabOptions = {}): Promise<LabSession> {
  // This lab's broker and backend: the apps it binds meet there, and nowhere else in the process.
  const memory = new MemoryTransports();
  const app: App = await scenario.app();
  app.configFromObject({ broker_url: EMBEDDED_URL, result_backend: EMBEDDED_URL });
  app.useMemoryTransports(memory);
  const pool = options.pool ?? scenario.embeddedWorker?.pool ?? 'threads';
  const concurrency = options.concurrency ?? scenario.embeddedWorker?.concurrency ?? availableParallelism();
  // A scenario that starts its own worker groups (the lessons) gets no default worker.
  const worker = scenario.needs?.workerGroups
    ? null
    : new Worker(app, { pool, concurrency, include: [scenario.tasksModule], hostname: `celery@${hostname()}`, queues: [options.queue ?? app.config.taskDefaultQueue] });
  const groups = new InProcessWorkerGroups(scenario.tasksModule, { broker_url: EMBEDDED_URL, result_backend: EMBEDDED_URL }, memory);
  let quotes: QuoteServer | null = null;
  try {
    // The quote server first: the book's get_rate(pair) without a URL finds it through LAB_QUOTES_URL, which the
    // pool children copy from this process's environment when they start.
    if (scenario.needs?.quotes) {
      quotes = await startQuoteServer();
      process.env.LAB_QUOTES_URL = quotes.template;
    }
    await worker?.start();
  } catch (err) {
    // Whatever did start is stopped again: a failed start leaves nothing running.
    await Promise.all([worker?.stop({ warm: false }).catch(() => undefined), quotes?.close()]);
    await memory.close();
    throw err;
  }
  const host = hostname();
  const files = await localHostFiles();
  return {
    info: {
      kind: 'embedded',
      name: 'embedded',
      hosts: [{ name: host, roles: ['broker', 'backend', 'workers', 'master', ...(quotes ? ['quotes'] : [])] }],
      broker: { kind: 'memory', url: EMBEDDED_URL },
      backend: { kind: 'memory', url: EMBEDDED_URL },
      workers: worker ? { pool, concurrency, prefetchMultiplier: app.config.workerPrefetchMultiplier, hosts: [host] } : { pool: 'none', concurrency: 0, prefetchMultiplier: app.config.workerPrefetchMultiplier, hosts: [] },
      serializer: 'json',
    },
    quotesUrl: quotes?.template ?? null,
    workers: groups,
    files,
    bind(other: App) {
      other.configFromObject({ broker_url: EMBEDDED_URL, result_backend: EMBEDDED_URL });
      other.useMemoryTransports(memory);
    },
    async close({ cold = false } = {}) {
      try {
        await Promise.all([worker?.stop({ warm: !cold }), groups.stopAll({ cold }), quotes?.close()]);
      } finally {
        if (quotes && process.env.LAB_QUOTES_URL === quotes.template) delete process.env.LAB_QUOTES_URL;
        await memory.close();
        await files.close();
      }
    },
  };
}

