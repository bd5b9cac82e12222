/**
 * `lab run smoke`: SMOKE_SCENARIOS in smoke mode, one after another, on the lab `lab run` would use — one line per
 * scenario (✓/✗, how long, what was verified or why not), a run record each, then one line for all. Exit 1 if any
 * scenario failed, 130 on Ctrl-C. `--junit FILE` / `--tap`: a test case per scenario × implementation × mode × point.
 */
import { performance } from 'node:perf_hooks';
import { LabError } from '../errors.js';
import { findScenario } from '../../scenarios/index.js';
import type { VerdictRun } from '../report/verdicts.js';
import { runScenarioCommand } from './run-scenario.js';
import { SMOKE_SCENARIOS, runSettings } from './smoke.js';
import { prepareVerdicts, writeVerdicts } from './verdict-output.js';

export interface RunSmokeArgs {
  hosts?: string;
  embedded: boolean;
  timeout?: number;
  label?: string;
  reports: string;
  json: boolean;
  junit?: string;
  tap: boolean;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** One line for a scenario's smoke run. */
export function smokeLine(run: VerdictRun, ms: number): string {
  const r = run.record;
  if (!r) return `✗ ${run.scenario} (${seconds(ms)}) · failed: ${run.error ?? 'no record'}`;
  const ok = r.verified && !r.error;
  const details = [...new Set(r.points.map((p) => p.verify.detail).filter(Boolean))].join(' | ');
  return `${ok ? '✓' : '✗'} ${run.scenario} (${seconds(ms)}) · ${ok ? details : `NOT verified: ${r.error ?? details}`}`;
}

export async function runSmokeCommand(a: RunSmokeArgs): Promise<number> {
  const junit = await prepareVerdicts(a);
  const out = (s: string): void => void (a.tap || a.json ? process.stderr : process.stdout).write(s);
  const runs: VerdictRun[] = [];
  const t0 = performance.now();
  let interrupted = false;
  for (const name of SMOKE_SCENARIOS) {
    const scenario = findScenario(name)!;
    const settings = runSettings(scenario, { raw: {}, timeout: a.timeout }, true);
    const run: VerdictRun = { scenario: name };
    const started = performance.now();
    let code: number;
    try {
      code = await runScenarioCommand({ scenario, ...settings, hosts: a.hosts, embedded: a.embedded, label: a.label, reports: a.reports, json: false, summary: 'none', onRecord: (r) => (run.record = r) });
    } catch (err) {
      // A mistake in how lab run was called or where (exit 2) stops everything; a failed scenario is its line.
      if (err instanceof LabError && err.exitCode === 2) throw err;
      code = 1;
      run.error = err instanceof Error ? err.message : String(err);
    }
    if (!run.record && run.error === undefined) run.error = code === 130 ? 'stopped' : 'the run failed before it recorded anything (its error is above)';
    runs.push(run);
    out(`${smokeLine(run, performance.now() - started)}\n`);
    if (code === 130) {
      interrupted = true;
      break;
    }
  }
  const passed = runs.filter((r) => r.record && r.record.verified && !r.record.error).length;
  const where = runs.find((r) => r.record)?.record?.lab;
  const labText = where ? (where.kind === 'embedded' ? 'the embedded lab' : `${where.kind} lab "${where.name}"`) : 'no lab';
  out(`smoke: ${passed} of ${SMOKE_SCENARIOS.length} passed on ${labText} in ${seconds(performance.now() - t0)}${interrupted ? ' (stopped)' : ''} · run records in ${a.reports}\n`);
  await writeVerdicts(runs, junit, a.tap);
  if (a.json) process.stdout.write(`${JSON.stringify(runs.flatMap((r) => (r.record ? [r.record] : [])), null, 2)}\n`);
  if (interrupted) return 130;
  return passed === SMOKE_SCENARIOS.length ? 0 : 1;
}
