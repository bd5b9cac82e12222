/**
 * JUnit XML and TAP of lab's verdicts. The XML is read back with a real XML parser (expat, through Debian's
 * /usr/bin/python3): it must be well-formed, and every name and message must come back as written — the characters
 * XML 1.0 cannot hold at all as visible "\uXXXX" text.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { renderJunit, xmlEscape } from '../../lab/report/junit.js';
import { renderTap, tapDescription } from '../../lab/report/tap.js';
import { verdictCases } from '../../lab/report/verdicts.js';
import type { RunRecord } from '../../lab/report/run-record.js';
import { currencyRun, mergesortSweep } from '../fixtures/report/records.js';

const run = promisify(execFile);

interface Parsed {
  suites: { name: string; tests: string; failures: string; cases: { classname: string; name: string; time: string; failure: { message: string; type: string; text: string } | null; out: string | null }[] }[];
  tests: string;
  failures: string;
}

/** Parse with expat and return the structure (attributes and text as the parser gives them). */
async function parseXml(xml: string): Promise<Parsed> {
  const py = `
import json, sys, xml.dom.minidom as m
d = m.parseString(sys.stdin.buffer.read())
root = d.documentElement
def text(e): return ''.join(n.data for n in e.childNodes if n.nodeType in (n.TEXT_NODE, n.CDATA_SECTION_NODE))
def one(e, tag):
    x = e.getElementsByTagName(tag)
    return x[0] if x else None
out = {'tests': root.getAttribute('tests'), 'failures': root.getAttribute('failures'), 'suites': []}
for s in root.getElementsByTagName('testsuite'):
    cases = []
    for c in s.getElementsByTagName('testcase'):
        f = one(c, 'failure'); o = one(c, 'system-out')
        cases.append({'classname': c.getAttribute('classname'), 'name': c.getAttribute('name'), 'time': c.getAttribute('time'),
                      'failure': {'message': f.getAttribute('message'), 'type': f.getAttribute('type'), 'text': text(f)} if f else None,
                      'out': text(o) if o else None})
    out['suites'].append({'name': s.getAttribute('name'), 'tests': s.getAttribute('tests'), 'failures': s.getAttribute('failures'), 'cases': cases})
print(json.dumps(out))
`;
  const child = run('/usr/bin/python3', ['-c', py], { maxBuffer: 16 * 1024 * 1024 });
  child.child.stdin!.end(xml);
  const { stdout } = await child;
  return JSON.parse(stdout) as Parsed;
}

const NASTY = 'a & b < c > d "q" \'s\' \u001b[31mred\u001b[0m \u0000nul \ud800lone \ufffe emoji 🐇 ]]> tab\tend\nline two\r\n';
const NASTY_BACK = 'a & b < c > d "q" \'s\' \\u001b[31mred\\u001b[0m \\u0000nul \\ud800lone \\ufffe emoji 🐇 ]]> tab\tend\nline two\r\n';

