/**
 * Summary statistics for benchmark samples (milliseconds, but nothing here cares about the unit).
 *
 * Definitions, so numbers in reports can be checked by hand:
 * - median: the middle value of the sorted samples, or the mean of the two middle values when n is even.
 * - stddev: the *sample* standard deviation (divides by n − 1); 0 when n = 1.
 * - mad: the unscaled median absolute deviation, median(|xᵢ − median|). Multiply by 1.4826 for a σ estimate.
 * - p95 / p99: linear interpolation between closest ranks — Hyndman & Fan type 7, the default of NumPy
 *   (`method='linear'`), R (`type=7`) and Excel's PERCENTILE.INC: with the samples sorted ascending as
 *   x[0] ≤ … ≤ x[n−1], h = (n − 1)·p, and P(p) = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). P(0.5) is the median.
 * - outliers: indices (into the samples as given, not sorted) whose modified z-score, as hyperfine computes it,
 *   |xᵢ − median|/MAD, exceeds 14.826 (OUTLIER_THRESHOLD). When MAD = 0 (more than half the samples are equal
 *   to the median) the score of a sample equal to the median is 0 and that of any other sample is infinite: every
 *   sample that differs from the median is flagged. Outliers are flagged, never dropped.
 */
import type { Summary } from './run-record.js';

export type { Summary };

/**
 * A sample is an outlier when |x − median| / MAD exceeds this — hyperfine's rule (its modified z-score is the
 * unscaled (x − median)/MAD, and 14.826 MADs ≈ 10 σ for normal data).
 */
export const OUTLIER_THRESHOLD = 14.826;

function sortedCopy(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** Type-7 quantile of an ascending array (see module comment). `p` in [0, 1]. */
export function quantileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty sample');
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile p must be in [0, 1], got ${p}`);
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const frac = h - lo;
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return frac === 0 ? a : a + frac * (b - a);
}

/** Type-7 quantile of unsorted samples. */
export function quantile(samples: readonly number[], p: number): number {
  return quantileSorted(sortedCopy(samples), p);
}

export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

/** Unscaled median absolute deviation. */
export function mad(samples: readonly number[], center = median(samples)): number {
  return median(samples.map((x) => Math.abs(x - center)));
}

/** Indices of samples whose modified z-score exceeds OUTLIER_THRESHOLD (see module comment for MAD = 0). */
function outlierIndices(samples: readonly number[], center = median(samples), spread = mad(samples, center)): number[] {
  const out: number[] = [];
  samples.forEach((x, i) => {
    const dev = x - center;
    if (dev === 0) return;
    const score = spread === 0 ? Infinity : Math.abs(dev / spread);
    if (score > OUTLIER_THRESHOLD) out.push(i);
  });
  return out;
}

/**
 * Summarize samples. Throws RangeError on an empty array or a non-finite sample (a NaN would poison every figure
 * silently). n = 1 works: min = max = mean = median = p95 = p99 = the sample, stddev = mad = 0, no outliers.
 */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('cannot summarize an empty sample');
  samples.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new RangeError(`sample ${i} is not a finite number: ${String(x)}`);
  });
  const n = samples.length;
  const sorted = sortedCopy(samples);
  const mean = samples.reduce((s, x) => s + x, 0) / n;
  const ss = samples.reduce((s, x) => s + (x - mean) * (x - mean), 0);
  const stddev = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  const med = quantileSorted(sorted, 0.5);
  const m = mad(samples, med);
  return {
    n,
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
    mean,
    median: med,
    stddev,
    mad: m,
    p95: quantileSorted(sorted, 0.95),
    p99: quantileSorted(sorted, 0.99),
    outliers: outlierIndices(samples, med, m),
  };
}

/** A ratio of medians with an uncertainty band [low, high] around it. */
export interface Ratio {
  /** a.median / b.median */
  ratio: number;
  low: number;
  high: number;
  /** How the band was obtained: 'mad' (interval arithmetic on median ± MAD) or 'bootstrap' (percentile CI). */
  method: 'mad' | 'bootstrap';
  /** For 'bootstrap': the confidence level of the band (e.g. 0.95). */
  confidence?: number;
}

export interface RatioOptions {
  /** The raw samples behind `a` and `b`. When both are given (and non-empty) the band is bootstrapped. */
  samplesA?: readonly number[];
  samplesB?: readonly number[];
  /** Bootstrap resamples (default 2000). */
  resamples?: number;
  /** Seed of the deterministic PRNG (default 1): the same inputs always give the same band. */
  seed?: number;
  /** Two-sided confidence level of the bootstrap band (default 0.95). */
  confidence?: number;
}

function div(x: number, y: number): number {
  if (y > 0) return x / y;
  if (y === 0) return x === 0 ? 1 : Infinity;
  return NaN;
}

/** mulberry32: small, fast, deterministic; good enough for resampling indices. */
function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function resampledMedian(xs: readonly number[], rnd: () => number, scratch: number[]): number {
  const n = xs.length;
  for (let i = 0; i < n; i++) scratch[i] = xs[Math.floor(rnd() * n)] as number;
  scratch.sort((p, q) => p - q);
  return quantileSorted(scratch, 0.5);
}

/**
 * The ratio of medians a.median / b.median with an uncertainty band. (compare() calls ratio(B, A) for "B/A";
 * the table's speed-up is ratio(baseline, candidate).)
 *
 * Without samples — the 'mad' band: interval arithmetic on median ± MAD of each side,
 *   low = (a.median − a.mad) / (b.median + b.mad),  high = (a.median + a.mad) / (b.median − b.mad)
 * (low clamped at 0, high = ∞ when b.median − b.mad ≤ 0). It describes the spread of single runs, not the
 * uncertainty of the medians, so it is deliberately conservative; with n = 1 (MAD 0) it collapses to the point.
 *
 * With samples — the 'bootstrap' band: `resamples` times, resample each side with replacement (seeded PRNG,
 * deterministic), take median(A*) / median(B*); the band is the central `confidence` interval (type-7 quantiles)
 * of those ratios. This is a percentile-bootstrap confidence interval of the ratio of medians.
 */
export function ratio(a: Summary, b: Summary, opts: RatioOptions = {}): Ratio {
  const point = div(a.median, b.median);
  const sa = opts.samplesA;
  const sb = opts.samplesB;
  if (sa && sb && sa.length > 0 && sb.length > 0) {
    const resamples = opts.resamples ?? 2000;
    const confidence = opts.confidence ?? 0.95;
    if (!(resamples >= 1) || !Number.isInteger(resamples)) throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
    if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
    const rnd = seededRandom(opts.seed ?? 1);
    const bufA = new Array<number>(sa.length);
    const bufB = new Array<number>(sb.length);
    const ratios: number[] = [];
    for (let i = 0; i < resamples; i++) {
      const ma = resampledMedian(sa, rnd, bufA);
      const mb = resampledMedian(sb, rnd, bufB);
      ratios.push(div(ma, mb));
    }
    ratios.sort((p, q) => p - q);
    const alpha = (1 - confidence) / 2;
    return {
      ratio: point,
      low: Math.min(point, quantileSorted(ratios, alpha)),
      high: Math.max(point, quantileSorted(ratios, 1 - alpha)),
      method: 'bootstrap',
      confidence,
    };
  }
  const low = div(Math.max(0, a.median - a.mad), b.median + b.mad);
  const den = b.median - b.mad;
  const high = den > 0 ? (a.median + a.mad) / den : Infinity;
  return { ratio: point, low: Math.min(point, low), high: Math.max(point, high), method: 'mad' };
}
