/** One message there and back: the round-trip latency of the queue (each repeat is one call). */
import { performance } from 'node:perf_hooks';
import type { Scenario } from '../scenario.js';

export interface EchoParams extends Record<string, unknown> {
  message: string;
}

export const echoScenario: Scenario<EchoParams, null, unknown> = {
  name: 'echo',
  summary: 'round trip of one message through broker, worker and result backend (latency)',
  description:
    'The book\'s first Celery program: test.echo(message) returns its argument. Each repeat is one call; local ' +
    'calls the function in this process, distributed sends it with delay() and waits with get(). Reported: the ' +
    'round-trip latency distribution (median, p95, p99).',
  examples: [
    ['$0 run echo', 'echo "Python rocks!" 500 times'],
    ['$0 run echo "hello lab" --repeat 2000 --warmup 200', 'a longer latency measurement'],
  ],
  params: {
    message: { type: 'string', describe: 'the message to echo', default: 'Python rocks!', positional: true },
  },
  modes: ['local', 'distributed'],
  baseline: 'local',
  candidate: 'distributed',
  defaults: { repeat: 500, warmup: 50 },
  tasksModule: new URL('./tasks.js', import.meta.url),
  app: async () => (await import('./tasks.js')).app,
  prepare: () => null,

  async run(mode, params, _fixture, ctx) {
    const { echo } = await import('./tasks.js');
    const t0 = performance.now();
    const output = mode === 'local' ? echo.fn(params.message) : await (await echo.delay(params.message)).get({ timeout: ctx.timeoutS, signal: ctx.signal });
    return { output, phases: { 'round-trip': performance.now() - t0 } };
  },

  verify: (params, _f, output) =>
    output === params.message ? { ok: true, detail: 'reply equals the message' } : { ok: false, detail: `reply ${JSON.stringify(output)} ≠ ${JSON.stringify(params.message)}` },
  summarize: (output) => output,
  describe: (summary) => [String(summary)],
};
