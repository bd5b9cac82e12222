/**
 * JUnit XML of lab's verdicts (verdicts.ts): <testsuites> → one <testsuite> per scenario → one <testcase> per
 * implementation × mode × point, with its time and, when it failed, a <failure> with the message and the detail.
 * The shape CI systems read (GitHub Actions test reporters, GitLab's `artifacts:reports:junit`, Jenkins).
 */
import type { VerdictCase } from './verdicts.js';

/**
 * Characters XML 1.0 allows in a document: tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF. Anything
 * else (other control characters such as a terminal's ESC, lone surrogates, U+FFFE/U+FFFF) cannot be escaped in
 * XML 1.0 at all — not even as a character reference — so it is written as visible text ("\u001b").
 */
const NOT_XML = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;

/** Text safe in an XML attribute value or element content. */
export function xmlEscape(text: string): string {
  return text
    .replace(NOT_XML, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    // kept in attributes as written (a parser would fold a raw newline into a space)
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

/** Element content: newlines stay newlines (readable in CI logs), everything else escaped as in attributes. */
function xmlText(text: string): string {
  return xmlEscape(text).replace(/&#10;/g, '\n');
}

const seconds = (s: number): string => (Number.isFinite(s) && s > 0 ? s.toFixed(3) : '0.000');

export function renderJunit(cases: readonly VerdictCase[], options: { name?: string; timestamp?: string } = {}): string {
  const suites = new Map<string, VerdictCase[]>();
  for (const c of cases) suites.set(c.scenario, [...(suites.get(c.scenario) ?? []), c]);
  const failures = cases.filter((c) => !c.ok).length;
  const total = cases.reduce((t, c) => t + c.seconds, 0);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(`<testsuites name="${xmlEscape(options.name ?? 'lab')}" tests="${cases.length}" failures="${failures}" errors="0" time="${seconds(total)}">`);
  for (const [scenario, list] of suites) {
    const f = list.filter((c) => !c.ok).length;
    const ts = options.timestamp ? ` timestamp="${xmlEscape(options.timestamp)}"` : '';
    out.push(`  <testsuite name="${xmlEscape(scenario)}" tests="${list.length}" failures="${f}" errors="0" skipped="0" time="${seconds(list.reduce((t, c) => t + c.seconds, 0))}"${ts}>`);
    for (const c of list) {
      const head = `    <testcase classname="lab.${xmlEscape(scenario)}" name="${xmlEscape(c.name)}" time="${seconds(c.seconds)}"`;
      if (c.ok) {
        out.push(`${head}>`, `      <system-out>${xmlText(c.message)}</system-out>`, '    </testcase>');
      } else {
        out.push(`${head}>`, `      <failure message="${xmlEscape(c.message)}" type="${c.mode === undefined ? 'error' : 'not-verified'}">${xmlText(c.detail ?? c.message)}</failure>`, '    </testcase>');
      }
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}
