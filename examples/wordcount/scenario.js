// A scenario of your own: `lab run ./examples/wordcount/scenario.js` (README "Your own code"). It counts the words
// of a generated text split into chunks — in this process (local) and as one task per chunk on the workers
// (distributed) — and checks both agree with the text it made. The interface is scenarios/scenario.ts's.
import { performance } from 'node:perf_hooks';
import { group } from 'lab/queue';
import { app, count, countWords } from './tasks.js';

const WORDS = ['celery', 'rabbit', 'redis', 'worker', 'broker', 'task', 'queue', 'result', 'lab', 'chord'];

/** Merge per-chunk counts into one. */
function merge(parts) {
  const total = {};
  for (const part of parts) for (const [w, n] of Object.entries(part)) total[w] = (total[w] ?? 0) + n;
  return total;
}

export default {
  name: 'wordcount',
  summary: 'count the words of a text in chunks: in this process vs one task per chunk on the workers',
  description:
    'A generated text of --chunks × --words words is split into chunks; local counts each chunk here, ' +
    'distributed sends one wordcount.count task per chunk (a group) and merges the answers. Verified: the ' +
    'counts add up to what the text was made of.',
  examples: [['$0 run ./examples/wordcount/scenario.js --chunks 4,16', 'sweep the number of chunks']],
  params: {
    chunks: { type: 'int', describe: 'chunks of text, one task each', default: 8, min: 1, max: 1000, sweep: true },
    words: { type: 'int', describe: 'words per chunk', default: 20000, min: 1 },
  },
  modes: ['local', 'distributed'],
  defaults: { repeat: 5, warmup: 1 },
  tasksModule: new URL('./tasks.js', import.meta.url),
  app: () => app,

  // The input for one parameter point: the chunks and how many times each word was written (deterministic).
  prepare({ chunks, words }) {
    const expected = {};
    const texts = [];
    for (let c = 0; c < chunks; c++) {
      const out = [];
      for (let i = 0; i < words; i++) {
        const w = WORDS[(c * 7 + i * 3 + (i >> 4)) % WORDS.length];
        out.push(w);
        expected[w] = (expected[w] ?? 0) + 1;
      }
      texts.push(out.join(' '));
    }
    return { texts, expected };
  },

  async run(mode, _params, fixture, ctx) {
    const t0 = performance.now();
    if (mode === 'local') {
      const output = merge(fixture.texts.map(countWords));
      return { output, phases: { count: performance.now() - t0 } };
    }
    const result = await group(fixture.texts.map((t) => count.s(t))).delay();
    const sent = performance.now();
    const parts = await result.get({ timeout: ctx.timeoutS, signal: ctx.signal });
    const got = performance.now();
    const output = merge(parts);
    return { output, phases: { send: sent - t0, 'count (tasks)': got - sent, merge: performance.now() - got } };
  },

  verify(_params, fixture, output) {
    for (const [w, n] of Object.entries(fixture.expected)) {
      if (output[w] !== n) return { ok: false, detail: `${w}: counted ${output[w] ?? 0}, written ${n}` };
    }
    const words = Object.values(output).reduce((a, b) => a + b, 0);
    return { ok: true, detail: `${words} words, ${Object.keys(output).length} distinct` };
  },

  summarize: (output) => Object.entries(output).sort((a, b) => b[1] - a[1]).slice(0, 3),
  describe: (top) => top.map(([w, n]) => `${w} ${n}`),
};
