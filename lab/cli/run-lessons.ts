/**
 * `lab run lessons`: the chapter's lessons one after another, on the lab `lab run` would use (the lab that is up,
 * driven from this machine because every lesson starts its own workers; else the embedded lab). One line per
 * lesson — verdict, what the book says, what happened here — and a run record for each, as `lab run <lesson>`
 * writes it. Exit 1 if any lesson did not happen, 130 on Ctrl-C. `--json` prints the records instead.
 */
import { LabError, UsageError } from '../errors.js';
import { writeRecord } from '../report/records.js';
import type { RunRecord } from '../report/run-record.js';
import type { AnyScenario } from '../../scenarios/scenario.js';
import type { OpenLab } from '../orchestrator/lab-ref.js';
import { LESSONS } from '../../scenarios/index.js';
import { interruptible } from './interrupt.js';
import { progressLine } from './progress.js';
import { runExitCode } from './run-output.js';
import { labToRunOn } from './run-scenario.js';

export interface RunLessonsArgs {
  hosts?: string;
  embedded: boolean;
  timeout: number;
  label?: string;
  reports: string;
  json: boolean;
  /** Only these lessons, in the chapter's order (default: all). */
  only?: string[];
  junit?: string;
  tap?: boolean;
}

export interface LessonOutcome {
  scenario: AnyScenario;
  /** The lesson ran and its verdict held. */
  happened: boolean;
  record?: RunRecord;
  path?: string;
  /** Why no record: the run failed before anything was measured. */
  error?: string;
}

function describeError(err: unknown): string {
  if (err instanceof LabError) return err.message;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** What happened, in one line: the verdict's detail, or why the lesson could not run. */
export function lessonLine(o: LessonOutcome): string {
  const mark = o.happened ? '✓' : '✗';
  const book = o.scenario.lesson ?? o.scenario.summary;
  let here: string;
  if (o.error !== undefined) here = `failed: ${o.error}`;
  else {
    const r = o.record!;
    const details = [...new Set(r.points.map((p) => p.verify.detail).filter(Boolean))].join(' | ');
    here = r.verified && !r.error ? details : `NOT verified: ${r.error ?? details}`;
  }
  return `${mark} ${o.scenario.name} · the book: ${book} · here: ${here}`;
}

export function selectLessons(only: string[] | undefined): AnyScenario[] {
  if (!only || only.length === 0) return [...LESSONS];
  const unknown = only.filter((n) => !LESSONS.some((l) => l.name === n));
  if (unknown.length > 0) throw new UsageError(`unknown lesson${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (lessons: ${LESSONS.map((l) => l.name).join(', ')})`);
  return LESSONS.filter((l) => only.includes(l.name));
}

export async function runLessonsCommand(a: RunLessonsArgs): Promise<number> {
  const lessons = selectLessons(a.only);
  const { prepareVerdicts, writeVerdicts } = await import('./verdict-output.js');
  const junit = await prepareVerdicts({ junit: a.junit, tap: a.tap ?? false, json: a.json });
  const ref = await labToRunOn(a);
  const [{ runHere }, labMods] = await Promise.all([import('../harness/run-here.js'), ref ? Promise.all([import('../orchestrator/lab-ref.js'), import('../harness/controller-session.js')]) : Promise.resolve(null)]);
  let lab: OpenLab | null = null;
  if (ref && labMods) lab = await labMods[0].openLab(ref);
  const progress = progressLine(!a.json);
  const stop = interruptible(() => progress.note('lab: stopping (Ctrl-C again to quit at once)…'));
  const outcomes: LessonOutcome[] = [];
  // with --tap, stdout carries TAP and the lines go to stderr
  const write = (s: string): void => void (a.tap ? process.stderr : process.stdout).write(s);
  try {
    for (const [i, scenario] of lessons.entries()) {
      if (stop.signal.aborted) break;
      progress.update(i, lessons.length, `lesson ${i + 1}/${lessons.length}: ${scenario.name}`);
      let outcome: LessonOutcome;
      try {
        const record = await runHere({
          scenario,
          raw: {},
          timeout: a.timeout,
          label: a.label,
          signal: stop.signal,
          openLab: lab && labMods ? () => labMods[1].openControllerSession(lab!) : undefined,
        });
        const path = await writeRecord(a.reports, record);
        outcome = { scenario, record, path, happened: runExitCode(record, stop.signal.aborted) === 0 };
      } catch (err) {
        if (stop.signal.aborted) break;
        outcome = { scenario, happened: false, error: describeError(err) };
      }
      outcomes.push(outcome);
      progress.clear();
      if (!a.json) write(`${lessonLine(outcome)}\n`);
      else if (outcome.error !== undefined) process.stderr.write(`lab: ${scenario.name}: ${outcome.error}\n`);
    }
  } finally {
    progress.clear();
    stop.dispose();
    await lab?.provider.close();
  }
  const happened = outcomes.filter((o) => o.happened).length;
  if (junit !== undefined || a.tap) await writeVerdicts(outcomes.map((o) => ({ scenario: o.scenario.name, record: o.record, error: o.error })), junit, a.tap ?? false);
  if (a.json) write(`${JSON.stringify(outcomes.flatMap((o) => (o.record ? [o.record] : [])), null, 2)}\n`);
  else {
    const where = outcomes.find((o) => o.record)?.record?.lab;
    const labText = where ? (where.kind === 'embedded' ? 'the embedded lab' : `${where.kind} lab "${where.name}"`) : 'no lab';
    write(`${happened} of ${lessons.length} lessons happened on ${labText}${stop.signal.aborted ? ' (stopped)' : ''} · run records in ${a.reports}\n`);
  }
  if (stop.signal.aborted) return 130;
  return happened === lessons.length ? 0 : 1;
}
