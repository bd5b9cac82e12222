/**
 * One case per lesson: small parameters (the suite stays fast) and what must be true of its run record — the
 * verdict, and the counts and states behind it. Run on the embedded lab (lessons.test.ts) and on RabbitMQ + Redis
 * (lessons.integration.test.ts).
 */
import assert from 'node:assert/strict';
import type { RunRecord } from '../../lab/report/run-record.js';
import type { AnyScenario } from '../../scenarios/scenario.js';
import { LESSONS } from '../../scenarios/index.js';
import type { NoWorkerOutput } from '../../scenarios/lessons/no-worker.js';
import type { ExceptionOutput } from '../../scenarios/lessons/exception.js';
import type { RetryOutput } from '../../scenarios/lessons/retry.js';
import type { ExpiresOutput } from '../../scenarios/lessons/expires.js';
import type { PurgeOutput } from '../../scenarios/lessons/purge.js';
import type { RoutingOutput } from '../../scenarios/lessons/routing.js';
import type { PoolsOutput } from '../../scenarios/lessons/pools.js';
import type { IgnoreResultOutput } from '../../scenarios/lessons/ignore-result.js';


export interface LessonCase {
  scenario: AnyScenario;
  raw: Record<string, unknown>;
  repeat?: number;
  check(record: RunRecord): void;
}

function lesson(name: string): AnyScenario {
  const s = LESSONS.find((l) => l.name === name);
  if (!s) throw new Error(`no lesson ${name}`);
  return s;
}

function out<T>(r: RunRecord): T {
  return r.points[0]!.output as T;
}

function verified(r: RunRecord): void {
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.verified, true, r.points[0]?.verify.detail);
  assert.equal(r.lab.workers.concurrency, 0, 'a lesson starts its own workers: the lab starts no default worker');
}

