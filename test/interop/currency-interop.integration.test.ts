/**
 * Tier 4: the book's currency.py, run by Python Celery against lab workers — `get_rate.delay(pair)`, the pair only, as
 * the book calls it. A lab worker started with LAB_QUOTES_URL (as lab starts its workers) answers from that quote
 * server; one without it fails with a TypeError that names LAB_QUOTES_URL, and Python raises it.
 */
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { App } from '../../lab/queue/index.js';
import { startQuoteServer } from '../../lab/services/quote-server.js';
import type { QuoteServer } from '../../lab/services/quote-server.js';
import { quotePrice } from '../../lab/services/quotes.js';
import { RABBITMQ_URL, REDIS_URL, rabbitmq, redis } from '../support/prereq.js';
import { INTEROP_FIXTURES, PYTHON, pythonCelery, startLabWorker } from '../support/peers.js';
import type { Peer } from '../support/peers.js';

const execFileP = promisify(execFile);
const RUN = randomBytes(4).toString('hex');
const WITH_QUOTES = `lab-interop-currency-${RUN}`;
const WITHOUT_QUOTES = `lab-interop-currency-noquotes-${RUN}`;
const PAIRS = ['EURUSD', 'CHFUSD', 'GBPUSD', 'GBPEUR', 'CADUSD', 'CADEUR'];

let server: QuoteServer | null = null;
const workers: Peer[] = [];

function pyEnv(queue: string): NodeJS.ProcessEnv {
  return { ...process.env, PYTHONDONTWRITEBYTECODE: '1', LAB_INTEROP_BROKER: RABBITMQ_URL, LAB_INTEROP_BACKEND: REDIS_URL, LAB_INTEROP_QUEUE: queue, LAB_INTEROP_RESULT_EXPIRES: '120' };
}

/** `python3 currency.py PAIR…` in the fixture folder, as the book runs it on HOST4. */
async function bookCurrency(queue: string, pairs: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(PYTHON, ['currency.py', ...pairs], { cwd: INTEROP_FIXTURES, env: pyEnv(queue), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let started: Promise<void> | null = null;
async function ready(t: TestContext): Promise<boolean> {
  if (!(await rabbitmq(t)) || !(await redis(t)) || !(await pythonCelery(t))) return false;
  started ??= (async () => {
    server = await startQuoteServer({ latencyMs: 0 });
    // The lab's built-in currency tasks (-A currency), as lab starts them on a workers host: LAB_QUOTES_URL set.
    const base = { module: 'currency', broker: RABBITMQ_URL, backend: REDIS_URL, pool: 'async' };
    workers.push(await startLabWorker({ ...base, queue: WITH_QUOTES, env: { LAB_QUOTES_URL: server.template } }));
    workers.push(await startLabWorker({ ...base, queue: WITHOUT_QUOTES, env: { LAB_QUOTES_URL: '' } }));
  })();
  await started;
  return true;
}

test.after(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await server?.close();
  if (started) {
    const app = new App('currency-interop-cleanup', { broker: RABBITMQ_URL, backend: null });
    const broker = await app.getBroker().catch(() => null);
    for (const q of [WITH_QUOTES, WITHOUT_QUOTES]) await broker?.deleteQueue(q).catch(() => undefined);
    await app.close();
  }
});

test("the book's currency.py: get_rate.delay(pair) from Python Celery, served by a lab worker from the lab's quote server", async (t) => {
  if (!(await ready(t))) return;
  const r = await bookCurrency(WITH_QUOTES, PAIRS);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(
    lines.map((l) => l.split(' ')[0]),
    PAIRS,
  );
  for (const line of lines) {
    const [pair, rate] = line.split(' ');
    assert.equal(Number(rate), quotePrice(pair), line);
  }
});

test('a lab worker that knows no quote server: Python raises the TypeError, which names LAB_QUOTES_URL', async (t) => {
  if (!(await ready(t))) return;
  const r = await bookCurrency(WITHOUT_QUOTES, ['EURUSD']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^TypeError: get_rate\(\) has no quote server: this worker's LAB_QUOTES_URL is not set/m);
  assert.equal(r.stdout, '');
});
