/** `lab report --check`: run the checks (lab/report/check.ts), print one line each, exit 1 if any failed. */
import { LESSONS, SCENARIOS } from '../../scenarios/index.js';
import { runChecks } from '../report/check.js';

export interface ReportCheckArgs {
  dir: string;
  max: string[];
  baseline?: string;
  maxRegression?: string;
  json: boolean;
}

export async function reportCheck(a: ReportCheckArgs, write: (s: string) => void = (s) => void process.stdout.write(s)): Promise<number> {
  const known = new Map([...SCENARIOS, ...LESSONS].map((s) => [s.name, s.modes] as const));
  const result = await runChecks({ dir: a.dir, max: a.max, baseline: a.baseline, maxRegression: a.maxRegression, known });
  if (a.json) write(`${JSON.stringify({ schema: 'lab.check/1', ...result }, null, 2)}\n`);
  else {
    for (const l of result.lines) write(`${l.text}\n`);
    const unjudged = result.lines.filter((l) => l.unjudged).length;
    write(`${result.failed === 0 ? 'checks passed' : `${result.failed} check${result.failed === 1 ? '' : 's'} failed`}: ${result.lines.length - unjudged - result.failed} ok${unjudged ? `, ${unjudged} not judged (too few repeats)` : ''}\n`);
  }
  return result.failed === 0 ? 0 : 1;
}