export const LESSON_CASES: LessonCase[] = [
  {
    scenario: lesson('no-worker'),
    raw: { wait: '0.3' },
    check(r) {
      verified(r);
      const o = out<NoWorkerOutput>(r);
      assert.equal(o.timedOut, true);
      assert.ok(o.timeoutMs >= 290 && o.timeoutMs < 5000, `timed out after ${o.timeoutMs} ms`);
      assert.equal(o.waiting, 1, 'the request waited in the broker');
      assert.equal(o.result, 'Python rocks!');
      assert.match(o.ranOn!, /^celery@.+-late$/);
      assert.deepEqual(o.workers, [o.ranOn]);
      assert.deepEqual(Object.keys(r.points[0]!.stats.lesson!.phases), ['get timeout', 'worker start', 'start → result']);
    },
  },
  {
    scenario: lesson('purge'),
    raw: { n: '12' },
    check(r) {
      verified(r);
      const o = out<PurgeOutput>(r);
      assert.equal(o.waiting, 12);
      assert.equal(o.purged, 12, 'purge reports the n waiting tasks');
      assert.equal(o.control, 'control');
      assert.equal(o.ran, 0, 'none of the purged tasks ran');
    },
  },
  {
    scenario: lesson('exception'),
    raw: {},
    check(r) {
      verified(r);
      const o = out<ExceptionOutput>(r);
      assert.deepEqual({ type: o.raised?.type, message: o.raised?.message, module: o.raised?.module }, { type: 'Exception', message: 'Booo!', module: 'builtins' });
      assert.match(o.raised!.traceback!, /^Exception: Booo!\n\s+at /, 'the remote traceback came back');
      assert.equal(o.state, 'FAILURE');
      assert.equal(o.next, 'still serving');
      assert.equal(o.nextOn, o.failedOn, 'the same worker served the next task');
      const lines = lesson('exception').describe!(o);
      assert.equal(lines[0], `the book: ${lesson('exception').lesson}`);
      assert.match(lines[1]!, /^Traceback \(remote, from celery@.+-booo\):$/);
      assert.equal(lines.filter((l) => l === 'Exception: Booo!').length, 1, 'the exception is printed once, last, as Python does');
    },
  },
  {
    scenario: lesson('retry'),
    raw: { k: '2', countdown: '0.1' },
    check(r) {
      verified(r);
      const o = out<RetryOutput>(r);
      assert.equal(o.final.attempts, 3);
      assert.equal(o.final.id, o.sentId, 'the retries kept the id');
      assert.equal(o.state, 'SUCCESS');
      assert.ok(o.totalMs >= 190, `two countdowns of 0.1 s took ${o.totalMs} ms`);
    },
  },
  {
    scenario: lesson('expires'),
    raw: { expires: '0.3' },
    check(r) {
      verified(r);
      const o = out<ExpiresOutput>(r);
      assert.equal(o.control, 'control');
      const [inBroker, held] = o.tasks;
      assert.deepEqual([inBroker!.waited, inBroker!.stored, inBroker!.callerSaw], ['broker', null, 'timeout'], 'the broker dropped it (message TTL): no result, the caller timed out');
      assert.deepEqual([held!.waited, held!.stored, held!.callerSaw], ['worker', 'REVOKED', 'revoked'], 'the worker stored REVOKED');
    },
  },
  {
    scenario: lesson('routing'),
    raw: { n: '3', size: '3000', latency: '10', procs: '1', threads: '4', pairs: ['EURUSD', 'GBPUSD'] },
    check(r) {
      verified(r);
      const o = out<RoutingOutput>(r);
      const [sorts, rates] = o.tasks;
      assert.equal(sorts!.task, 'mergesort.sort');
      assert.match(sorts!.queue, /^lab\.lesson\.routing\.[0-9a-f]{8}\.cpu$/, 'routed by the config module');
      assert.deepEqual(Object.keys(sorts!.ranOn), o.groups.cpu.nodes);
      assert.equal(Object.values(sorts!.ranOn).reduce((a, b) => a + b, 0), 3);
      assert.match(rates!.queue, /\.io$/);
      assert.deepEqual(Object.keys(rates!.ranOn), o.groups.io.nodes);
      assert.match(o.groups.cpu.nodes[0]!, /-cpu$/);
      assert.match(o.groups.io.nodes[0]!, /-io$/);
      assert.equal(o.sortedOk && o.ratesOk, true);
    },
  },
  {
    scenario: lesson('pools'),
    raw: { procs: '2', threads: '8', requests: '8', latency: '80', chunks: '2', size: '20000' },
    check(r) {
      verified(r);
      const p = r.points[0]!;
      assert.deepEqual(Object.keys(p.stats), ['prefork', 'async', 'threads']);
      for (const mode of ['prefork', 'async', 'threads']) assert.deepEqual(Object.keys(p.stats[mode]!.phases), ['io', 'cpu']);
      // The rule judged: threads and async hold all 8 requests in flight, prefork -c 2 holds 2 (4 waves of 80 ms).
      assert.ok(p.stats.threads!.phases.io!.median < p.stats.prefork!.phases.io!.median);
      assert.ok(p.stats.async!.phases.io!.median < p.stats.prefork!.phases.io!.median);
      assert.ok(p.stats.prefork!.phases.io!.median >= 4 * 80 - 5, 'prefork -c 2 needed four waves');
      assert.match(p.verify.detail, /I\/O \(8 requests of 80 ms\).*faster than prefork; CPU .*reported, not judged/);
      const o = out<PoolsOutput>(r);
      assert.deepEqual(o.table.map((f) => `${f.pool} ${f.concurrency}`), ['prefork 2', 'async 8', 'threads 8'], 'the one table has every pool');
      assert.equal(o.ratesOk && o.sortedOk, true);
    },
  },
  {
    scenario: lesson('ignore-result'),
    raw: { n: '100' },
    check(r) {
      verified(r);
      const byMode = Object.fromEntries(r.points[0]!.samples.map((s) => [s.mode, s]));
      assert.ok(byMode['with-result'] && byMode['ignore-result']);
      const o = out<IgnoreResultOutput>(r);
      assert.equal(o.mode, 'ignore-result');
      assert.equal(o.keys, 0, 'no result key for any ignore_result task');
      assert.equal(o.leftInQueue, 0, 'every task reached the worker, which stopped warm: all ran');
      assert.equal(o.last, 'last');
      assert.match(r.points[0]!.verify.detail, /throughput \d+ tasks\/s with ignore_result vs \d+ tasks\/s with results/);
    },
  },
];


