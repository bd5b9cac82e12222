/**
 * The ledger scenario: count every task through faults. It sends --tasks tasks at --rate per second to the lab's
 * workers; each execution appends one line (task seq, worker, redelivered, time) to a file in the work directory
 * of the workers host it ran on — a place none of the faults under test touches (a killed worker's write is the
 * kernel's; the broker and the backend are elsewhere; a partition cuts links, not disks). The controller reads
 * those files through the provider until every accepted task ran (or nothing new came for --settle seconds) and
 * reports sent / done / lost / duplicated / late, per second and (with `lab run --faults`) per fault window.
 *
 * Verdict: the guarantee the acks give — at-least-once with --acks late (lost = 0; duplicates counted, allowed),
 * at-most-once with --acks early (no task runs twice; what a killed worker held is lost). Broken → exit 1.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../../lab/errors.js';
import type { ModeResult, Scenario } from '../scenario.js';
import { count, guarantee, parseExecutions } from './accounting.js';
import type { Acks, LedgerCounts, Send } from './accounting.js';

export interface LedgerParams extends Record<string, unknown> {
  tasks: number;
  rate: number;
  work: number;
  acks: string;
  late: number;
  settle: number;
}

export interface LedgerOutput extends LedgerCounts {
  acks: Acks;
  run: string;
  /** Where the executions were recorded: host → file. */
  where: Record<string, string>;
  guarantee: string;
}

/** Sends in flight at once at most (a broker that is down makes them wait, then fail). */
const MAX_IN_FLIGHT = 2000;

