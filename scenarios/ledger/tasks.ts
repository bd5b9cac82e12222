/**
 * The ledger scenario's tasks: each execution appends one line — run, seq, worker, redelivered, time — to an
 * append-only file in a folder of the workers host it ran on (its work directory: the file survives a SIGKILL of
 * the worker, since the kernel has the write; a broker or backend restart; a partition). Written after the task's
 * work, so a task killed mid-way did not run. One task per acks mode, acks_late set on the task as Celery allows.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { App, currentTask } from '../../lab/queue/index.js';

export const app = new App('ledger', { include: [new URL('./tasks.js', import.meta.url)] });

/** The file a run's executions go to, in a workers host's folder. */
export function ledgerFile(dir: string, run: string): string {
  return join(dir, `ledger-${run}.jsonl`);
}

async function record(run: string, seq: number, dirs: Record<string, string>, workMs: number): Promise<number> {
  if (workMs > 0) await sleep(workMs);
  const { hostname, deliveryInfo } = currentTask().request;
  // celery@HOST3 (or celery@HOST3-<group>) → HOST3; the embedded lab gives one folder for all ('*')
  const host = hostname.replace(/^[^@]*@/, '');
  const dir = dirs[host] ?? dirs[host.replace(/-[^-]*$/, '')] ?? dirs['*'];
  if (dir === undefined) throw new Error(`no ledger folder for worker ${hostname} (have ${Object.keys(dirs).join(', ')})`);
  // one write of one line with O_APPEND: lines of concurrent workers never interleave
  appendFileSync(ledgerFile(dir, run), `${JSON.stringify({ run, seq, worker: hostname, pid: process.pid, redelivered: deliveryInfo.redelivered, at: Date.now() })}\n`);
  return seq;
}

export const recordEarly = app.task('ledger.record', record, { params: ['run', 'seq', 'dirs', 'work_ms'], acksLate: false });
export const recordLate = app.task('ledger.record_late', record, { params: ['run', 'seq', 'dirs', 'work_ms'], acksLate: true });
