/**
 * Celery's task rate limits as written (`Task.rate_limit`, `task_default_rate_limit`, `celery control rate_limit`):
 * "N/s", "N/m", "N/h", or a plain number of tasks per second; empty or 0 means no limit (celery.utils.time.rate).
 */
import { ConfigError } from '../errors.js';

/** A rate limit as a task option or setting takes it. */
export type RateLimit = string | number | null;

/** What a rate limit may look like, for error messages. */
export const RATE_LIMIT_FORMS = '"N/s", "N/m", "N/h" or a number of tasks per second (0 or empty: no limit)';

const PER_SECOND: Record<string, number> = { s: 1, m: 1 / 60, h: 1 / 3600 };

// What Celery's rate() reads: a float() literal (5, 0.5, .5, 1e3; spaces around it) before the slash, then s, m, h or
// nothing — exactly, as RATE_MODIFIER_MAP has them. No minus: a negative rate means nothing.
const FORM = /^\s*\+?((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(?:\/([smh])?)?$/;

/**
 * Tasks per second for a rate limit; 0 for none; null when the value is not a rate limit. Stricter than Celery's
 * rate() where Celery accepts nonsense: a negative, NaN or infinite rate, or true, is refused rather than fed to a
 * token bucket.
 */
export function rateLimitPerSecond(value: unknown): number | null {
  if (value === null || value === undefined || value === '') return 0;
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null;
  if (typeof value !== 'string') return null;
  const m = FORM.exec(value);
  if (!m) return null;
  const n = Number(m[1]) * PER_SECOND[m[2] ?? 's']!;
  return Number.isFinite(n) ? n : null;
}

/** Tasks per second (0: no limit), or a ConfigError naming the field and the bad value. */
export function parseRateLimit(value: unknown, field: string): number {
  const rate = rateLimitPerSecond(value);
  if (rate === null) throw new ConfigError(`expected ${RATE_LIMIT_FORMS}, got ${JSON.stringify(value) ?? String(value)}`, { field });
  return rate;
}
