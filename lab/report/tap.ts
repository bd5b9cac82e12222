/**
 * TAP version 13 of lab's verdicts (verdicts.ts): one test point per implementation × mode × point of each scenario,
 * `ok`/`not ok`, its time as a directive-free comment, and for a failure a YAML block with the message.
 */
import { stringify } from '../vendor/yaml.js';
import type { VerdictCase } from './verdicts.js';

/** A test point's description is one line, and '#' would start a directive: both are escaped as TAP says. */
export function tapDescription(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/#/g, '\\#').replace(/[\r\n]+/g, ' ');
}

export function renderTap(cases: readonly VerdictCase[]): string {
  const out: string[] = ['TAP version 13', `1..${cases.length}`];
  cases.forEach((c, i) => {
    out.push(`${c.ok ? 'ok' : 'not ok'} ${i + 1} - ${tapDescription(`${c.scenario}: ${c.name}`)}`);
    // The YAML block is indented two spaces, between --- and ...; stringify quotes whatever needs it.
    const diag: Record<string, unknown> = { duration_ms: Math.round(c.seconds * 1000), message: c.message };
    if (!c.ok && c.detail) diag.detail = c.detail;
    out.push('  ---', ...stringify(diag).trimEnd().split('\n').map((l) => `  ${l}`), '  ...');
  });
  const failed = cases.filter((c) => !c.ok).length;
  out.push(`# tests ${cases.length}`, `# pass ${cases.length - failed}`, `# fail ${failed}`, '');
  return out.join('\n');
}
