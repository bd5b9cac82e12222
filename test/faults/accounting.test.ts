import assert from 'node:assert/strict';
import { test } from 'node:test';
import { count, guarantee, parseExecutions } from '../../scenarios/ledger/accounting.js';
import type { Execution, Send } from '../../scenarios/ledger/accounting.js';
import { perWindow } from '../../lab/faults/windows.js';
import type { FaultEvent } from '../../lab/faults/fault.js';

const T = 1_800_000_000_000; // an epoch second boundary
const sends: Send[] = [
  { seq: 0, at: T + 100, ok: true },
  { seq: 1, at: T + 200, ok: true }, // ran twice
  { seq: 2, at: T + 1100, ok: true }, // never ran: lost
  { seq: 3, at: T + 1200, ok: false }, // the client was told: refused, not lost
  { seq: 4, at: T + 1300, ok: false }, // told it failed, but the broker had it and it ran: sent
  { seq: 5, at: T + 1400, ok: true }, // ran 3 s later: late
];
const runs: Execution[] = [
  { seq: 0, worker: 'celery@HOST3', at: T + 150, redelivered: false },
  { seq: 1, worker: 'celery@HOST3', at: T + 1250, redelivered: false },
  { seq: 1, worker: 'celery@HOST5', at: T + 2050, redelivered: true },
  { seq: 4, worker: 'celery@HOST5', at: T + 1350, redelivered: false },
  { seq: 5, worker: 'celery@HOST3', at: T + 4400, redelivered: true },
  { seq: 99, worker: 'celery@HOST3', at: T + 4400, redelivered: false }, // not this run's send: ignored
];

test('sent, refused, done, lost, duplicated, late — in total and per second', () => {
  const c = count(sends, runs, 2000);
  assert.deepEqual(
    { sent: c.sent, refused: c.refused, done: c.done, lost: c.lost, duplicated: c.duplicated, duplicatedTasks: c.duplicatedTasks, late: c.late, redelivered: c.redelivered },
    { sent: 5, refused: 1, done: 4, lost: 1, duplicated: 1, duplicatedTasks: 1, late: 1, redelivered: 2 },
  );
  assert.deepEqual(c.workers, { 'celery@HOST3': 3, 'celery@HOST5': 2 });
  const s = (n: number) => c.perSecond.find((x) => x.second === T / 1000 + n);
  // sent, lost, late by send time; done and duplicated by execution time
  assert.deepEqual(s(0), { second: T / 1000, sent: 2, done: 1, duplicated: 0, lost: 0, late: 0 });
  assert.deepEqual(s(1), { second: T / 1000 + 1, sent: 3, done: 2, duplicated: 0, lost: 1, late: 1 });
  assert.deepEqual(s(2), { second: T / 1000 + 2, sent: 0, done: 0, duplicated: 1, lost: 0, late: 0 });
  assert.deepEqual(s(4), { second: T / 1000 + 4, sent: 0, done: 1, duplicated: 0, lost: 0, late: 0 });
});

test('the verdict is the guarantee the acks give', () => {
  const c = count(sends, runs, 2000);
  const late = guarantee('late', c);
  assert.equal(late.ok, false);
  assert.match(late.detail, /^at-least-once \(acks_late\) BROKEN: 1 accepted task never ran: sent 5, done 4, lost 1, duplicated 1 \(1 tasks\), refused at send 1$/);
  const early = guarantee('early', c);
  assert.equal(early.ok, false);
  assert.match(early.detail, /at-most-once \(early acks\) BROKEN: 1 task ran more than once/);
  // the same run without the duplicate holds at-most-once; without the loss, at-least-once
  assert.equal(guarantee('early', count(sends, runs.filter((r) => !r.redelivered || r.seq !== 1), 2000)).ok, true);
  assert.equal(guarantee('late', count(sends.filter((s) => s.seq !== 2), runs, 2000)).ok, true);
});

test("the workers' lines: this run's only, torn lines skipped", () => {
  const text = [
    JSON.stringify({ run: 'r1', seq: 7, worker: 'celery@HOST3', pid: 1, redelivered: true, at: 5 }),
    JSON.stringify({ run: 'r2', seq: 8, worker: 'celery@HOST3', pid: 1, redelivered: false, at: 6 }),
    '{"run":"r1","seq":9,"wor', // killed mid-write
    '',
  ].join('\n');
  assert.deepEqual(parseExecutions(text, 'r1'), [{ seq: 7, worker: 'celery@HOST3', at: 5, redelivered: true }]);
});

test('counts per fault window: the seconds a fault overlaps; an instant lasts until the service was back', () => {
  const c = count(sends, runs, 2000);
  const ev = (o: Partial<FaultEvent>): FaultEvent => ({ id: 'x', kind: 'pause', text: 't', applied: [], mechanism: 'signals', startedAt: '', healedAt: null, atMs: 0, startMs: 0, endMs: null, ...o });
  const t0 = T;
  const w = perWindow(
    c.perSecond,
    [
      ev({ text: 'pause workers at 1s for 1s', startMs: 1000, endMs: 1900 }),
      ev({ kind: 'kill', text: 'kill workers at 0s', startMs: 500, endMs: 500, recoveryMs: 1700 }),
      ev({ text: 'partition not applied', startMs: 0, endMs: 0, error: 'refused' }),
    ],
    t0,
  );
  assert.equal(w.length, 2);
  assert.deepEqual({ ...w[0], from: undefined, to: undefined }, { fault: 'pause workers at 1s for 1s', from: undefined, to: undefined, sent: 3, done: 2, lost: 1, duplicated: 0, late: 1 });
  assert.equal(w[0]!.from, new Date(T + 1000).toISOString());
  // the kill at 0.5 s, back 1.7 s later: seconds 0..2
  assert.deepEqual([w[1]!.sent, w[1]!.done, w[1]!.duplicated, w[1]!.lost], [5, 3, 1, 1]);
});
