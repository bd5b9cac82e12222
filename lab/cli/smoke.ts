/**
 * Smoke mode: `lab run <scenario> --smoke` runs the scenario small (its `smoke` parameters, one measured repeat after
 * the scenario's smoke warm-up, a short timeout); `lab run smoke` runs SMOKE_SCENARIOS that way one after another — the check a project's CI
 * makes on every push that its lab works.
 */
import { UsageError } from '../errors.js';
import type { AnyScenario } from '../../scenarios/scenario.js';

/** The book's three programs and the lessons that show failures reach the caller, retries and purges work. */
export const SMOKE_SCENARIOS = ['echo', 'currency', 'mergesort', 'exception', 'retry', 'purge'] as const;

/** Seconds a smoke run waits for task results, unless the scenario or --timeout says otherwise. */
export const SMOKE_TIMEOUT_S = 30;

export interface RunSettings {
  raw: Record<string, unknown>;
  repeat?: number;
  warmup?: number;
  timeout: number;
}

/**
 * The settings of one run: as given, or with --smoke the scenario's small parameters wherever the command line
 * gave none, one repeat and the scenario's smoke warm-up (0 or 1) unless given, and the short timeout unless --timeout was given.
 */
export function runSettings(s: AnyScenario, given: Omit<RunSettings, 'timeout'> & { timeout?: number }, smoke: boolean, defaultTimeout = 120): RunSettings {
  if (!smoke) return { ...given, timeout: given.timeout ?? defaultTimeout };
  if (!s.smoke) throw new UsageError(`${s.name} has no smoke mode (scenarios with one: ${SMOKE_SCENARIOS.join(', ')})`);
  const raw: Record<string, unknown> = { ...given.raw };
  for (const [k, v] of Object.entries(s.smoke.params)) if (raw[k] === undefined) raw[k] = v;
  return { raw, repeat: given.repeat ?? 1, warmup: given.warmup ?? s.smoke.warmup ?? 0, timeout: given.timeout ?? s.smoke.timeoutS ?? SMOKE_TIMEOUT_S };
}
