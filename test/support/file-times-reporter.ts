/**
 * A reporter for Node's test runner (`--test-reporter=…/file-times-reporter.js`) that run-tiers.ts reads: the time
 * of each test file — the sum of its top-level tests and suites, which run one after another within a file — and
 * the runner's closing counts (tests, pass, fail, cancelled, skipped, todo), as one JSON object at the end.
 */
interface TestEvent {
  type: string;
  data: { nesting?: number; file?: string; message?: string; details?: { duration_ms?: number } };
}

export interface TierReport {
  files: Record<string, number>;
  counts: Record<string, number>;
}

export default async function* fileTimes(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const report: TierReport = { files: {}, counts: {} };
  for await (const ev of source) {
    const d = ev.data;
    if ((ev.type === 'test:pass' || ev.type === 'test:fail') && d.nesting === 0 && d.file) {
      report.files[d.file] = (report.files[d.file] ?? 0) + (d.details?.duration_ms ?? 0);
    }
    // the runner's summary ("tests 24", "pass 24", …): what TAP prints as "# tests 24"
    const m = ev.type === 'test:diagnostic' && d.nesting === 0 ? /^(tests|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(d.message ?? '') : null;
    if (m) report.counts[m[1]!] = Number(m[2]);
  }
  yield `${JSON.stringify(report)}\n`;
}
