import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mad, median, quantile, ratio, summarize, OUTLIER_THRESHOLD } from '../../lab/report/statistics.js';
import type { Summary } from '../../lab/report/run-record.js';

function close(actual: number, expected: number, eps = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);
}

function sum(median: number, madv: number): Summary {
  return { n: 5, min: median, max: median, mean: median, median, stddev: 0, mad: madv, p95: median, p99: median, outliers: [] };
}

describe('summarize', () => {
  it('1..5: textbook values', () => {
    const s = summarize([3, 1, 5, 2, 4]);
    assert.equal(s.n, 5);
    assert.equal(s.min, 1);
    assert.equal(s.max, 5);
    assert.equal(s.mean, 3);
    assert.equal(s.median, 3);
    close(s.stddev, Math.sqrt(2.5)); // Σ(x−3)² = 10, /(n−1) = 2.5
    assert.equal(s.mad, 1); // |x−3| = 2,1,0,1,2 → median 1
    close(s.p95, 4.8); // h = 4·0.95 = 3.8 → 4 + 0.8·(5−4)
    close(s.p99, 4.96); // h = 3.96
    assert.deepEqual(s.outliers, []);
  });

  it('ties: even n, median between two middle values', () => {
    const s = summarize([3, 1, 3, 2, 3, 1]); // sorted 1 1 2 3 3 3
    assert.equal(s.median, 2.5);
    close(s.mean, 13 / 6);
    close(s.stddev, Math.sqrt(29 / 30)); // Σ(x−13/6)² = 174/36, /5
    assert.equal(s.mad, 0.5); // deviations .5 .5 .5 .5 1.5 1.5
    assert.equal(s.p95, 3); // h = 4.75 between two 3s
    assert.equal(s.p99, 3);
    assert.deepEqual(s.outliers, []);
  });

  it('an outlier is flagged by index (in input order), not dropped', () => {
    const xs = [10, 11, 12, 11, 10, 11, 100];
    const s = summarize(xs); // median 11, deviations 1 0 1 0 1 0 89 → MAD 1
    assert.equal(s.median, 11);
    assert.equal(s.mad, 1);
    assert.equal(s.max, 100);
    close(s.mean, 165 / 7);
    close(s.p95, 73.6); // h = 5.7 → 12 + 0.7·88
    close(s.p99, 94.72); // h = 5.94 → 12 + 0.94·88
    assert.deepEqual(s.outliers, [6]); // 89/1 > 14.826
  });

  it("outlier threshold is hyperfine's |x−median|/MAD > 14.826", () => {
    assert.equal(OUTLIER_THRESHOLD, 14.826);
    // median 11, MAD 1: 25 scores 14 (kept), 26 scores 15 (flagged)
    assert.deepEqual(summarize([10, 11, 12, 11, 10, 11, 25]).outliers, []);
    assert.deepEqual(summarize([10, 11, 12, 11, 10, 11, 26]).outliers, [6]);
    // low-side outliers count too
    assert.deepEqual(summarize([-20, 10, 11, 12, 11, 10, 11]).outliers, [0]);
  });

  it('n = 1', () => {
    assert.deepEqual(summarize([42]), { n: 1, min: 42, max: 42, mean: 42, median: 42, stddev: 0, mad: 0, p95: 42, p99: 42, outliers: [] });
  });

  it('n = 2', () => {
    const s = summarize([20, 10]);
    assert.equal(s.median, 15);
    assert.equal(s.mean, 15);
    close(s.stddev, Math.sqrt(50));
    assert.equal(s.mad, 5);
    close(s.p95, 19.5); // h = 0.95
    close(s.p99, 19.9);
    assert.deepEqual(s.outliers, []); // 5/5 = 1
  });

  it('all equal: zero spread, no outliers', () => {
    const s = summarize([7, 7, 7, 7]);
    assert.equal(s.stddev, 0);
    assert.equal(s.mad, 0);
    assert.equal(s.p95, 7);
    assert.deepEqual(s.outliers, []);
  });

  it('MAD = 0: every value that differs from the median is an outlier', () => {
    assert.deepEqual(summarize([5, 5, 5, 5, 9]).outliers, [4]);
    assert.deepEqual(summarize([9, 5, 5, 5, 5, 4]).outliers, [0, 5]);
  });

  it('empty input throws RangeError; so does a non-finite sample', () => {
    assert.throws(() => summarize([]), RangeError);
    assert.throws(() => summarize([1, Number.NaN]), RangeError);
    assert.throws(() => summarize([1, Infinity]), RangeError);
  });

  it('does not reorder its input', () => {
    const xs = [3, 1, 2];
    summarize(xs);
    assert.deepEqual(xs, [3, 1, 2]);
  });

  it('quantile / median / mad helpers', () => {
    assert.equal(quantile([1, 2, 3, 4], 0), 1);
    assert.equal(quantile([1, 2, 3, 4], 1), 4);
    close(quantile([1, 2, 3, 4], 0.25), 1.75);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(mad([1, 1, 2, 2, 4, 6, 9]), 1); // median 2 → deviations 1 1 0 0 2 4 7
    assert.throws(() => quantile([], 0.5), RangeError);
    assert.throws(() => quantile([1], 1.5), RangeError);
  });
});

describe('ratio', () => {
  it('MAD band by interval arithmetic', () => {
    const r = ratio(sum(100, 10), sum(50, 5));
    assert.equal(r.method, 'mad');
    assert.equal(r.ratio, 2);
    close(r.low, 90 / 55);
    close(r.high, 110 / 45);
  });

  it('MAD band is open-ended when the denominator band reaches 0', () => {
    const r = ratio(sum(10, 1), sum(2, 2));
    assert.equal(r.ratio, 5);
    assert.equal(r.high, Infinity);
  });

  it('n = 1 on both sides (MAD 0): the band is the point', () => {
    const r = ratio(summarize([30]), summarize([10]));
    assert.deepEqual([r.ratio, r.low, r.high], [3, 3, 3]);
  });

  it('bootstrap: deterministic, and a constant ratio has a zero-width band', () => {
    const a = [20, 20, 20, 20, 20];
    const b = [10, 10, 10, 10, 10];
    const r = ratio(summarize(a), summarize(b), { samplesA: a, samplesB: b });
    assert.equal(r.method, 'bootstrap');
    assert.equal(r.confidence, 0.95);
    assert.deepEqual([r.ratio, r.low, r.high], [2, 2, 2]);
  });

  it('bootstrap: same inputs give the same band; seed changes it; band contains the point', () => {
    const a = [101, 99, 100, 103, 98, 97, 102];
    const b = [80, 84, 79, 90, 81, 83, 78];
    const r1 = ratio(summarize(a), summarize(b), { samplesA: a, samplesB: b });
    const r2 = ratio(summarize(a), summarize(b), { samplesA: a, samplesB: b });
    const r3 = ratio(summarize(a), summarize(b), { samplesA: a, samplesB: b, seed: 7 });
    assert.deepEqual(r1, r2);
    assert.ok(r1.low <= r1.ratio && r1.ratio <= r1.high);
    assert.ok(r1.low > 1, `clearly separated samples: band ${r1.low}–${r1.high} should exclude 1`);
    assert.ok(r3.low > 1);
    close(r1.ratio, 100 / 81);
  });

  it('bootstrap: overlapping samples give a band containing 1', () => {
    const a = [100, 104, 97, 101, 99, 103];
    const b = [101, 98, 103, 100, 99, 102];
    const r = ratio(summarize(a), summarize(b), { samplesA: a, samplesB: b });
    assert.ok(r.low < 1 && r.high > 1, `${r.low}–${r.high}`);
  });
});
