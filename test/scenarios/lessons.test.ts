/**
 * Every lesson on the embedded lab (in-memory broker and backend, worker groups in this process): the verdict
 * holds and the counts and states behind it are right. Then the bad input: no quote server; and the pieces
 * `lab run lessons` is made of.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../../lab/errors.js';
import { runHere } from '../../lab/harness/run-here.js';
import { openEmbeddedLab } from '../../lab/harness/embedded-lab.js';
import type { ModeStats } from '../../lab/report/run-record.js';
import { LESSONS, SCENARIOS, allTaskModules } from '../../scenarios/index.js';
import { judge } from '../../scenarios/lessons/pools.js';
import { lessonLine, selectLessons } from '../../lab/cli/run-lessons.js';
import { LESSON_CASES } from './lesson-cases.js';

for (const c of LESSON_CASES) {
  test(`lesson ${c.scenario.name} on the embedded lab`, { timeout: 60_000 }, async () => {
    const record = await runHere({ scenario: c.scenario, raw: c.raw, repeat: c.repeat, timeout: 20, signal: new AbortController().signal });
    assert.equal(record.lab.kind, 'embedded');
    c.check(record);
  });
}

test('every lesson is a scenario with a lesson line, starts its own workers, and is run by lab run lessons in the chapter order', () => {
  assert.deepEqual(
    LESSONS.map((l) => l.name),
    ['no-worker', 'purge', 'exception', 'retry', 'expires', 'routing', 'pools', 'ignore-result'],
  );
  for (const l of LESSONS) {
    assert.ok(SCENARIOS.includes(l), `${l.name} is a scenario of lab run`);
    assert.equal(l.needs?.workerGroups, true, l.name);
    assert.ok(l.lesson && !l.lesson.includes('\n'), `${l.name} has a one-line lesson`);
  }
  assert.deepEqual(selectLessons(['retry', 'no-worker']).map((l) => l.name), ['no-worker', 'retry'], 'in the chapter order');
  assert.throws(() => selectLessons(['nope']), (err: unknown) => hasCode(err, 'E_USAGE') && /unknown lesson nope \(lessons: no-worker, /.test((err as Error).message));
});

test("-A scenarios loads the lessons' tasks module once", () => {
  const hrefs = allTaskModules().map((u) => u.href);
  assert.equal(new Set(hrefs).size, hrefs.length);
  assert.ok(hrefs.some((h) => h.endsWith('/scenarios/lessons/tasks.js')));
});

test('a lesson that needs the quote server, on a lab without one: one clear line', async () => {
  for (const name of ['routing', 'pools']) {
    const scenario = LESSONS.find((l) => l.name === name)!;
    const err = await runHere({
      scenario,
      raw: name === 'pools' ? { procs: '1', requests: '2' } : {},
      timeout: 5,
      signal: new AbortController().signal,
      openLab: async (s) => ({ ...(await openEmbeddedLab(s)), quotesUrl: null }),
    }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(hasCode(err, 'E_RUN'), `${name}: ${String(err)}`);
    const message = (err as Error).message;
    assert.match(message, /this lab runs no quote server, and the currency fetches need one/);
    assert.ok(!message.includes('\n'), 'one line');
  }
});

function stats(io: Record<string, number>, cpu: Record<string, number>): Record<string, ModeStats> {
  const s = (median: number) => ({ n: 1, min: median, max: median, mean: median, median, stddev: 0, mad: 0, p95: median, p99: median, outliers: [] });
  return Object.fromEntries(Object.keys(io).map((m) => [m, { total: s(io[m]! + cpu[m]!), phases: { io: s(io[m]!), cpu: s(cpu[m]!) } }]));
}

test("the pools rule: threads and async beat prefork on I/O, or the verdict fails saying so; CPU is reported", () => {
  const params = { procs: 2, threads: 8, requests: 8, latency: 100, chunks: 2, size: 1000 };
  const held = judge(params, stats({ prefork: 400, threads: 110, async: 105 }, { prefork: 50, threads: 52, async: 90 }));
  assert.equal(held.ok, true);
  assert.match(held.detail, /threads and async 3\.64× faster than prefork; CPU .*fastest prefork/);
  const broken = judge(params, stats({ prefork: 400, threads: 410, async: 105 }, { prefork: 50, threads: 52, async: 90 }));
  assert.equal(broken.ok, false);
  assert.match(broken.detail, /^rule broken — I\/O .*threads -c 8 410 ms.*not both faster than prefork/);
});

test('lab run lessons prints one line per lesson: verdict, what the book says, what happened', () => {
  const scenario = LESSONS[0]!;
  const record = { verified: true, points: [{ verify: { ok: true, detail: 'it happened' } }] } as never;
  assert.equal(lessonLine({ scenario, happened: true, record }), `✓ no-worker · the book: ${scenario.lesson} · here: it happened`);
  const failed = { verified: false, points: [{ verify: { ok: false, detail: 'it did not' } }] } as never;
  assert.match(lessonLine({ scenario, happened: false, record: failed }), /^✗ no-worker · the book: .* · here: NOT verified: it did not$/);
  assert.match(lessonLine({ scenario, happened: false, error: 'no broker' }), /· here: failed: no broker$/);
});
