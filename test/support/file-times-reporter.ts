/**
 * A reporter for Node's test runner (`--test-reporter=…/file-times-reporter.js`): the time of each test file — the
 * sum of its top-level tests and suites, which run one after another within a file — as one JSON object
 * { file: milliseconds } at the end. run-tiers.ts prints each tier's slowest files from it.
 */
interface TestEvent {
  type: string;
  data: { nesting?: number; file?: string; details?: { duration_ms?: number } };
}

export default async function* fileTimes(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const perFile: Record<string, number> = {};
  for await (const ev of source) {
    if ((ev.type === 'test:pass' || ev.type === 'test:fail') && ev.data.nesting === 0 && ev.data.file) {
      perFile[ev.data.file] = (perFile[ev.data.file] ?? 0) + (ev.data.details?.duration_ms ?? 0);
    }
  }
  yield `${JSON.stringify(perFile)}\n`;
}
