/**
 * The book's currency fan-out: fetch a rate per pair from a quote server (the lab's own, with a per-request
 * latency) — sequentially, concurrently from the master, and as tasks spread over the workers.
 */
import { performance } from 'node:perf_hooks';
import { group } from '../../lab/queue/index.js';
import { DEFAULT_PAIRS, PAIR_PATTERN, quotePrice } from '../../lab/services/quotes.js';
import type { Scenario, ScenarioContext } from '../scenario.js';

export interface CurrencyParams extends Record<string, unknown> {
  pairs: string[];
  latency: number;
}

type Rates = [string, number][];

function template(ctx: ScenarioContext, latency: number): string {
  if (!ctx.quotesUrl) throw new Error('this lab runs no quote server (give a host the "quotes" role)');
  return `${ctx.quotesUrl}&latency_ms=${latency}`;
}

export const currencyScenario: Scenario<CurrencyParams, null, Rates> = {
  name: 'currency',
  summary: 'fetch exchange rates from the lab\'s quote server: sequential vs concurrent vs distributed',
  description:
    'The book\'s currency.py: get_rate(pair) fetches one quote over HTTP. The lab runs its own quote server ' +
    '(the book\'s /d/quotes.csv path; deterministic prices; --latency per request). Compared: sequential calls ' +
    'from the master, concurrent calls from the master, and the fan-out of currency.get_rate tasks to the workers.',
  examples: [
    ['$0 run currency', 'the book\'s six pairs, 200 ms per request'],
    ['$0 run currency EURUSD GBPUSD --latency 50 --repeat 10', 'two pairs, faster quotes, ten repeats'],
  ],
  params: {
    pairs: { type: 'string', describe: 'currency pairs, six letters each (EURUSD…)', default: DEFAULT_PAIRS, positional: true, list: true, pattern: PAIR_PATTERN, patternHint: 'six capital letters, like EURUSD' },
    latency: { type: 'int', describe: 'quote server latency per request, in ms', default: 200, min: 0, max: 60_000, sweep: true },
  },
  modes: ['sequential', 'concurrent', 'distributed'],
  baseline: 'sequential',
  candidate: 'distributed',
  defaults: { repeat: 1, warmup: 0 },
  smoke: { params: { latency: '20' }, warmup: 1 },
  tasksModule: new URL('./tasks.js', import.meta.url),
  app: async () => (await import('./tasks.js')).app,
  embeddedWorker: { pool: 'async', concurrency: 16 },
  needs: { quotes: true },
  prepare: () => null,

  async run(mode, params, _fixture, ctx) {
    const { getRate, getRateLocal } = await import('./tasks.js');
    const url = template(ctx, params.latency);
    const t0 = performance.now();
    const timed = async (pair: string): Promise<[[string, number], number]> => {
      const s = performance.now();
      return [await getRateLocal(pair, url), performance.now() - s];
    };
    let output: Rates;
    let latenciesMs: number[];
    if (mode === 'sequential') {
      output = [];
      latenciesMs = [];
      for (const pair of params.pairs) {
        const [rate, ms] = await timed(pair);
        output.push(rate);
        latenciesMs.push(ms);
      }
    } else if (mode === 'concurrent') {
      const all = await Promise.all(params.pairs.map(timed));
      output = all.map((x) => x[0]);
      latenciesMs = all.map((x) => x[1]);
    } else {
      const sent = performance.now();
      const pending = await group(params.pairs.map((p) => getRate.s(p, url))).applyAsync();
      // Per-task latency: from send until its own result arrived.
      latenciesMs = await Promise.all(pending.results.map((r) => r.get({ timeout: ctx.timeoutS, signal: ctx.signal }).then(() => performance.now() - sent)));
      output = (await pending.get({ timeout: ctx.timeoutS })) as Rates;
    }
    return { output, phases: { total: performance.now() - t0 }, latenciesMs };
  },

  verify(params, _f, output) {
    if (!Array.isArray(output) || output.length !== params.pairs.length) return { ok: false, detail: `expected ${params.pairs.length} rates, got ${Array.isArray(output) ? output.length : typeof output}` };
    for (let i = 0; i < params.pairs.length; i++) {
      const [pair, rate] = output[i] ?? [];
      if (pair !== params.pairs[i]) return { ok: false, detail: `rate ${i} is for ${String(pair)}, expected ${params.pairs[i]}` };
      if (rate !== quotePrice(pair)) return { ok: false, detail: `${pair} rate ${String(rate)} ≠ the quote server's ${quotePrice(pair)}` };
    }
    return { ok: true, detail: `${output.length} rates match the quote server` };
  },
  summarize: (output) => Object.fromEntries(output),
  describe: (summary) => Object.entries(summary as Record<string, number>).map(([pair, rate]) => `${pair} ${rate}`),
};
