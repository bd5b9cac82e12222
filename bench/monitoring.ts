/**
 * What watching costs a worker (issue 16), in ONE run on the same RabbitMQ + Redis, modes interleaved per repeat:
 *  off     — `lab worker --without-remote-control` (no mailbox, no events);
 *  control — `lab worker` (the default: the worker is in the celery mailbox; no events);
 *  events  — `lab worker -E` with an event receiver bound (what `lab dashboard` or `celery events` do): three events
 *            per task (received, started, succeeded) plus heartbeats.
 * Figure: fan-out of N echo tasks with results (tasks/s, median of the repeats) and each mode's ratio to `off`.
 *
 *   node dist/bench/monitoring.js [--tasks 3000] [--repeats 3]
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { App, EventReceiver, Signature } from '../lab/queue/index.js';
import { AMQP, REDIS, consumerAttached, startLabWorker } from './bench-process.js';

const flag = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const TASKS = flag('tasks', 3000);
const REPEATS = flag('repeats', 3);
const RUN = randomBytes(3).toString('hex');
const MODES = [
  { key: 'off', flags: ['--without-remote-control'], receiver: false },
  { key: 'control', flags: [], receiver: false },
  { key: 'events', flags: ['-E'], receiver: true },
] as const;


async function runMode(app: App, mode: (typeof MODES)[number], repeat: number): Promise<number> {
  const queue = `bench-monitoring-${RUN}-${mode.key}-${repeat}`;
  const broker = await app.getBroker();
  await app.ensureQueue(broker, queue);
  const worker = startLabWorker(queue, { args: mode.flags });
  const receiver = mode.receiver ? new EventReceiver(broker) : null;
  let events = 0;
  try {
    await consumerAttached(app, queue, worker);
    if (receiver) {
      receiver.on('event', () => events++);
      await receiver.start();
    }
    // Warm-up: the pool children load and JIT.
    await (await app.sendGroup(Array.from({ length: 200 }, (_, i) => new Signature(app, 'test.echo', [i])), { queue })).get({ timeout: 120 });
    const t0 = performance.now();
    const g = await app.sendGroup(Array.from({ length: TASKS }, (_, i) => new Signature(app, 'test.echo', [i])), { queue });
    await g.get({ timeout: 600 });
    const rate = TASKS / ((performance.now() - t0) / 1000);
    if (receiver && events < TASKS * 3) throw new Error(`events mode: the receiver got ${events} events for ${TASKS + 200} tasks`);
    return rate;
  } finally {
    await receiver?.stop();
    await worker.stop();
    await broker.purge(queue).catch(() => undefined);
    await broker.deleteQueue(queue).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const app = new App('bench-monitoring', { broker: AMQP, backend: REDIS, config: { result_expires: 600 } });
  const rates = new Map<string, number[]>(MODES.map((m) => [m.key, []]));
  try {
    for (let r = 0; r < REPEATS; r++) {
      for (const mode of MODES) {
        const rate = await runMode(app, mode, r);
        rates.get(mode.key)!.push(rate);
        process.stderr.write(`repeat ${r + 1}/${REPEATS} ${mode.key}: ${rate.toFixed(0)} tasks/s\n`);
      }
    }
  } finally {
    await app.close();
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(rates.get('off')!);
  process.stdout.write(`fan-out of ${TASKS} echo tasks with results, lab worker -c 2 (prefork), ${REPEATS} repeats interleaved; load average ${loadavg()[0].toFixed(1)}\n`);
  process.stdout.write(`mode      tasks/s (median)  runs                     × off\n`);
  for (const m of MODES) {
    const xs = rates.get(m.key)!;
    process.stdout.write(`${m.key.padEnd(9)} ${median(xs).toFixed(0).padStart(16)}  ${xs.map((x) => x.toFixed(0)).join(', ').padEnd(24)} ${(median(xs) / base).toFixed(2)}\n`);
  }
}

await main();
