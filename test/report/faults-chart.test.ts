import assert from 'node:assert/strict';
import { test } from 'node:test';
import { faultsChart } from '../../lab/report/faults-chart.js';
import type { RunRecord } from '../../lab/report/run-record.js';

const T0 = 1_800_000_000_000;

function record(withFaults: boolean): RunRecord {
  const perSecond = [0, 1, 2, 3].map((i) => ({ second: T0 / 1000 + i, sent: 10, done: i === 2 ? 0 : 10, duplicated: i === 3 ? 2 : 0, lost: 0, late: i === 2 ? 10 : 0 }));
  return {
    scenario: 'ledger',
    points: [{ params: {}, samples: [], stats: {}, verify: { ok: true, detail: '' }, output: { perSecond } }],
    ...(withFaults
      ? {
          faults: {
            schedule: 'pause workers@HOST3 at 1s for 1s; kill redis at 2s; partition HOST3 from HOST1 at 3s',
            t0: T0,
            startedAt: new Date(T0).toISOString(),
            timeline: [
              { id: 'a', kind: 'pause', text: 'pause workers@HOST3 at 1s for 1s', applied: [], mechanism: 'signals', startedAt: '', healedAt: '', atMs: 1000, startMs: 1000, endMs: 2000 },
              { id: 'b', kind: 'kill', text: 'kill redis at 2s', applied: [], mechanism: 'signals', startedAt: '', healedAt: '', atMs: 2000, startMs: 2000, endMs: 2000, recoveryMs: 1500 },
              { id: '', kind: 'partition', text: 'partition HOST3 from HOST1 at 3s', applied: [], mechanism: '', startedAt: '', healedAt: null, atMs: 3000, startMs: 3000, endMs: 3000, error: 'refused' },
            ],
          },
        }
      : {}),
  } as unknown as RunRecord;
}

test('the faults chart: done per second with duplicates stacked, a band per applied fault (an instant until the service was back)', () => {
  const svg = faultsChart(record(true));
  assert.match(svg, /data-chart="faults"/);
  assert.equal((svg.match(/fill="#4e79a7"/g) ?? []).length, 4 + 1, 'one bar per second, plus the legend swatch');
  assert.equal((svg.match(/fill="#f28e2b"/g) ?? []).length, 1 + 1, 'one duplicated bar, plus the legend swatch');
  assert.match(svg, /<title>pause workers@HOST3 at 1s for 1s: 1\.0 s → 2\.0 s<\/title>/);
  assert.match(svg, /<title>kill redis at 2s: 2\.0 s → 3\.5 s; back after 1\.50 s<\/title>/);
  assert.doesNotMatch(svg, /partition HOST3/, 'a fault that was not applied has no band');
});

test('no chart without faults, or without per-second counts', () => {
  assert.equal(faultsChart(record(false)), '');
  const r = record(true);
  r.points[0]!.output = { replies: 3 };
  assert.equal(faultsChart(r), '');
});
