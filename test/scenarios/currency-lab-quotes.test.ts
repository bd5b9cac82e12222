/**
 * The book's get_rate.delay('EURUSD') — the pair only — on a lab worker: the quote server comes from the worker's
 * environment (LAB_QUOTES_URL, which lab sets for its workers and the embedded lab). An explicit url_tmplt still wins.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { MemoryTransports, Worker } from '../../lab/queue/index.js';
import { startQuoteServer } from '../../lab/services/quote-server.js';
import { quotePrice } from '../../lab/services/quotes.js';
import { app, getRate, labQuotesUrl } from '../../scenarios/currency/tasks.js';

function withEnv(t: { after: (fn: () => void) => void }, value: string | undefined): void {
  const saved = process.env.LAB_QUOTES_URL;
  if (value === undefined) delete process.env.LAB_QUOTES_URL;
  else process.env.LAB_QUOTES_URL = value;
  t.after(() => {
    if (saved === undefined) delete process.env.LAB_QUOTES_URL;
    else process.env.LAB_QUOTES_URL = saved;
  });
}

test('get_rate(pair) asks the quote server LAB_QUOTES_URL names', async (t) => {
  const server = await startQuoteServer({ latencyMs: 0 });
  t.after(() => server.close());
  withEnv(t, server.template);
  assert.deepEqual(await getRate.fn('EURUSD'), ['EURUSD', quotePrice('EURUSD')]);
});

test('an explicit url_tmplt wins over LAB_QUOTES_URL', async (t) => {
  const server = await startQuoteServer({ latencyMs: 0 });
  t.after(() => server.close());
  withEnv(t, 'http://127.0.0.1:1/d/quotes.csv?s={}=X&f=p');
  assert.deepEqual(await getRate.fn('GBPUSD', server.template), ['GBPUSD', quotePrice('GBPUSD')]);
});

test('no quote server known: a TypeError that names LAB_QUOTES_URL (an empty one is unset)', async (t) => {
  withEnv(t, undefined);
  for (const value of [undefined, '', '  ']) {
    if (value === undefined) delete process.env.LAB_QUOTES_URL;
    else process.env.LAB_QUOTES_URL = value;
    assert.throws(
      () => getRate.fn('EURUSD'),
      (e: unknown) => e instanceof TypeError && /^get_rate\(\) has no quote server: this worker's LAB_QUOTES_URL is not set .* pass url_tmplt/.test(e.message),
    );
    assert.equal(labQuotesUrl(), null);
  }
});

test("the book's call through a worker: getRate.delay('EURUSD') on a threads pool started with LAB_QUOTES_URL set", async (t) => {
  const server = await startQuoteServer({ latencyMs: 0 });
  t.after(() => server.close());
  withEnv(t, server.template); // before the pool starts: its threads copy the environment then
  const hub = new MemoryTransports();
  app.configFromObject({ broker_url: 'memory://', result_backend: 'memory://' });
  app.useMemoryTransports(hub);
  const worker = new Worker(app, { pool: 'threads', concurrency: 2, include: [new URL('../../scenarios/currency/tasks.js', import.meta.url)] });
  await worker.start();
  t.after(async () => {
    await worker.stop({ warm: false });
    await hub.close();
  });
  const results = await Promise.all(['EURUSD', 'CHFUSD'].map((pair) => getRate.delay(pair)));
  assert.deepEqual(await Promise.all(results.map((r) => r.get({ timeout: 20 }))), [
    ['EURUSD', quotePrice('EURUSD')],
    ['CHFUSD', quotePrice('CHFUSD')],
  ]);
});