describe('verdicts as JUnit XML and TAP', () => {
  it('one case per scenario × implementation × mode × point; a failed verification fails every mode of its point', () => {
    const cases = verdictCases([{ scenario: 'mergesort', record: mergesortSweep }, { scenario: 'currency', record: currencyRun }]);
    assert.equal(cases.length, 3 * 2 + currencyRun.points.length * currencyRun.modes.length);
    assert.deepEqual(cases.slice(0, 2).map((c) => [c.scenario, c.impl, c.mode, c.name, c.ok]), [
      ['mergesort', 'lab', 'local', 'lab local n=1 size=100000', true],
      ['mergesort', 'lab', 'distributed', 'lab distributed n=1 size=100000', true],
    ]);
    // the time is what its samples took, warm-up included: 130 + 101 + 99 + 100 + 102 + 98 ms
    assert.equal(cases[0]!.seconds, 0.63);
    const failed = cases.filter((c) => !c.ok);
    assert.ok(failed.length > 0 && failed.every((c) => c.scenario === 'currency' && /^NOT verified: /.test(c.message)));
  });

  it('a scenario that recorded nothing is one failed case with its error; a stopped run fails its cases', () => {
    const stopped: RunRecord = { ...mergesortSweep, error: 'interrupted (Ctrl-C)' };
    const cases = verdictCases([{ scenario: 'echo', error: 'broker refused' }, { scenario: 'mergesort', record: stopped }]);
    assert.deepEqual(cases[0], { scenario: 'echo', name: 'echo', seconds: 0, ok: false, message: 'did not run: broker refused', detail: 'broker refused' });
    assert.ok(cases.slice(1).every((c) => !c.ok && c.message === 'run stopped: interrupted (Ctrl-C)'));
  });

  it('xmlEscape: the five entities, line breaks kept in attributes, what XML 1.0 cannot hold made visible', () => {
    assert.equal(xmlEscape(`<a href="x">&'</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
    assert.equal(xmlEscape('\u001b\u0000\ud800\ufffe'), '\\u001b\\u0000\\ud800\\ufffe');
    assert.equal(xmlEscape('🐇\t\n'), '🐇&#9;&#10;');
  });

  it('the XML parses (expat) and gives back every name and message as written', async () => {
    const xml = renderJunit(
      [
        { scenario: 'sc<1>', name: NASTY, seconds: 1.5, ok: true, message: NASTY },
        { scenario: 'sc<1>', name: 'lab distributed n=4', mode: 'distributed', seconds: 0.25, ok: false, message: NASTY, detail: NASTY },
        { scenario: 'echo', name: 'echo', seconds: 0, ok: false, message: 'did not run: x' },
      ],
      { timestamp: '2026-12-01T00:00:00.000Z' },
    );
    const p = await parseXml(xml);
    assert.equal(p.tests, '3');
    assert.equal(p.failures, '2');
    assert.deepEqual(p.suites.map((s) => [s.name, s.tests, s.failures]), [['sc<1>', '2', '1'], ['echo', '1', '1']]);
    const [ok, bad] = p.suites[0]!.cases;
    assert.equal(ok!.name, NASTY_BACK);
    assert.equal(ok!.classname, 'lab.sc<1>');
    assert.equal(ok!.time, '1.500');
    assert.equal(ok!.failure, null);
    // element text too: a CR is written as &#13; (a raw one would be read back as LF, XML 1.0 § 2.11)
    assert.equal(ok!.out, NASTY_BACK);
    assert.deepEqual(bad!.failure, { message: NASTY_BACK, type: 'not-verified', text: NASTY_BACK });
    assert.equal(p.suites[1]!.cases[0]!.failure!.type, 'error');
  });

  it('TAP 13: a plan, ok / not ok with escaped descriptions, a YAML block each, and the counts', () => {
    const tap = renderTap([
      { scenario: 'echo', name: 'lab local # 1', seconds: 0.0123, ok: true, message: 'verified: x' },
      { scenario: 'echo', name: 'lab distributed\nsecond line', seconds: 2, ok: false, message: 'NOT verified: y: "z"', detail: 'NOT verified: y: "z"\nrun r1' },
    ]);
    const lines = tap.split('\n');
    assert.deepEqual(lines.slice(0, 3), ['TAP version 13', '1..2', 'ok 1 - echo: lab local \\# 1']);
    assert.ok(lines.includes('not ok 2 - echo: lab distributed second line'));
    const blocks = [...tap.matchAll(/\n {2}---\n([\s\S]*?)\n {2}\.\.\./g)].map((m) => parse(m[1]!.replace(/^ {2}/gm, '')) as Record<string, unknown>);
    assert.deepEqual(blocks, [
      { duration_ms: 12, message: 'verified: x' },
      { duration_ms: 2000, message: 'NOT verified: y: "z"', detail: 'NOT verified: y: "z"\nrun r1' },
    ]);
    assert.deepEqual(lines.slice(-4), ['# tests 2', '# pass 1', '# fail 1', '']);
    assert.equal(tapDescription('a\\b#c'), 'a\\\\b\\#c');
  });
});
