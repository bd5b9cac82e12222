import test from 'node:test';
import assert from 'node:assert/strict';
import { currencyScenario } from '../../scenarios/currency/currency.js';
import { echoScenario } from '../../scenarios/echo/echo.js';
import { quotePrice } from '../../lab/services/quotes.js';
import { startQuoteServer } from '../../lab/services/quote-server.js';
import { getRateLocal } from '../../scenarios/currency/tasks.js';

test('quotes are deterministic prices in [0.5, 2)', () => {
  assert.equal(quotePrice('EURUSD'), quotePrice('EURUSD'));
  assert.notEqual(quotePrice('EURUSD'), quotePrice('GBPUSD'));
  for (const p of ['EURUSD', 'CHFUSD', 'AAAAAA', 'ZZZZZZ']) assert.ok(quotePrice(p) >= 0.5 && quotePrice(p) < 2);
});

test("the quote server answers the book's path after its latency, and refuses a bad pair", async (t) => {
  const server = await startQuoteServer({ latencyMs: 60 });
  t.after(() => server.close());
  const t0 = Date.now();
  assert.deepEqual(await getRateLocal('EURUSD', server.template), ['EURUSD', quotePrice('EURUSD')]);
  assert.ok(Date.now() - t0 >= 55);
  await assert.rejects(getRateLocal('EUR', server.template), /HTTP 400/);
  assert.deepEqual(await getRateLocal('GBPUSD', `${server.template}&latency_ms=0`), ['GBPUSD', quotePrice('GBPUSD')]);
});

test('currency verify checks each pair and rate in order', () => {
  const params = { pairs: ['EURUSD', 'GBPUSD'], latency: 0 };
  const good: [string, number][] = params.pairs.map((p) => [p, quotePrice(p)]);
  assert.equal(currencyScenario.verify(params, null, good, 'distributed').ok, true);
  assert.equal(currencyScenario.verify(params, null, [good[1], good[0]], 'distributed').ok, false);
  assert.equal(currencyScenario.verify(params, null, [good[0], ['GBPUSD', 1.2345]], 'distributed').ok, false);
  assert.equal(currencyScenario.verify(params, null, [good[0]], 'distributed').ok, false);
});

test('echo verify compares the reply with the message', () => {
  assert.equal(echoScenario.verify({ message: 'hi' }, null, 'hi', 'local').ok, true);
  assert.equal(echoScenario.verify({ message: 'hi' }, null, 'ho', 'local').ok, false);
});
