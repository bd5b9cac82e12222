/**
 * The processes a benchmark starts (workers, floor consumers, clients) and waits for: output kept for error
 * messages, a stop that ends the whole tree, and "a consumer is attached" as the sign a worker is ready.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { App } from '../lab/queue/index.js';
import { descendants } from './proc-stats.js';

/** The repository (dist/bench/ → ../..): where benchmarks run their processes from. */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const LAB_BIN = join(REPO, 'bin', 'lab.js');
/** This machine's RabbitMQ and Redis, the benchmarks' broker and backend. */
export const AMQP = process.env.LAB_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672//';
export const REDIS = process.env.LAB_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

export interface Proc {
  child: ChildProcess;
  pid: number;
  /** The last 20,000 characters of stdout and stderr together. */
  out: () => string;
  /** Its exit code, once it closed. */
  done: Promise<number | null>;
  /** SIGTERM; after 10 s SIGKILL to it and every process below it (a pool's children). Safe to call twice. */
  stop(): Promise<void>;
}

export function startProcess(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Proc {
  const child = spawn(command, args, { cwd: options.cwd ?? REPO, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out = (out + c).slice(-20_000)));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out = (out + c).slice(-20_000)));
  const done = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  return {
    child,
    pid: child.pid!,
    out: () => out,
    done,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const kids = descendants(child.pid!);
      child.kill('SIGTERM');
      const t = setTimeout(() => {
        for (const p of [child.pid!, ...kids]) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }, 10_000);
      await done;
      clearTimeout(t);
    },
  };
}

export interface LabWorkerOptions {
  /** Default prefork. */
  pool?: string;
  /** Default 2. */
  concurrency?: number;
  /** More `lab worker` flags (-A mergesort, -E, --result-serializer …). */
  args?: readonly string[];
  /** Flags for node itself, before the script (--import …). */
  nodeArgs?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

/** A `lab worker` serving the echo tasks on `queue` (node name `<queue>@host`), logging at WARNING, on AMQP + REDIS. */
export function startLabWorker(queue: string, o: LabWorkerOptions = {}): Proc {
  const args = [...(o.nodeArgs ?? []), LAB_BIN, 'worker', '-A', 'echo', '-Q', queue, '-c', String(o.concurrency ?? 2), '-P', o.pool ?? 'prefork', '--loglevel', 'warning', '-n', `${queue}@%h`, '--broker', AMQP, '--backend', REDIS, ...(o.args ?? [])];
  return startProcess(process.execPath, args, { env: o.env });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Ready = a consumer is attached to the queue (works whatever the worker's log level); declares the queue first. */
export async function consumerAttached(app: App, queue: string, proc: Proc, timeoutMs = 60_000): Promise<void> {
  const broker = await app.getBroker();
  await app.ensureQueue(broker, queue);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (((await broker.stats(queue)).consumers ?? 0) > 0) return;
    if (proc.child.exitCode !== null) throw new Error(`worker exited:\n${proc.out()}`);
    await sleep(50);
  }
  throw new Error(`no consumer on ${queue} within ${timeoutMs} ms:\n${proc.out()}`);
}
