/**
 * Who is out there: the workers that answer `ping`, with their pool (from `stats`) and the tasks they run (from
 * `active`) — lab and Python workers alike. What `lab status` and `lab dashboard` show of the workers.
 */
import type { MailboxClient, NodeReply } from './mailbox-client.js';

export interface WorkerNode {
  hostname: string;
  /** 'prefork', 'threads', 'async' for lab; Celery's pool class for Python ('celery.concurrency.prefork:TaskPool'). */
  pool: string | null;
  concurrency: number | null;
  pid: number | null;
  /** Tasks processed since the worker started (sum of stats.total). */
  processed: number | null;
  active: { id: string; name: string; timeStart: number | null }[];
}

function merged(replies: NodeReply[]): Record<string, unknown> {
  return Object.assign({}, ...replies) as Record<string, unknown>;
}

function record(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/**
 * `expect`: nodes known to run (the lab's workers): once all answered the ping, others get `settleMs` (default
 * 150 ms) more instead of the rest of the timeout.
 */
export async function surveyWorkers(client: MailboxClient, timeoutMs = 1000, expect?: { nodes: readonly string[]; settleMs?: number }): Promise<WorkerNode[]> {
  const options = { timeoutMs, ...(expect && expect.nodes.length > 0 ? { expect: { nodes: expect.nodes, settleMs: expect.settleMs ?? 150 } } : {}) };
  // ping, stats and active go out at once (one wait, not two in a row); the workers are those that answered the ping
  const ask = (method: string): Promise<Record<string, unknown>> => client.broadcast(method, {}, options).then(merged);
  const [pings, stats, active] = await Promise.all([ask('ping'), ask('stats'), ask('active')]);
  const names = Object.keys(pings).sort();
  return names.map((hostname) => {
    const s = record(stats[hostname]);
    const pool = record(s.pool);
    const impl = typeof pool.implementation === 'string' ? pool.implementation.replace(/^lab:/, '') : null;
    const total = record(s.total);
    const tasks = Array.isArray(active[hostname]) ? (active[hostname] as Record<string, unknown>[]) : [];
    return {
      hostname,
      pool: impl,
      concurrency: typeof pool['max-concurrency'] === 'number' ? pool['max-concurrency'] : null,
      pid: typeof s.pid === 'number' ? s.pid : null,
      processed: Object.keys(s).length ? Object.values(total).reduce<number>((n, v) => n + (typeof v === 'number' ? v : 0), 0) : null,
      active: tasks.map((t) => ({ id: String(t.id), name: String(t.name), timeStart: typeof t.time_start === 'number' ? t.time_start : null })),
    };
  });
}
