/**
 * A worker group on a workers host for one run: `lab worker` with the group's queues, pool and concurrency, its
 * node name celery@<HOST>-<group>, the lab's URLs in its environment (never on its command line). It is ready when
 * its log says `celery@<HOST>-<group> ready.` — the worker prints that once it consumes.
 */
import { ServiceError } from '../errors.js';
import type { Provider, ProcessRef } from '../providers/provider.js';
import type { PoolKind } from '../queue/index.js';

export interface GroupProcessSpec {
  host: string;
  /** Ledger key of the process. */
  key: string;
  nodeName: string;
  queues: string[];
  pool: PoolKind;
  concurrency: number;
  acksLate?: boolean;
  prefetchMultiplier?: number;
  /** Task modules to load: built-in names or paths on the host (default: scenarios and the host's own, inventory tasks:). */
  modules?: string[];
  /** A settings module on the host (default: the host's own, inventory config:). */
  config?: string;
  logName: string;
  env: Record<string, string>;
}

/** The `lab worker` command line of a worker on a host (lab's worker service and worker groups alike). */
export function workerArgv(node: string, labRoot: string, o: { modules: string[]; config?: string; queues: string[]; pool: PoolKind; concurrency: number; nodeName: string; acksLate?: boolean; prefetchMultiplier?: number }): string[] {
  const argv = [node, `${labRoot}/bin/lab.js`, 'worker', ...o.modules.flatMap((m) => ['-A', m]), '-c', String(o.concurrency), '-P', o.pool, '-Q', o.queues.join(','), '--hostname', o.nodeName, '--loglevel', 'info'];
  if (o.config !== undefined) argv.push('--config', o.config);
  if (o.acksLate) argv.push('--acks-late');
  if (o.prefetchMultiplier !== undefined) argv.push('--prefetch-multiplier', String(o.prefetchMultiplier));
  return argv;
}

export async function startGroupProcess(provider: Provider, o: GroupProcessSpec, timeoutMs = 30_000): Promise<ProcessRef> {
  const info = provider.host(o.host);
  // A group serves what the host's workers serve: lab's tasks and the user's (a user scenario's groups need them).
  const argv = workerArgv(info.node, info.labRoot, { ...o, modules: o.modules ?? ['scenarios', ...(info.modules?.tasks ?? [])], config: o.config ?? info.modules?.config });
  const ref = await provider.spawn(o.host, argv, { key: o.key, logFile: `${info.workDir}/logs/${o.logName}.log`, env: o.env });
  try {
    await waitReady(provider, ref, o.nodeName, timeoutMs);
  } catch (err) {
    await provider.stop(ref, 1000).catch(() => undefined);
    throw err;
  }
  return ref;
}

async function waitReady(provider: Provider, ref: ProcessRef, nodeName: string, timeoutMs: number): Promise<void> {
  const line = `${nodeName} ready.`;
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(500, delay * 2)) {
    const log = (await provider.readFile(ref.host, ref.logFile, { tailBytes: 8192 }).catch(() => Buffer.alloc(0))).toString('utf8');
    if (log.includes(line)) return;
    const tail = log.trim().split('\n').slice(-12).join('\n');
    if (!(await provider.alive(ref))) {
      throw new ServiceError(`worker group ${nodeName} exited before it was ready\n--- last lines of ${ref.logFile} ---\n${tail}`, { host: ref.host, code: 'E_PROCESS_EXITED' });
    }
    if (Date.now() > deadline) {
      throw new ServiceError(`worker group ${nodeName} was not ready within ${Math.round(timeoutMs / 1000)} s\n--- last lines of ${ref.logFile} ---\n${tail}`, { host: ref.host, code: 'E_NOT_READY' });
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}
