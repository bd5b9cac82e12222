/**
 * Long-running peer processes for integration tests: a `lab worker` or a Python Celery worker started as a child,
 * ready once a line matches, stopped by its pid (SIGTERM, then SIGKILL for it and any children it left).
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import { LAB_BIN, REPO_ROOT, alive, childrenOf } from './cli.js';
import { needs } from './prereq.js';

const execFileP = promisify(execFile);

/** Debian's Python with python3-celery (the `python3` on PATH may be another interpreter without Celery). */
export const PYTHON = process.env.LAB_TEST_PYTHON ?? '/usr/bin/python3';
export const INTEROP_FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'interop');

export const pythonCelery = (t: TestContext): Promise<boolean> =>
  needs(t, 'Python Celery 5.2 (python3-celery)', async () => {
    try {
      const { stdout } = await execFileP(PYTHON, ['-c', 'import celery, redis, amqp; print(celery.__version__)'], { timeout: 30_000 });
      return stdout.trim().startsWith('5.') ? null : `${PYTHON} has Celery ${stdout.trim()}, not 5.x`;
    } catch (err) {
      const why = (err as { stderr?: string }).stderr?.trim().split('\n').pop() ?? (err as Error).message;
      return `${PYTHON} -c "import celery, redis" failed (${why}); install: apt-get install -y python3-celery python3-redis`;
    }
  });

/** Debian's Celery, RQ and Pyro4 for the peer implementations (lab run --impl celery,rq,pyro). */
export const pythonPeers = (t: TestContext): Promise<boolean> =>
  needs(t, 'Python Celery, RQ and Pyro4 (python3-celery python3-rq python3-pyro4)', async () => {
    try {
      await execFileP(PYTHON, ['-c', 'import celery, rq, redis, Pyro4'], { timeout: 30_000 });
      return null;
    } catch (err) {
      return `${PYTHON} -c "import celery, rq, redis, Pyro4" failed (${(err as Error).message.split('\n')[0]}); install: apt-get install -y python3-celery python3-rq python3-pyro4`;
    }
  });

export interface Peer {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything the process wrote so far (stdout and stderr interleaved as they arrived). */
  output(): string;
  stderr(): string;
  /** Resolves when a line matching `re` has been written (after `from` characters of output). */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, wait up to graceMs, then SIGKILL it and the children it had. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startPeer(name: string, command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Peer {
  const child = spawn(command, args, { cwd: options.cwd ?? REPO_ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  let all = '';
  let err = '';
  const listeners = new Set<() => void>();
  const onData = (isErr: boolean) => (c: string) => {
    all += c;
    if (isErr) err += c;
    for (const l of [...listeners]) l();
  };
  child.stdout!.setEncoding('utf8').on('data', onData(false));
  child.stderr!.setEncoding('utf8').on('data', onData(true));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const l of [...listeners]) l();
  });
  const peer: Peer = {
    name,
    child,
    pid,
    output: () => all,
    stderr: () => err,
    exited,
    waitFor(re, timeoutMs = 30_000, from = 0) {
      return new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(all.slice(from));
          if (m) {
            cleanup();
            resolve(m[0]);
          } else if (done) {
            cleanup();
            reject(new Error(`${name} exited before printing ${re}:\n${all.slice(-4000)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name}: no ${re} within ${timeoutMs} ms:\n${all.slice(-4000)}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async stop(graceMs = 10_000) {
      if (!done) {
        const kids = childrenOf(pid);
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // gone already
        }
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
        clearTimeout(timer);
        if (timedOut) {
          for (const p of [pid, ...kids, ...childrenOf(pid)]) {
            try {
              process.kill(p, 'SIGKILL');
            } catch {
              // gone
            }
          }
        }
        // Pool children must not outlive their parent.
        for (const p of kids) {
          for (let i = 0; i < 50 && alive(p); i++) await new Promise((r) => setTimeout(r, 100));
          if (alive(p)) {
            try {
              process.kill(p, 'SIGKILL');
            } catch {
              // gone
            }
          }
        }
      }
      return exited;
    },
  };
  return peer;
}

/** `lab worker -A <module> -Q <queue> …` as a child process; resolves once it logs "ready.". */
export async function startLabWorker(options: { module: string; queue: string; broker: string; backend: string | null; concurrency?: number; pool?: string; env?: NodeJS.ProcessEnv; extra?: string[] }): Promise<Peer> {
  const args = [LAB_BIN, 'worker', '-A', options.module, '-Q', options.queue, '-c', String(options.concurrency ?? 2), '-P', options.pool ?? 'prefork', '--loglevel', 'info', '--broker', options.broker];
  if (options.backend) args.push('--backend', options.backend);
  args.push(...(options.extra ?? []));
  const peer = startPeer(`lab worker (${options.queue})`, process.execPath, args, { env: options.env });
  await peer.waitFor(/ ready\. /, 30_000);
  return peer;
}

/** `python3 -m celery -A pytasks worker -Q <queue> -c N` in the fixture directory; resolves once it logs "ready.". */
export async function startPythonWorker(options: { queue: string; concurrency?: number; env?: NodeJS.ProcessEnv; name?: string; module?: string }): Promise<Peer> {
  const args = ['-m', 'celery', '-A', options.module ?? 'pytasks', 'worker', '-Q', options.queue, '-c', String(options.concurrency ?? 2), '--loglevel', 'info', '--without-mingle', '--without-gossip', '--without-heartbeat', '-n', options.name ?? `py-${options.queue}@%h`];
  const peer = startPeer(`Python Celery worker (${options.queue})`, PYTHON, args, { cwd: INTEROP_FIXTURES, env: { PYTHONDONTWRITEBYTECODE: '1', ...options.env } });
  await peer.waitFor(/celery@?\S* ready\.|\bready\.$/m, 60_000);
  return peer;
}

/** Run test/fixtures/interop/client.py <scenario> [params]; resolves with the JSON line it prints. */
export async function pythonClient<T = Record<string, unknown>>(scenario: string, params: unknown[] | Record<string, unknown> = [], env: NodeJS.ProcessEnv = {}): Promise<T> {
  try {
    const { stdout } = await execFileP(PYTHON, ['client.py', scenario, JSON.stringify(params)], {
      cwd: INTEROP_FIXTURES,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...env },
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const last = stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(last) as T;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`python client.py ${scenario} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}