export const ledgerScenario: Scenario<LedgerParams, null, LedgerOutput> = {
  name: 'ledger',
  summary: 'count every task through faults: sent, done, lost, duplicated, late — and the guarantee the acks give',
  description:
    'Sends --tasks tasks at --rate per second; every execution is recorded (task, worker, redelivered, time) in an ' +
    'append-only file in the work directory of the workers host that ran it, which survives the faults (a killed ' +
    'worker, a restarted broker or backend, a partition). Reported: sent (accepted by the broker), refused (the send ' +
    'failed and the client was told), done, lost (accepted, never ran), duplicated (executions beyond the first), ' +
    'late (ran more than --late ms after it was sent), per second and, with --faults, per fault window. Verdict: ' +
    'at-least-once with --acks late (0 lost), at-most-once with --acks early (0 duplicated); broken → exit 1.',
  examples: [
    ['$0 run ledger --tasks 2000 --faults "kill workers@HOST3 at 2s"', 'acks_late through a SIGKILL of the workers: 0 lost, duplicates counted'],
    ['$0 run ledger --acks early --faults "kill workers@HOST3 at 2s"', 'early acks: what the killed workers held is lost, none runs twice'],
    ['$0 run ledger --tasks 10000 --rate 500 --faults faults.txt', 'a schedule from a file'],
  ],
  params: {
    tasks: { type: 'int', describe: 'tasks to send', default: 2000, min: 1, max: 10_000_000 },
    rate: { type: 'int', describe: 'tasks sent per second (the run lasts tasks / rate seconds, time for the faults)', default: 200, min: 1, max: 1_000_000 },
    work: { type: 'int', describe: 'ms each task works before it records itself (tasks in flight when a fault hits)', default: 5, min: 0, max: 600_000 },
    acks: { type: 'string', describe: 'late (acks_late: ack after the task ran) or early (ack on receipt)', default: 'late', pattern: /^(late|early)$/, patternHint: 'late or early' },
    late: { type: 'int', describe: 'a task done more than this many ms after it was sent counts as late', default: 2000, min: 1 },
    settle: { type: 'int', describe: 'seconds to wait with no new execution before the tasks not seen are counted lost', default: 30, min: 1 },
  },
  modes: ['ledger'],
  baseline: 'ledger',
  candidate: 'ledger',
  defaults: { repeat: 1, warmup: 0 },
  tasksModule: new URL('./tasks.js', import.meta.url),
  app: async () => (await import('./tasks.js')).app,
  // reads the workers hosts' files through the provider: only the controller holds it
  driver: 'controller',
  prepare: () => null,

  async run(_mode, p, _fixture, ctx): Promise<ModeResult<LedgerOutput>> {
    const files = ctx.files;
    if (!files) throw new UsageError('the ledger scenario reads the files the workers write on their hosts, which only lab on the controller can: run it with lab run, not --in-lab');
    const { ledgerFile } = await import('./tasks.js');
    const acks = p.acks as Acks;
    const run = randomBytes(4).toString('hex');
    const name = acks === 'late' ? 'ledger.record_late' : 'ledger.record';
    const dirs = { ...files.dirs };
    const where = Object.fromEntries(Object.entries(dirs).map(([h, d]) => [h, ledgerFile(d, run)]));
    const sends: Send[] = [];
    const t0 = performance.now();
    const start = Date.now();
    let inFlight = 0;
    let freed: (() => void) | null = null;
    const pending = new Set<Promise<void>>();
    for (let i = 0; i < p.tasks; i++) {
      if (ctx.signal.aborted) break;
      const due = start + (i * 1000) / p.rate;
      if (due - Date.now() > 1) await sleep(due - Date.now(), undefined, { signal: ctx.signal }).catch(() => undefined);
      while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((r) => (freed = r));
      const s: Send = { seq: i, at: Date.now(), ok: false };
      sends.push(s);
      inFlight++;
      const sent = ctx.app
        .sendTask(name, [run, i, dirs, p.work], {}, { queue: ctx.queue })
        .then(
          () => void (s.ok = true),
          () => undefined,
        )
        .finally(() => {
          inFlight--;
          freed?.();
          freed = null;
        });
      pending.add(sent);
      void sent.finally(() => pending.delete(sent));
    }
    await Promise.all([...pending]);
    const sentMs = performance.now() - t0;
    // Wait for the executions: until every accepted task ran and nothing new came for a moment (a redelivery may
    // still run a task again), or nothing new came for --settle s (the rest are lost), or the run's timeout.
    const accepted = new Set(sends.filter((s) => s.ok).map((s) => s.seq));
    const deadline = Date.now() + ctx.timeoutS * 1000;
    let lines = -1;
    let lastNew = Date.now();
    let text = '';
    for (;;) {
      const texts = await Promise.all(Object.entries(where).map(async ([host, path]) => (host === '*' ? files.read('', path) : files.read(host, path)).then((b) => b.toString('utf8'))));
      text = texts.join('\n');
      const n = text.split('\n').length;
      if (n !== lines) {
        lines = n;
        lastNew = Date.now();
      }
      const seen = new Set(parseExecutions(text, run).map((e) => e.seq));
      const all = [...accepted].every((s) => seen.has(s));
      const quiet = Date.now() - lastNew;
      if ((all && quiet >= 2000) || quiet >= p.settle * 1000 || Date.now() > deadline || ctx.signal.aborted) break;
      await sleep(300);
    }
    const counts = count(sends, parseExecutions(text, run), p.late);
    const g = guarantee(acks, counts);
    return { output: { ...counts, acks, run, where, guarantee: g.detail }, phases: { send: sentMs, settle: performance.now() - t0 - sentMs } };
  },

  verify: (_p, _f, output) => {
    const g = guarantee(output.acks, output);
    return { ok: g.ok, detail: g.detail };
  },
  summarize: (output) => output,
  describe: (summary) => {
    const o = summary as LedgerOutput;
    const workers = Object.entries(o.workers).map(([w, n]) => `${w} ${n}`).join(', ');
    return [
      `${o.guarantee}`,
      `late (> the --late threshold after sending) ${o.late}; redelivered executions ${o.redelivered}; by worker: ${workers || 'none'}`,
      `executions recorded in ${Object.entries(o.where).map(([h, f]) => (h === '*' ? f : `${h}:${f}`)).join(', ')}`,
    ];
  },
};
