/**
 * The embedded lab: broker and backend in memory in this process, workers as a pool of threads (or processes,
 * or the async pool) on this machine — what `lab run` uses when no lab is up. Same runtime, same protocol messages.
 */
import { availableParallelism, hostname } from 'node:os';
import { MemoryTransports, Worker } from '../queue/index.js';
import type { App, PoolKind } from '../queue/index.js';
import { startQuoteServer } from '../services/quote-server.js';
import type { QuoteServer } from '../services/quote-server.js';
import type { AnyScenario } from '../../scenarios/scenario.js';
import type { LabSession } from './lab-session.js';

export interface EmbeddedLabOptions {
  pool?: PoolKind;
  concurrency?: number;
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
  const worker = new Worker(app, { pool, concurrency, include: [scenario.tasksModule], hostname: `celery@${hostname()}` });
  let quotes: QuoteServer | null = null;
  const started = await Promise.allSettled([worker.start(), scenario.needs?.quotes ? startQuoteServer() : Promise.resolve(null)]);
  if (started[1].status === 'fulfilled') quotes = started[1].value;
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // Whatever did start is stopped again: a failed start leaves nothing running.
    await Promise.all([worker.stop({ warm: false }).catch(() => undefined), quotes?.close()]);
    await memory.close();
    throw failed.reason;
  }
  const host = hostname();
  return {
    info: {
      kind: 'embedded',
      name: 'embedded',
      hosts: [{ name: host, roles: ['broker', 'backend', 'workers', 'master', ...(quotes ? ['quotes'] : [])] }],
      broker: { kind: 'memory', url: EMBEDDED_URL },
      backend: { kind: 'memory', url: EMBEDDED_URL },
      workers: { pool, concurrency, prefetchMultiplier: app.config.workerPrefetchMultiplier, hosts: [host] },
      serializer: 'json',
    },
    quotesUrl: quotes?.template ?? null,
    bind(other: App) {
      other.configFromObject({ broker_url: EMBEDDED_URL, result_backend: EMBEDDED_URL });
      other.useMemoryTransports(memory);
    },
    async close({ cold = false } = {}) {
      try {
        await Promise.all([worker.stop({ warm: !cold }), quotes?.close()]);
      } finally {
        await memory.close();
      }
    },
  };
}
