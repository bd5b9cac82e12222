/**
 * One message there and back: the round-trip latency of the queue (each repeat is one call). With --tasks N each
 * repeat sends N echoes at once and waits for all of them: the fan-out, whose figure is tasks/s (N / time).
 */
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { group } from '../../lab/queue/index.js';
import type { ModeResult, Scenario } from '../scenario.js';

export interface EchoParams extends Record<string, unknown> {
  message: string;
  /** Echoes per repeat (default 1). */
  tasks?: number;
}

function verifyEcho(params: EchoParams, output: unknown): { ok: boolean; detail: string } {
  const n = params.tasks ?? 1;
  if (n === 1) return output === params.message ? { ok: true, detail: 'reply equals the message' } : { ok: false, detail: `reply ${JSON.stringify(output)} ≠ ${JSON.stringify(params.message)}` };
  if (!Array.isArray(output) || output.length !== n) return { ok: false, detail: `expected ${n} replies, got ${Array.isArray(output) ? output.length : typeof output}` };
  const bad = output.findIndex((x) => x !== params.message);
  return bad < 0 ? { ok: true, detail: `${n} replies equal the message` } : { ok: false, detail: `reply ${bad} ${JSON.stringify(output[bad])} ≠ ${JSON.stringify(params.message)}` };
}

export const echoScenario: Scenario<EchoParams, null, unknown> = {
  name: 'echo',
  summary: 'round trip of one message through broker, worker and result backend (latency)',
  description:
    'The book\'s first Celery program: test.echo(message) returns its argument. Each repeat is one call; local ' +
    'calls the function in this process, distributed sends it with delay() and waits with get(). Reported: the ' +
    'round-trip latency distribution (median, p95, p99). --tasks N sends N echoes at once per repeat and waits ' +
    'for all (a fan-out: tasks/s = N / time).',
  examples: [
    ['$0 run echo', 'echo "Python rocks!" 500 times'],
    ['$0 run echo "hello lab" --repeat 2000 --warmup 200', 'a longer latency measurement'],
    ['$0 run echo --tasks 2000 --repeat 5 --warmup 1', 'fan-out: 2,000 echoes in flight per repeat'],
  ],
  params: {
    message: { type: 'string', describe: 'the message to echo', default: 'Python rocks!', positional: true },
    tasks: { type: 'int', describe: 'echoes per repeat, sent at once (a fan-out when > 1)', default: 1, min: 1, max: 1_000_000, sweep: true },
  },
  modes: ['local', 'distributed'],
  baseline: 'local',
  candidate: 'distributed',
  defaults: { repeat: 500, warmup: 50 },
  smoke: { params: { tasks: '20' }, warmup: 1 },
  tasksModule: new URL('./tasks.js', import.meta.url),
  app: async () => (await import('./tasks.js')).app,
  prepare: () => null,

  async run(mode, params, _fixture, ctx): Promise<ModeResult<unknown>> {
    const { echo } = await import('./tasks.js');
    const n = params.tasks ?? 1;
    const t0 = performance.now();
    if (n === 1) {
      const output = mode === 'local' ? echo.fn(params.message) : await (await echo.delay(params.message)).get({ timeout: ctx.timeoutS, signal: ctx.signal });
      return { output, phases: { 'round-trip': performance.now() - t0 } };
    }
    if (mode === 'local') return { output: Array.from({ length: n }, () => echo.fn(params.message)), phases: { total: performance.now() - t0 } };
    const pending = await group(Array.from({ length: n }, () => echo.s(params.message))).applyAsync();
    const sent = performance.now();
    // Each of the N results listens for the abort: on a signal of the fan-out's own, so N listeners are expected.
    const fanout = new AbortController();
    setMaxListeners(0, fanout.signal);
    const stop = (): void => fanout.abort(ctx.signal.reason);
    ctx.signal.addEventListener('abort', stop, { once: true });
    try {
      const output = await pending.get({ timeout: ctx.timeoutS, signal: fanout.signal });
      return { output, phases: { publish: sent - t0, wait: performance.now() - sent } };
    } finally {
      ctx.signal.removeEventListener('abort', stop);
    }
  },

  verify: (params, _f, output) => verifyEcho(params, output),
  summarize: (output) => (Array.isArray(output) ? { replies: output.length, each: output[0] } : output),
  describe: (summary) => [summary && typeof summary === 'object' ? `${String((summary as { replies: unknown }).replies)} replies, each ${JSON.stringify((summary as { each: unknown }).each)}` : String(summary)],
};
