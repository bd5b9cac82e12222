import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasCode } from '../../lab/errors.js';
import { parseDuration, parseRate, parseSchedule, scheduleEndMs } from '../../lab/faults/schedule.js';

const ISSUE = 'kill workers@HOST3 at 1s; partition HOST3 from HOST1 at 2s for 10s; restart rabbitmq at 5s; pause workers@HOST3 at 3s for 4s; slow HOST3 by 20ms at 1s for 5s';

test("the issue's schedule parses, ordered by start time (same start: written order)", () => {
  const f = parseSchedule(ISSUE);
  assert.deepEqual(
    f.map((x) => [x.kind, x.atMs, x.forMs]),
    [
      ['kill', 1000, undefined],
      ['slow', 1000, 5000],
      ['partition', 2000, 10_000],
      ['pause', 3000, 4000],
      ['restart', 5000, undefined],
    ],
  );
  assert.deepEqual(f[0]!.service, { service: 'workers', host: 'HOST3' });
  assert.deepEqual([f[1]!.host, f[1]!.delayMs], ['HOST3', 20]);
  assert.deepEqual([f[2]!.host, f[2]!.from], ['HOST3', 'HOST1']);
  assert.deepEqual(f[4]!.service, { service: 'rabbitmq' });
  assert.equal(f[3]!.text, 'pause workers@HOST3 at 3s for 4s');
  assert.equal(scheduleEndMs(f), 12_000);
});

test('a file: one statement per line, comments, a rate', () => {
  const f = parseSchedule('# warm up first\nslow HOST3 by 50ms rate 1mbit at 500ms for 2s  # the uplink\n\npause redis@HOST2 at 1.5s\n');
  assert.equal(f.length, 2);
  assert.deepEqual([f[0]!.delayMs, f[0]!.rateBytesPerS, f[0]!.atMs, f[0]!.forMs], [50, 125_000, 500, 2000]);
  assert.deepEqual([f[1]!.service, f[1]!.atMs, f[1]!.forMs], [{ service: 'redis', host: 'HOST2' }, 1500, undefined]);
});

function message(source: string, where = ''): string {
  try {
    parseSchedule(source, where);
  } catch (err) {
    assert.ok(hasCode(err, 'E_FAULT_SCHEDULE'), String(err));
    assert.equal(err.exitCode, 2);
    return err.message;
  }
  assert.fail(`${JSON.stringify(source)} parsed`);
}

test('mistakes name line:column and the bad token', () => {
  assert.equal(message('kill workers@HOST3 at soon'), '1:23: expected a duration like 2s or 500ms after "at", got "soon"');
  assert.equal(message('explode HOST3 at 1s', 'faults.txt:'), 'faults.txt:1:1: expected a fault kind (kill, restart, pause, partition, slow), got "explode"');
  assert.equal(message('kill workers@HOST3 at 1s\npartition HOST3 at 2s'), '2:17: expected "from", got "at"');
  assert.equal(message('kill workers@HOST3 at 1s for 2s'), '1:26: expected the end of the statement: kill is an instant (the supervisor restarts the service); hold a service down with "pause", got "for"');
  assert.equal(message('pause workers@HOST3 at 1s for'), '1:30: expected a duration like 2s or 500ms after "for", the statement ended');
  assert.equal(message('pause workers@HOST3 at 1s until 2s'), '1:27: expected "for" or the end of the statement, got "until"');
  assert.equal(message('slow HOST3 by 20ms rate fast at 1s'), '1:25: expected a bandwidth like 1mbit or 100kbit after "rate", got "fast"');
  assert.equal(message('partition HOST3 from HOST3 at 1s'), '1:22: expected another host than the first, got "HOST3"');
  assert.equal(message('pause @x at 1s'), '1:7: expected a service like workers@HOST3 or rabbitmq, got "@x"');
  assert.equal(message(' ; # nothing'), 'expected at least one fault like "kill workers@HOST3 at 1s", got nothing');
});

test('durations and rates', () => {
  assert.deepEqual(['250ms', '2s', '1.5s', '3m', '1h', '2', 's', '-1s', '1d'].map(parseDuration), [250, 2000, 1500, 180_000, 3_600_000, null, null, null, null]);
  assert.deepEqual(['100kbit', '1mbit', '64kbps', '1MBIT', 'fast', '0mbit'].map(parseRate), [12_500, 125_000, 64_000, 125_000, null, null]);
});
