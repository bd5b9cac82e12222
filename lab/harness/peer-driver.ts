/**
 * A peer's driver for one run: `python3 peers/<impl>/driver.py --serve`, started once on the machine the harness
 * runs on (the lab's master host, or this machine against a services session) and kept for every sample — one
 * Python start-up per run instead of one per sample (echo's 500 repeats would otherwise spend most of their time
 * starting interpreters). Its start-up (interpreter, imports, until its ready line) is measured separately.
 *
 * Protocol (peers/common/labpeer.py): the driver prints {"ready": true, "info": {…}}; then for each request line
 * {"scenario", "mode", "params"} on its stdin it answers one line — {"output", "total_ms", "phases",
 * "latencies_ms"?, "info"} or {"error": "…"}. The times are the driver's own clock around its work. The lab's URLs
 * and secrets reach it through its environment only.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { InterruptedError, LabError, RunError } from '../errors.js';

export interface DriverSample {
  output: unknown;
  totalMs: number;
  phases: Record<string, number>;
  latenciesMs?: number[];
  info: Record<string, unknown>;
}

export interface DriverOptions {
  impl: string;
  python: string;
  /** peers/<impl>/driver.py */
  script: string;
  cwd: string;
  /** The driver's whole environment (PATH and the like included). */
  env: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
}

type Waiter = { resolve: (line: Record<string, unknown>) => void; reject: (err: Error) => void };

export class PeerDriver {
  /** From spawn to the ready line, ms. */
  startMs = 0;
  /** What the driver said about itself when ready (versions, serializer…). */
  info: Record<string, unknown> = {};
  private readonly child: ChildProcess;
  private chunks: Buffer[] = [];
  private stderrTail = '';
  private waiter: Waiter | null = null;
  private exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exitedP: Promise<void>;
  private busy = false;

  private constructor(private readonly o: DriverOptions) {
    this.child = spawn(o.python, [o.script, '--serve'], { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (b: Buffer) => this.onData(b));
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-4000);
    });
    this.child.stdin!.on('error', () => undefined); // a driver that died is reported by its exit
    this.exitedP = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.exited = { code: null, signal: null };
        this.stderrTail += `\n${err.message}`;
        this.fail(this.died());
        resolve();
      });
      this.child.once('close', (code, signal) => {
        this.exited = { code, signal };
        this.fail(this.died());
        resolve();
      });
    });
  }

  /** Start the driver and wait for its ready line. */
  static async start(o: DriverOptions): Promise<PeerDriver> {
    const t0 = performance.now();
    const d = new PeerDriver(o);
    try {
      const line = await d.next(o.startTimeoutMs ?? 60_000, 'its ready line');
      if (line.ready !== true) throw d.protocol(`its first line is not {"ready": true}: ${JSON.stringify(line).slice(0, 200)}`);
      d.info = (line.info as Record<string, unknown>) ?? {};
      d.startMs = performance.now() - t0;
      return d;
    } catch (err) {
      await d.close();
      throw err;
    }
  }

  /** The command line, for the record and messages. */
  get command(): string {
    return `${this.o.python} ${this.o.script} --serve`;
  }

  /** One sample. A failed sample (the driver's {"error"}) rejects with its message; the driver stays usable. */
  async run(scenario: string, mode: string, params: Record<string, unknown>, timeoutMs: number, signal?: AbortSignal): Promise<DriverSample> {
    if (this.busy) throw new TypeError('one sample at a time');
    if (this.exited) throw this.died();
    this.busy = true;
    const onAbort = (): void => {
      this.fail(new InterruptedError());
      this.child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted) throw new InterruptedError();
      const answer = this.next(timeoutMs, `the ${scenario} ${mode} sample`);
      this.child.stdin!.write(`${JSON.stringify({ scenario, mode, params })}\n`);
      const line = await answer;
      if (typeof line.error === 'string') throw new RunError(`${this.o.impl}: ${line.error}`);
      if (typeof line.total_ms !== 'number' || !line.phases || typeof line.phases !== 'object') throw this.protocol(`a sample line without total_ms and phases: ${JSON.stringify(line).slice(0, 200)}`);
      const sample: DriverSample = { output: line.output, totalMs: line.total_ms, phases: line.phases as Record<string, number>, info: (line.info as Record<string, unknown>) ?? {} };
      if (Array.isArray(line.latencies_ms)) sample.latenciesMs = line.latencies_ms as number[];
      return sample;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.busy = false;
    }
  }

  /** End its input (it exits at end of input); SIGKILL if it has not gone within `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    if (!this.exited) {
      this.child.stdin!.end();
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([this.exitedP.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
      clearTimeout(timer);
      if (late) {
        this.child.kill('SIGKILL');
        await this.exitedP;
      }
    }
  }

  private next(timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        this.child.kill('SIGKILL');
        reject(new RunError(`${this.o.impl}: no answer from its driver within ${Math.round(timeoutMs / 1000)} s (waiting for ${what}); it was stopped${this.tail()}`));
      }, timeoutMs);
      this.waiter = {
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.drain();
      if (this.waiter && this.exited) this.fail(this.died());
    });
  }

  private onData(b: Buffer): void {
    this.chunks.push(b);
    if (b.includes(10)) this.drain();
  }

  /** Hand complete lines to the waiter; a line that is not a JSON object is noise (a library printing) and skipped. */
  private drain(): void {
    while (this.waiter) {
      const buf = Buffer.concat(this.chunks);
      const nl = buf.indexOf(10);
      if (nl < 0) {
        this.chunks = [buf];
        return;
      }
      const text = buf.subarray(0, nl).toString('utf8').trim();
      this.chunks = [buf.subarray(nl + 1)];
      if (!text.startsWith('{')) continue;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      const w = this.waiter;
      this.waiter = null;
      w.resolve(line);
    }
  }

  private fail(err: Error): void {
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  private died(): LabError {
    const how = this.exited?.signal ? `was killed (${this.exited.signal})` : `exited (code ${String(this.exited?.code)})`;
    return new LabError('E_PEER_DRIVER', `${this.o.impl}: its driver (${this.command}) ${how}${this.tail()}`);
  }

  private protocol(what: string): LabError {
    return new LabError('E_PEER_DRIVER', `${this.o.impl}: its driver broke the protocol: ${what}`);
  }

  private tail(): string {
    const t = this.stderrTail.trim().split('\n').slice(-8).join('\n');
    return t ? `\n--- its last lines on stderr ---\n${t}` : '';
  }
}
